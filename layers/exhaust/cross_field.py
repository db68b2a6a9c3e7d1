"""Rules between fields of a request body, each declared once: the declaration is both the check the model runs
(`holds`) and the OpenAPI document's JSON schema (`schema`, an if/then/else for a `Rule`), so the document cannot
say something other than the code.

The vocabulary is small on purpose: tests of one field (`Present`, `Given`, `Matches`), combined (`Within`, `AllOf`,
`AnyOf`, `ExactlyOne`, `Not`), and `Rule` (when a test holds, then one requirement, otherwise another). Each
part's `holds` is JSON Schema's meaning of its `schema` on an object (a body, whose own schema says it is one),
written for the few keywords used here: `required`, `properties`, `type`, `enum`, `pattern`, `allOf`, `anyOf`,
`oneOf`, `not`, `if`/`then`/`else` (tests/unit/test_cross_field.py compares the two on generated data).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Path = tuple[str, ...]


class Condition(Protocol):
    def holds(self, data: Any) -> bool: ...

    def schema(self) -> dict[str, Any]: ...


def _value_at(data: Any, path: Path) -> tuple[bool, Any]:
    """(whether the path leads to a value through objects, the value)."""
    for name in path:
        if not isinstance(data, dict) or name not in data:
            return False, None
        data = data[name]
    return True, data


def _schema_at(path: Path, leaf: dict[str, Any]) -> dict[str, Any]:
    """The schema of an object holding `leaf` at `path` (each level an object with the next name required)."""
    schema = leaf
    for depth, name in reversed(list(enumerate(path))):
        level: dict[str, Any] = {"required": [name]}
        if schema:
            level["properties"] = {name: schema}
        if depth:
            level = {"type": "object", **level}
        schema = level
    return schema


@dataclass(frozen=True)
class Present:
    """The field at `path` is there, whatever its value (null included)."""

    path: Path

    def holds(self, data: Any) -> bool:
        return _value_at(data, self.path)[0]

    def schema(self) -> dict[str, Any]:
        return _schema_at(self.path, {})


@dataclass(frozen=True)
class Given:
    """The field at `path` is there with a value other than the `blank` ones (null or strings: they count as not
    given)."""

    path: Path
    blank: tuple[Any, ...] = (None,)

    def holds(self, data: Any) -> bool:
        found, value = _value_at(data, self.path)
        return found and not any(_is_blank(value, blank) for blank in self.blank)

    def schema(self) -> dict[str, Any]:
        return _schema_at(self.path, {"not": {"enum": list(self.blank)}})


@dataclass(frozen=True)
class Matches:
    """The field at `path` is a string that is one of `values`, spaces around it aside (they are trimmed)."""

    path: Path
    values: Sequence[str]

    @property
    def pattern(self) -> str:
        return rf"^\s*(?:{'|'.join(_escaped(value) for value in self.values)})\s*$"

    def holds(self, data: Any) -> bool:
        found, value = _value_at(data, self.path)
        return found and isinstance(value, str) and re.search(self.pattern, value) is not None

    def schema(self) -> dict[str, Any]:
        return _schema_at(self.path, {"type": "string", "pattern": self.pattern})


@dataclass(frozen=True)
class Within:
    """The field at `path` is an object for which `test` holds (its paths start inside that object)."""

    path: Path
    test: Condition

    def holds(self, data: Any) -> bool:
        found, value = _value_at(data, self.path)
        return found and isinstance(value, dict) and self.test.holds(value)

    def schema(self) -> dict[str, Any]:
        return _schema_at(self.path, {"type": "object", **self.test.schema()})


@dataclass(frozen=True)
class AllOf:
    tests: Sequence[Condition]

    def holds(self, data: Any) -> bool:
        return all(test.holds(data) for test in self.tests)

    def schema(self) -> dict[str, Any]:
        return {"allOf": [test.schema() for test in self.tests]}


@dataclass(frozen=True)
class AnyOf:
    tests: Sequence[Condition]

    def holds(self, data: Any) -> bool:
        return any(test.holds(data) for test in self.tests)

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [test.schema() for test in self.tests]}


@dataclass(frozen=True)
class ExactlyOne:
    tests: Sequence[Condition]

    def holds(self, data: Any) -> bool:
        return sum(test.holds(data) for test in self.tests) == 1

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [test.schema() for test in self.tests]}


@dataclass(frozen=True)
class Not:
    test: Condition

    def holds(self, data: Any) -> bool:
        return not self.test.holds(data)

    def schema(self) -> dict[str, Any]:
        return {"not": self.test.schema()}


@dataclass(frozen=True)
class Rule:
    """When `when` holds, `then` must; otherwise `otherwise` must (nothing, without one)."""

    when: Condition
    then: Condition
    otherwise: Condition | None = None

    def requirement(self, data: Any) -> Condition | None:
        """The requirement that applies to `data`."""
        return self.then if self.when.holds(data) else self.otherwise

    def holds(self, data: Any) -> bool:
        requirement = self.requirement(data)
        return requirement is None or requirement.holds(data)

    def schema(self) -> dict[str, Any]:
        schema = {"if": self.when.schema(), "then": self.then.schema()}
        if self.otherwise is not None:
            schema["else"] = self.otherwise.schema()
        return schema


def _is_blank(value: Any, blank: Any) -> bool:
    """JSON's equality (`enum`) for the blanks used here, null and strings: the same type and value."""
    return type(value) is type(blank) and value == blank


def _escaped(text: str) -> str:
    """`text` as a regular expression matching itself in Python and in ECMA-262 with the u flag (JSON Schema's
    dialect), which refuses re.escape's escapes of characters that are not special, such as `\\-`."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", text)
