"""The `answers` scale (issue 17): the legacy and export volume, in the shapes of the other scales.

Generated here with a few events a day (the real scale writes 100,000 of each a day: bench/bench_answers.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from exhaust.lake.store import Lake
from exhaust_devkit.lake import generator
from exhaust_devkit.lake.generator import OBSERVATION_KINDS, SCALES, generate

TODAY = dt.date(2026, 11, 20)
EVENTS_PER_DAY = 9
OBSERVATIONS_PER_DAY = 8


def test_the_answers_scale_is_the_issues_volume():
    scale = SCALES["answers"]
    assert (scale.telemetry_per_day, scale.observations_per_day) == (100_000, 100_000)
    assert scale.observations_per_day * generator.OBSERVATION_DAYS == 6_000_000


@pytest.fixture(scope="module")
def answers_lake(tmp_path_factory):
    small = dataclasses.replace(
        SCALES["answers"], telemetry_per_day=EVENTS_PER_DAY, observations_per_day=OBSERVATIONS_PER_DAY
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(SCALES, "answers", small)
        roots = [str(tmp_path_factory.mktemp(f"answers-{n}")) for n in (1, 2)]
        samples = [generate("answers", 3, root, today=TODAY) for root in roots]
    return [Lake.open(root) for root in roots], samples[0]


def test_every_day_holds_the_partners_events_whose_json_says_what_the_columns_say(answers_lake):
    (lake, _), samples = answers_lake
    telemetry = lake.read("telemetry").to_pylist()
    mine = [row for row in telemetry if row["partner_id"] == samples["partnerId"]]
    days = {row["event_date"] for row in mine}
    assert len(days) == generator.TELEMETRY_DAYS
    assert max(days) == TODAY - dt.timedelta(days=1)
    assert len(mine) == EVENTS_PER_DAY * generator.TELEMETRY_DAYS
    assert len({row["event_id"] for row in telemetry}) == len(telemetry)
    for row in telemetry:
        event = json.loads(row["event_json"])
        assert event["mid"] == row["event_id"]
        assert event["eid"] == row["eid"]
        assert event["ets"] == int(row["ets"].timestamp() * 1000)
        assert row["ets"].date() == row["event_date"]
        assert event["actor"]["id"] == row["actor_id"]
        assert event["object"]["id"] == row["content_id"]
        assert event["context"] == {"channel": row["channel"], "sid": row["session_id"],
                                    "pdata": {"id": row["partner_id"]}}  # fmt: skip
        assert event["edata"] == ({"duration": row["duration_seconds"]} if row["eid"] == "END"
                                  else {"type": row["eid"].lower()})  # fmt: skip


def test_observations_are_of_the_usual_kinds_every_day(answers_lake):
    (lake, _), _ = answers_lake
    rows = lake.read("observations").to_pylist()
    assert len(rows) == OBSERVATIONS_PER_DAY * generator.OBSERVATION_DAYS
    ranges = {(kind, metric, unit): (low, high) for kind, metric, unit, low, high in OBSERVATION_KINDS}
    for row in rows:
        low, high = ranges[(row["producer_type"], row["metric"], row["unit"])]
        assert low <= row["value"] <= high


def test_the_same_seed_gives_the_same_lake(answers_lake):
    (lake, again), _ = answers_lake
    for table in ("telemetry", "observations", "users"):
        assert lake.read(table).equals(again.read(table)), table
