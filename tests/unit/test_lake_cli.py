"""`exhaust lake generate` as a user runs it."""

from __future__ import annotations

import json

from exhaust.lake.store import Lake
from exhaust_devkit.cli import main
from exhaust_devkit.lake.cli import SCALE_NAMES
from exhaust_devkit.lake.generator import SCALES


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


def test_index_rewrites_the_extract_the_builders_need_after_new_enrolments(tmp_path, capsys):
    import datetime as dt

    import pyarrow as pa
    import pytest
    from exhaust.builders import BatchBuild, build_batch_zip
    from exhaust.lake import schemas
    from exhaust.lake.extracts import LakeNotIndexed

    out = tmp_path / "lake"
    main(["lake", "generate", "--scale", "tiny", "--seed", "5", "--out", str(out), "--today", "2026-11-20"])
    samples = json.loads(capsys.readouterr().out)["samples"]
    lake = Lake.open(str(out))
    enrolments = lake.read("enrolments")
    extra = enrolments.filter(pa.compute.equal(enrolments["batch_id"], samples["progressBatchId"])).slice(0, 1)
    extra = extra.set_column(1, schemas.ENROLMENTS.field("user_id"), pa.array(["zz-new-user"]))
    lake.write("enrolments", pa.concat_tables([enrolments, extra]).cast(schemas.ENROLMENTS))
    build = BatchBuild(
        "progress-exhaust", samples["progressBatchId"], samples["channel"], "pw", str(out), dt.date(2026, 11, 20)
    )

    with pytest.raises(LakeNotIndexed, match="exhaust lake index"):
        build_batch_zip(build, tmp_path / "stale.zip")
    assert main(["lake", "index", "--lake", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["batch_users"] == enrolments.num_rows + 1
    summary = build_batch_zip(build, tmp_path / "fresh.zip")
    assert (
        summary.rows
        == extra.num_rows
        + enrolments.filter(pa.compute.equal(enrolments["batch_id"], samples["progressBatchId"])).num_rows
    )
