"""CKAN's datastore dump formats, written a record batch at a time to a binary stream (a zip entry).

- CSV: a header row of the field ids, then one row per record (RFC 4180 quoting, CRLF), as `datastore/dump` does.
- JSON: `{"fields": [{"id", "type"}...], "records": [[...], ...]}`, records as value lists in field order, as the
  dump writes them (its `records_format=lists`).
- XML: `<data xmlns:xsi=...>` holding one `<row _id="n">` per record, a child element per field; a null value is
  an empty element with `xsi:nil="true"`.

A batch is encoded column-wise with Arrow compute kernels (quoting, escaping and joining whole columns), which is
an order of magnitude faster than formatting values one by one in Python and releases the GIL, so batches can be
encoded in threads (`encode` is pure; `write_encoded` keeps the order). The text is exactly what Python's csv and
json modules and xml.sax.saxutils write: numbers in Python's repr form (values outside the range where Arrow's
shortest form is the same are formatted by Python), the same escapes, the same separators.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.export.fields import Field
from exhaust.lake.text import text_bytes

Row = Sequence[Any]

# One encoder for every value: json.dumps with options builds a new one per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
# Characters XML 1.0 cannot carry at all, even escaped (RE2 syntax, for Arrow).
NOT_XML = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"
# Fields Python's csv module quotes under QUOTE_MINIMAL: holding the delimiter, the quote or a line break.
CSV_NEEDS_QUOTES = r'[",\r\n]'
# Control characters json escapes as \u00XX (the others have short escapes, replaced column-wise).
JSON_RARE_CONTROLS = r"[\x00-\x07\x0b\x0e-\x1f]"
JSON_SHORT_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
                      ("\x08", "\\b"), ("\x0c", "\\f"))  # fmt: skip
# Arrow's shortest float form equals Python's repr (once "40" becomes "40.0") for 0 and 1e-4 <= |x| < 1e10;
# outside that range Arrow switches to exponents at other points, and nan/inf are spelled differently.
REPR_SAFE_LOW, REPR_SAFE_HIGH = 1e-4, 1e10


def _text_of_floats(column: pa.Array, python_form: Callable[[float], str]) -> pa.Array:
    text = pc.cast(column, pa.string())
    # Inside the safe range Arrow writes no exponent: no "." means an integral value, which Python ends in ".0".
    text = pc.if_else(pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".0", ""))
    magnitude = pc.abs(column)
    safe = pc.or_(
        pc.equal(column, 0.0),
        pc.and_(pc.greater_equal(magnitude, REPR_SAFE_LOW), pc.less(magnitude, REPR_SAFE_HIGH)),
    )
    unsafe = pc.fill_null(pc.invert(safe), False)
    if pc.any(unsafe).as_py():
        others = [python_form(value) for value in pc.filter(column, unsafe).to_pylist()]
        text = pc.replace_with_mask(text, unsafe, pa.array(others, pa.string()))
    return text


def _text_of(column: pa.Array, python_form: Callable[[float], str]) -> pa.Array:
    """A column's values as Python writes them (None stays null), before any format's quoting."""
    kind = column.type
    if pa.types.is_floating(kind):
        return _text_of_floats(column, python_form)
    if pa.types.is_null(kind):
        return pa.nulls(len(column), pa.string())
    return pc.cast(column, pa.string())


def _is_text(column: pa.Array) -> bool:
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _per_distinct(encode: Callable[[pa.Array], pa.Array], column: pa.Array) -> pa.Array:
    """`encode` of a text column; of a dictionary-encoded one, only its distinct values, then taken per row."""
    if pa.types.is_dictionary(column.type):
        return pc.take(encode(column.dictionary), column.indices)
    return encode(column)


def _join(pieces: Sequence[pa.Array | str], separator: str = "") -> pa.Array:
    return pc.binary_join_element_wise(*pieces, separator)


class ByteSink(Protocol):
    """Where a writer's bytes go: a file, a zip entry, io.BytesIO."""

    def write(self, data: bytes | memoryview, /) -> object: ...


class DumpWriter:
    extension = ""
    media_type = ""

    def __init__(self, output: ByteSink, fields: Sequence[Field]):
        self.output = output
        self.fields = fields

    def begin(self) -> None: ...

    def encode(self, batch: pa.RecordBatch) -> memoryview:
        """The batch's records as this format's bytes (thread-safe: reads nothing but its argument)."""
        raise NotImplementedError

    def write_encoded(self, data: memoryview) -> None:
        self.output.write(data)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        """A batch whose columns are the fields, in order (times already as text)."""
        self.write_encoded(self.encode(batch))

    def write_rows(self, rows: Sequence[Row]) -> None:
        columns = [pa.array(list(values)) for values in zip(*rows, strict=True)] if rows else []
        if columns:
            self.write_batch(pa.RecordBatch.from_arrays(columns, names=[field.id for field in self.fields]))

    def end(self) -> None: ...


