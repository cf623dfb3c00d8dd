"""The indented JSON writer gives json.dumps(indent=2)'s text exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailzone.util.jsontext import dumps_indented

leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
keys = st.text() | st.integers() | st.booleans() | st.none() | st.floats()
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=30,
)


@given(values)
def test_same_text_as_json_dumps(value: Any) -> None:
    assert dumps_indented(value) == json.dumps(value, indent=2)


def test_what_json_cannot_write_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        dumps_indented({"when": object()})
    with pytest.raises(TypeError):
        dumps_indented({(1, 2): "tuple key"})
