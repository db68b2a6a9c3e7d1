"""Arrow string arrays as bytes, for answers that write text a whole column at a time."""

from __future__ import annotations

import pyarrow as pa


def text_bytes(text: pa.Array) -> memoryview:
    """The UTF-8 bytes of a string array without nulls, end to end (the array's data buffer, not a copy)."""
    if not len(text):
        return memoryview(b"")
    _, offsets_buffer, data = text.buffers()
    offset_type = pa.int64() if pa.types.is_large_string(text.type) else pa.int32()
    offsets = pa.Array.from_buffers(offset_type, len(text) + 1, [None, offsets_buffer], offset=text.offset)
    return memoryview(data)[offsets[0].as_py() : offsets[len(text)].as_py()]