def _is_iso_time(field: Field) -> bool:
    """Table Schema datetimes come as ISO 8601 text: digits and `-:.TZ`, nothing to quote or escape."""
    return field.table_type == "datetime"


def _csv_quoted(text: pa.Array) -> pa.Array:
    quoted = _join(['"', pc.replace_substring(text, '"', '""'), '"'])
    return pc.if_else(pc.match_substring_regex(text, CSV_NEEDS_QUOTES), quoted, text)


class CsvWriter(DumpWriter):
    extension = "csv"
    media_type = "text/csv"

    def begin(self) -> None:
        text = io.StringIO()
        csv.writer(text).writerow([field.id for field in self.fields])
        self.output.write(text.getvalue().encode("utf-8"))

    def encode(self, batch: pa.RecordBatch) -> memoryview:
        cells = []
        for field, column in zip(self.fields, batch.columns, strict=True):
            if _is_text(column) and not _is_iso_time(field):
                text = _per_distinct(_csv_quoted, column)
            else:
                text = _text_of(column, repr)
            cells.append(pc.fill_null(text, ""))
        return text_bytes(_join([_join(cells, ","), "\r\n"]))


def _json_strings(column: pa.Array) -> pa.Array:
    if pc.any(pc.match_substring_regex(column, JSON_RARE_CONTROLS)).as_py():
        return pa.array([None if value is None else _ENCODE(value) for value in column.to_pylist()], pa.string())
    for character, escaped in JSON_SHORT_ESCAPES:
        column = pc.replace_substring(column, character, escaped)
    return _join(['"', column, '"'])


class JsonWriter(DumpWriter):
    extension = "json"
    media_type = "application/json"
    RECORD_SEPARATOR = ",\n    "

    def begin(self) -> None:
        fields = json.dumps([{"id": field.id, "type": field.ckan_type} for field in self.fields])
        self.output.write(f'{{\n  "fields": {fields},\n  "records": ['.encode())
        self._first = True

    def encode(self, batch: pa.RecordBatch) -> memoryview:
        values = []
        for field, column in zip(self.fields, batch.columns, strict=True):
            if _is_text(column) and _is_iso_time(field):
                text = _join(['"', column, '"'])
            elif _is_text(column):
                text = _per_distinct(_json_strings, column)
            else:
                text = _text_of(column, _ENCODE)
            values.append(pc.fill_null(text, "null"))
        return text_bytes(_join([self.RECORD_SEPARATOR + "[", _join(values, ", "), "]"]))

    def write_encoded(self, data: memoryview) -> None:
        if self._first and len(data):
            # The first record follows the opening bracket on a new line, without a comma.
            data = data[1:]
            self._first = False
        self.output.write(data)

    def end(self) -> None:
        self.output.write(b"\n]}\n")


def _xml_text(text: pa.Array) -> pa.Array:
    text = pc.replace_substring_regex(text, NOT_XML, "")
    for character, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = pc.replace_substring(text, character, entity)
    return text


def _xml_element(name: str, text: pa.Array, *, escaped: bool = False) -> pa.Array:
    return _join([f"<{name}>", _xml_text(text) if escaped else text, f"</{name}>"])


class XmlWriter(DumpWriter):
    extension = "xml"
    media_type = "application/xml"

    def begin(self) -> None:
        self.output.write(f'<data xmlns:xsi="{XSI_NAMESPACE}">\n'.encode())

    def encode(self, batch: pa.RecordBatch) -> memoryview:
        first, *others = batch.columns
        # quoteattr of the row number: digits need no escaping, only the quotes around them.
        pieces: list[pa.Array | str] = ['<row _id="', pc.fill_null(_text_of(first, repr), ""), '">']
        for field, column in zip(self.fields[1:], others, strict=True):
            if _is_text(column) and not _is_iso_time(field):
                text = _per_distinct(functools.partial(_xml_element, field.id, escaped=True), column)
            else:
                text = _xml_element(field.id, _text_of(column, repr))
            pieces.append(pc.fill_null(text, f'<{field.id} xsi:nil="true" />'))
        pieces.append("</row>\n")
        return text_bytes(_join(pieces))

    def end(self) -> None:
        self.output.write(b"</data>\n")


WRITERS: dict[str, type[DumpWriter]] = {"CSV": CsvWriter, "JSON": JsonWriter, "XML": XmlWriter}
