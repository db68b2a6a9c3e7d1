"""`datapackage.json`: a Frictionless Data Package describing the export, which CKAN can import as metadata.

It names the one resource of the zip, its format and Table Schema, the filters that produced it, the row count
and the file's sha256, so an export says what it holds without reading it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from exhaust.export.fields import Field

PACKAGE_NAME = "observations-export"
RESOURCE_NAME = "observations"


def descriptor(
    *,
    fields: Sequence[Field],
    path: str,
    export_format: str,
    media_type: str,
    rows: int,
    file_bytes: int,
    sha256: str,
    filters: dict[str, Any],
    created: dt.datetime,
) -> dict[str, Any]:
    tabular = export_format == "CSV"
    return {
        "profile": "tabular-data-package" if tabular else "data-package",
        "name": PACKAGE_NAME,
        "title": "Observations exported from the data lake",
        "description": "Time series observations (producer type, metric, unit, value), filtered as "
        "'filters' says. Times are UTC.",
        "created": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "filters": filters,
        "resources": [
            {
                "profile": "tabular-data-resource" if tabular else "data-resource",
                "name": RESOURCE_NAME,
                "path": path,
                "format": export_format.lower(),
                "mediatype": media_type,
                "encoding": "utf-8",
                "bytes": file_bytes,
                "hash": f"sha256:{sha256}",
                "rows": rows,
                "schema": {
                    "fields": [
                        {"name": field.id, "type": field.table_type, "description": field.description}
                        for field in fields
                    ],
                    "primaryKey": [fields[0].id],
                },
            }
        ],
    }
