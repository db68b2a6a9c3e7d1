"""The file names of a batch's zip and CSV (seed 002's appendix)."""

from __future__ import annotations

import datetime as dt

from exhaust.builders.errors import UnknownDataset

DATASET_SUFFIXES = {
    "progress-exhaust": "progress",
    "userinfo-exhaust": "userinfo",
    "response-exhaust": "response",
    "org-pii-exhaust": "org-pii",
}


def file_stem(dataset_id: str, batch_id: str, date: dt.date) -> str:
    """`{batchId}_{progress|userinfo|response}_{yyyyMMdd}`, the name of the CSV and (with .zip) of its zip."""
    if dataset_id not in DATASET_SUFFIXES:
        raise UnknownDataset(f"Unknown dataset {dataset_id}")
    return f"{batch_id}_{DATASET_SUFFIXES[dataset_id]}_{date:%Y%m%d}"
