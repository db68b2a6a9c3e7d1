"""`exhaust lake generate` as a user runs it."""

from __future__ import annotations

import json

from exhaust.cli import main
from exhaust.lake.cli import SCALE_NAMES
from exhaust.lake.generator import SCALES
from exhaust.lake.store import Lake


def test_generate_writes_the_lake_and_prints_its_samples(tmp_path, capsys):
    out = tmp_path / "lake"
    code = main(["lake", "generate", "--scale", "tiny", "--seed", "5", "--out", str(out), "--today", "2026-11-20"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    samples = printed["samples"]
    assert samples["channel"] == "local-channel"
    enrolments = Lake.open(str(out)).read("enrolments", ["batch_id"], equals={"batch_id": samples["progressBatchId"]})
    assert enrolments.num_rows > 0


def test_cli_offers_exactly_the_generators_scales():
    assert tuple(SCALES) == SCALE_NAMES
