"""The one pattern of channel ids, tags and path parameters (docs/security.md, "Identifiers").

It accepts every id the seeds show (`0126796199493140480`, `ORG_001`, `apekx`,
`do_11299034610144870411_0131092891882700800`, `course001_batch001:ORG_001`) and nothing that could join two keys
into one: `#` separates channel and tag in the by-tag index, `,` the channels of a token, `/` S3 key levels, `*`
is the wildcard channel; spaces and control characters have no place in an id. Ids are case-sensitive.
"""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
IDENTIFIER_RULE = "must be 1 to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"


def is_identifier(value: str) -> bool:
    return IDENTIFIER.fullmatch(value) is not None


def shown(value: str, limit: int = 40) -> str:
    """A client's value, safe to put in a message: control characters escaped, long values cut."""
    text = value if len(value) <= limit else value[:limit] + "..."
    return text.encode("unicode_escape", errors="backslashreplace").decode("ascii")


def any_case(word: str) -> str:
    """A regular expression of the word in any letter case (JSON Schema patterns take no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def any_case_of(words: tuple[str, ...]) -> str:
    """A pattern matching exactly one of these words, in any letter case."""
    return f"^({'|'.join(map(any_case, words))})$"
