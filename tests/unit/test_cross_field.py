"""Each cross-field declaration's check (`holds`) is what its JSON Schema (`schema`) says, on any JSON object (what
the declarations meet: a body's fields)."""

from __future__ import annotations

from typing import Any

from exhaust.cross_field import AllOf, AnyOf, Condition, ExactlyOne, Given, Matches, Not, Present, Rule, Within
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

NAMES = ("a", "b", "c")
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-1, 1), st.sampled_from(["", " ", "x", " x ", "x-y", "x.y", "X"])
)
JSON = st.recursive(SCALARS, lambda inner: st.dictionaries(st.sampled_from(NAMES), inner, max_size=3), max_leaves=8)
OBJECTS = st.dictionaries(st.sampled_from(NAMES), JSON, max_size=3)
PATHS = st.lists(st.sampled_from(NAMES), min_size=1, max_size=2).map(tuple)
LEAVES: st.SearchStrategy[Condition] = st.one_of(
    PATHS.map(Present),
    st.builds(Given, PATHS, st.sampled_from([(None,), (None, ""), ("",)])),
    st.builds(Matches, PATHS, st.sampled_from([("x",), ("x-y", "x.y"), ("X", "x")])),
)
TESTS: st.SearchStrategy[Condition] = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(AllOf),
        st.lists(inner, min_size=1, max_size=3).map(AnyOf),
        st.lists(inner, min_size=1, max_size=3).map(ExactlyOne),
        inner.map(Not),
        st.builds(Within, PATHS, inner),
        st.builds(Rule, inner, inner, st.one_of(st.none(), inner)),
    ),
    max_leaves=5,
)


@settings(max_examples=200, deadline=None)
@given(test=TESTS, data=OBJECTS)
def test_a_declarations_check_is_its_schemas_answer(test: Condition, data: Any) -> None:
    schema = test.schema()
    Draft202012Validator.check_schema(schema)
    assert test.holds(data) == Draft202012Validator(schema).is_valid(data), schema
