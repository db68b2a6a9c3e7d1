"""`exhaust lake generate --scale platform --enrolments N`: the platform's shape, deterministic, in part files."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pyarrow.parquet as pq
from exhaust.lake.store import Lake
from exhaust_devkit.cli import main
from exhaust_devkit.lake.platform_generator import generate_platform, plan


def test_batch_sizes_are_skewed_as_on_the_platform():
    shape = plan(10_000_000, 1, "ch")
    sizes = shape.sizes
    assert sum(sizes) == 10_000_000
    assert len(shape.courses) > 1_000
    assert len(sizes) > 10_000
    assert sum(size < 500 for size in sizes) / len(sizes) > 0.9  # most batches are small
    assert 5 <= sum(size > 100_000 for size in sizes) <= 40  # a few are huge


def test_the_lake_is_the_same_for_the_same_seed_and_streams_in_sorted_part_files(tmp_path, monkeypatch):
    from exhaust_devkit.lake import platform_generator

    monkeypatch.setattr(platform_generator, "PART_ROWS", 1_000)  # several part files from a small lake
    first = generate_platform(4_000, 3, str(tmp_path / "a"))
    generate_platform(4_000, 3, str(tmp_path / "b"))
    assert first["enrolments"] == 4_000
    for table in ("users", "enrolments", "assessment_attempts", "consents", "registration_consents"):
        files_a = sorted((tmp_path / "a" / table).glob("*.parquet"))
        assert files_a, table
        assert [file.read_bytes() for file in files_a] == [
            file.read_bytes() for file in sorted((tmp_path / "b" / table).glob("*.parquet"))
        ]

    lake = Lake.open(str(tmp_path / "a"))
    files = lake.files("enrolments")
    assert len(files) >= 4
    ranges = []
    for path, metadata in files:
        keys = pq.read_table(path, columns=["batch_id", "user_id"]).to_pylist()
        assert keys == sorted(keys, key=lambda row: (row["batch_id"], row["user_id"]))
        for index in range(metadata.num_row_groups):  # each batch in row groups of its own
            group = pq.ParquetFile(path).read_row_group(index, columns=["batch_id"])["batch_id"]
            assert len(set(group.to_pylist())) == 1
        ranges.append((keys[0]["batch_id"], keys[-1]["batch_id"]))
    assert all(last < first for (_, last), (first, _) in itertools.pairwise(ranges))

    enrolled = Counter(lake.read("enrolments", ["user_id"])["user_id"].to_pylist())
    assert sum(count > 1 for count in enrolled.values()) > len(enrolled) / 2  # users in several batches
    assert lake.count("assessment_attempts") > 0
    assert lake.count("consents") > 0
    assert lake.read("users", ["user_id"]).num_rows == first["users"]


def test_the_cli_needs_enrolments_for_the_platform_scale_only(tmp_path, capsys):
    assert main(["lake", "generate", "--scale", "platform", "--out", str(tmp_path / "p")]) == 2
    assert "--enrolments" in capsys.readouterr().err
    assert main(["lake", "generate", "--scale", "tiny", "--enrolments", "5", "--out", str(tmp_path / "t")]) == 2
    assert main(["lake", "generate", "--scale", "platform", "--enrolments", "500", "--out", str(tmp_path / "p")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["scale"], printed["enrolments"]) == ("platform", 500)
    assert main(["lake", "index", "--lake", str(tmp_path / "p")]) == 0
    assert json.loads(capsys.readouterr().out)["batch_users"] == 500
