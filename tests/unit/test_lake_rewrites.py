"""Rewriting a lake table keeps the previous one readable until the new one is complete (an index run in S3
while requests build: the object is replaced when its upload completes)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from exhaust.lake import schemas
from exhaust.lake.store import Lake
from exhaust_devkit.lake.metering import CountingHandler

from tests.unit.handmade_lake import CHANNEL, CONSENTS, at, consent


class ObjectStoreHandler(CountingHandler):
    """Local files with an object store's writes: an object appears, or replaces the old one, when it is closed.
    Records the table's files a reader would have found when each upload began."""

    def __init__(self) -> None:
        super().__init__()
        self.found_at_upload: list[list[str]] = []

    def open_output_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        directory = path.rsplit("/", 1)[0]
        listed = self.local.get_file_info(pafs.FileSelector(directory, allow_not_found=True))
        self.found_at_upload.append(sorted(info.base_name for info in listed))
        local = self.local

        class Upload(io.BytesIO):
            def close(self) -> None:
                if not self.closed:
                    with local.open_output_stream(f"{path}.part") as part:
                        part.write(self.getvalue())
                    local.move(f"{path}.part", path)
                super().close()

        return pa.PythonFile(Upload(), mode="w")


def test_a_rewritten_table_stays_readable_during_the_upload_and_loses_its_other_files(tmp_path: Path) -> None:
    handler = ObjectStoreHandler()
    lake = Lake(pafs.PyFileSystem(handler), str(tmp_path))
    first = pa.Table.from_pylist(CONSENTS, schema=schemas.CONSENTS)
    lake.write("consents", first)
    # A second file of the table, as a loader writing several parts leaves it.
    extra = tmp_path / "consents" / "part-00001.parquet"
    extra.write_bytes((tmp_path / "consents" / "part-00000.parquet").read_bytes())

    revoked = [*CONSENTS, consent("u1", CHANNEL, "REVOKED", at("2026-10-30"))]
    Lake(pafs.PyFileSystem(handler), str(tmp_path)).write(
        "consents", pa.Table.from_pylist(revoked, schema=schemas.CONSENTS)
    )

    assert handler.found_at_upload[-1] == ["part-00000.parquet", "part-00001.parquet"]  # nothing removed before
    assert sorted(path.name for path in (tmp_path / "consents").iterdir()) == ["part-00000.parquet"]
    assert Lake.open(str(tmp_path)).read("consents").num_rows == len(revoked)
