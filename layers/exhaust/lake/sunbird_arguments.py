"""The arguments of the Sunbird load, shared by `exhaust lake load-sunbird` and the job's own entry point
(`python -m exhaust.lake.sunbird_load`): no pyarrow here, so `exhaust --help` stays light."""

from __future__ import annotations

import argparse

SUNBIRD_EXPORT_FORMATS = ("parquet", "csv")
SUNBIRD_PART_ROWS = 1_000_000


def add_sunbird_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--export", required=True, help="the Sunbird export: a directory or s3://bucket/prefix")
    parser.add_argument("--lake", required=True, help="the lake root: a directory or s3://bucket/prefix")
    parser.add_argument(
        "--format", choices=SUNBIRD_EXPORT_FORMATS, default="parquet", help="the export's file format (parquet)"
    )
    parser.add_argument(
        "--data-available-until",
        help="the ISO 8601 instant (with its offset) the export is complete up to: written as the completeness marker",
    )
    parser.add_argument(
        "--part-rows", type=int, default=SUNBIRD_PART_ROWS, help=f"rows per part file ({SUNBIRD_PART_ROWS:,})"
    )
