"""CKAN's datastore dump formats, written row by row to a binary stream (a zip entry), never held whole.

- CSV: a header row of the field ids, then one row per record (RFC 4180 quoting, CRLF), as `datastore/dump` does.
- JSON: `{"fields": [{"id", "type"}...], "records": [[...], ...]}`, records as value lists in field order, as the
  dump writes them (its `records_format=lists`).
- XML: `<data xmlns:xsi=...>` holding one `<row _id="n">` per record, a child element per field; a null value is
  an empty element with `xsi:nil="true"`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True)
class Field:
    id: str
    ckan_type: str  # the datastore type CKAN's dumps name
    table_type: str  # the Frictionless Table Schema type
    description: str


Row = Sequence[Any]

# One encoder for every record: json.dumps with options builds a new one per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class DumpWriter:
    extension = ""
    media_type = ""

    def __init__(self, output: io.RawIOBase, fields: Sequence[Field]):
        self.output = output
        self.fields = fields

    def begin(self) -> None: ...

    def write_rows(self, rows: Sequence[Row]) -> None:
        raise NotImplementedError

    def end(self) -> None: ...


class CsvWriter(DumpWriter):
    extension = "csv"
    media_type = "text/csv"

    def _write(self, rows: Sequence[Row]) -> None:
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        self.output.write(text.getvalue().encode("utf-8"))

    def begin(self) -> None:
        self._write([[field.id for field in self.fields]])

    def write_rows(self, rows: Sequence[Row]) -> None:
        self._write([["" if value is None else value for value in row] for row in rows])


class JsonWriter(DumpWriter):
    extension = "json"
    media_type = "application/json"

    def begin(self) -> None:
        fields = json.dumps([{"id": field.id, "type": field.ckan_type} for field in self.fields])
        self.output.write(f'{{\n  "fields": {fields},\n  "records": ['.encode())
        self._first = True

    def write_rows(self, rows: Sequence[Row]) -> None:
        parts = []
        for row in rows:
            parts.append(("\n    " if self._first else ",\n    ") + _ENCODE(list(row)))
            self._first = False
        self.output.write("".join(parts).encode("utf-8"))

    def end(self) -> None:
        self.output.write(b"\n]}\n")


class XmlWriter(DumpWriter):
    extension = "xml"
    media_type = "application/xml"

    def begin(self) -> None:
        self.output.write(f"<data xmlns:xsi={quoteattr(XSI_NAMESPACE)}>\n".encode())

    def write_rows(self, rows: Sequence[Row]) -> None:
        parts = []
        for row in rows:
            parts.append(f"<row _id={quoteattr(str(row[0]))}>")
            for field, value in zip(self.fields[1:], row[1:], strict=True):
                if value is None:
                    parts.append(f'<{field.id} xsi:nil="true" />')
                else:
                    parts.append(f"<{field.id}>{escape(_NOT_XML.sub('', str(value)))}</{field.id}>")
            parts.append("</row>\n")
        self.output.write("".join(parts).encode("utf-8"))

    def end(self) -> None:
        self.output.write(b"</data>\n")


WRITERS: dict[str, type[DumpWriter]] = {"CSV": CsvWriter, "JSON": JsonWriter, "XML": XmlWriter}
