"""Write the lake's course directory (exhaust.auth.directory reads it): per channel, courses and their batches.

Derived from the collections and batches tables by `exhaust lake index` and the scheduled indexer. It records the
two tables' files (`_directory/_sources.json`), so the indexer rewrites it when a load changed either.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pyarrow.fs as pafs

from exhaust.auth.directory import DIRECTORY_FOLDER, course_to_document, document_key
from exhaust.auth.scope import Batch, Course
from exhaust.lake.store import Lake

SOURCES = ("collections", "batches")
SOURCES_DOCUMENT = f"{DIRECTORY_FOLDER}/_sources.json"
COURSE_DIRECTORY = "course_directory"


def _listing(lake: Lake) -> dict[str, list[list[Any]]]:
    return {table: [list(entry) for entry in lake.listing(table)] for table in SOURCES}


def directory_staleness(lake: Lake) -> str | None:
    """Why the directory must be written again (missing, or its source tables changed), or None."""
    try:
        with lake.filesystem.open_input_stream(f"{lake.root}/{SOURCES_DOCUMENT}") as source:
            recorded = json.loads(source.read())
    except (FileNotFoundError, OSError):
        return "missing"
    return None if recorded == _listing(lake) else "collections or batches changed"


def courses_by_channel(lake: Lake) -> dict[str, list[Course]]:
    """Every channel's collections with their batches, by collection id and batch id."""
    batches_of: dict[str, list[Batch]] = defaultdict(list)
    columns = ["batch_id", "collection_id", "name", "start_date", "end_date", "created_by", "mentors"]
    for row in lake.read("batches", columns).to_pylist():
        batches_of[row["collection_id"]].append(
            Batch(
                batch_id=row["batch_id"],
                name=row["name"] or "",
                created_by=row["created_by"],
                mentors=tuple(row["mentors"] or ()),
                start_date=row["start_date"].isoformat() if row["start_date"] else None,
                end_date=row["end_date"].isoformat() if row["end_date"] else None,
            )
        )
    found: dict[str, list[Course]] = defaultdict(list)
    columns = ["collection_id", "name", "channel", "content_type", "status"]
    for row in sorted(lake.read("collections", columns).to_pylist(), key=lambda row: row["collection_id"]):
        batches = sorted(batches_of.get(row["collection_id"], ()), key=lambda batch: batch.batch_id)
        found[row["channel"] or ""].append(
            Course(
                course_id=row["collection_id"],
                name=row["name"] or "",
                content_type=row["content_type"] or "",
                status=row["status"] or "",
                batches=tuple(batches),
            )
        )
    return found


def write_directory(lake: Lake) -> int:
    """Write every channel's document (and remove those of channels gone); answer how many courses it lists."""
    sources = _listing(lake)  # before reading: a load during the write shows as a change
    channels = {channel: courses for channel, courses in courses_by_channel(lake).items() if channel}
    folder = f"{lake.root}/{DIRECTORY_FOLDER}"
    lake.filesystem.create_dir(folder, recursive=True)
    for channel, courses in channels.items():
        document = {"channel": channel, "courses": [course_to_document(course) for course in courses]}
        with lake.filesystem.open_output_stream(f"{lake.root}/{document_key(channel)}") as sink:
            sink.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    wanted = {f"{channel}.json" for channel in channels}
    for info in lake.filesystem.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
        document = info.type == pafs.FileType.File and info.base_name.endswith(".json")
        if document and not info.base_name.startswith("_") and info.base_name not in wanted:
            lake.filesystem.delete_file(info.path)
    with lake.filesystem.open_output_stream(f"{lake.root}/{SOURCES_DOCUMENT}") as sink:
        sink.write(json.dumps(sources).encode("utf-8"))
    return sum(len(courses) for courses in channels.values())
