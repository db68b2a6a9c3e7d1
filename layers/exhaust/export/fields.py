"""A field of the export: its id and types, for the dump writers and the data package (no pyarrow here, so the
handler's cold start stays light)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    id: str
    ckan_type: str  # the datastore type CKAN's dumps name
    table_type: str  # the Frictionless Table Schema type
    description: str
