"""The fast indented JSON writer writes exactly what ``json.dumps`` writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainwarden._internal.jsontext import (
    ITEM_NEWLINE,
    LazyList,
    Placed,
    dumps_at,
    dumps_indented,
    escape,
    iter_indented,
)

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=30
)


def _stdlib(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


@given(_values)
def test_same_text_as_the_standard_library(value: Any) -> None:
    assert dumps_indented(value) == _stdlib(value)


@pytest.mark.parametrize(
    "value",
    [{}, [], {"a": []}, {"b": {}, "a": [1, 2.5, True, None, 'é\u2028\n"x"']}, [[[]]], "\x00", -(2**70)],
)
def test_edges(value: Any) -> None:
    assert dumps_indented(value) == _stdlib(value)


@given(_values)
def test_text_laid_out_for_its_place_is_inserted_as_it_is(value: Any) -> None:
    # a value rendered by dumps_at for where it stands: an item of a top-level lazy list, a member in it
    member = Placed(dumps_at(value, ITEM_NEWLINE + "  "))
    item = Placed(dumps_at({"a": value, "b": [value]}, ITEM_NEWLINE))
    document = {"list": LazyList([item, {"m": member}, {"m": value}])}
    expected = {"list": [{"a": value, "b": [value]}, {"m": value}, {"m": value}]}
    assert "".join(iter_indented(document)) == _stdlib(expected)


def test_escape_is_the_json_string_literal() -> None:
    assert escape('a"b\\c\u00e9\n') == json.dumps('a"b\\c\u00e9\n')


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"k": object()}, {1: "x"}])
def test_refuses_what_json_cannot_hold(value: Any) -> None:
    with pytest.raises((TypeError, ValueError, AttributeError)):
        dumps_indented(value)
