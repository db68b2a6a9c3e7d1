"""JSON documents from clients, parsed so that no document can crash the parser or the code that reads it after.

`loads` refuses, with a message naming the field and the rule: bytes that are not UTF-8, malformed JSON, NaN and
Infinity (not JSON), integers longer than CPython converts, nesting deeper than MAX_DEPTH, and strings or keys
holding a lone surrogate (`"\\ud800"` parses, but can never be encoded, hashed or stored), and an object holding
one key twice.
"""

from __future__ import annotations

import json
import sys
from typing import Any

MAX_DEPTH = 32
# CPython refuses to convert longer integer strings (sys.int_info.default_max_str_digits, PEP 651 / CVE-2020-10735).
MAX_INTEGER_DIGITS = sys.int_info.default_max_str_digits


class RefusedJson(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _refuse_constant(name: str) -> Any:
    raise RefusedJson(f"body: {name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different: with a key twice, which one counts would be a guess (two
    encryption keys, two callbacks), so the document is refused."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            shown = f"'{key[:64]}'" if _readable(key) else "a key"
            raise RefusedJson(f"body: {shown} appears twice in one object; send each field once")
        document[key] = value
    return document


def loads(data: bytes) -> Any:
    """The document in `data`, checked; RefusedJson says what is wrong and where."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RefusedJson(f"body: must be UTF-8 encoded JSON (invalid byte at position {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except RefusedJson:
        raise
    except json.JSONDecodeError as exc:
        raise RefusedJson(f"body: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise RefusedJson(f"body: must not be nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        # The only other ValueError json raises: an integer over CPython's conversion limit.
        raise RefusedJson(f"body: a number has more than {MAX_INTEGER_DIGITS} digits") from None
    check_document(value)
    return value


def _readable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_document(document: Any) -> None:
    """Depth and lone surrogates, walked without recursion; the message names the first bad place found."""
    pending: list[tuple[Any, str, int]] = [(document, "", 1)]
    while pending:
        value, where, depth = pending.pop()
        name = where or "body"
        if depth > MAX_DEPTH and isinstance(value, dict | list):
            raise RefusedJson(f"{name}: must not be nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str) and not _readable(value):
            raise RefusedJson(f"{name}: contains a lone surrogate (\\ud800-\\udfff); strings must be valid Unicode")
        if isinstance(value, dict):
            for key, item in value.items():
                if not _readable(key):
                    raise RefusedJson(f"{name}: a key contains a lone surrogate; keys must be valid Unicode")
                pending.append((item, f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{name}[{index}]", depth + 1) for index, item in enumerate(value))
