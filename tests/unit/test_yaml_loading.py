"""The YAML loader's one walk (lines, refusals and values together) gives what PyYAML's safe
loader gives, and skips the event scan only where the caps cannot be reached."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mailzone.errors import SpecError
from mailzone.repo.project import load_project
from mailzone.spec.yamlfile import MAX_DEPTH, MAX_NODES, _may_break_limits, load_yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

scalars = (
    st.text(max_size=12)
    | st.integers()
    | st.booleans()
    | st.none()
    | st.floats(allow_nan=False)
    | st.dates(min_value=dt.date(1900, 1, 1))
    | st.sampled_from(["yes", "No", "~", "0o17", "1_000", "=", "2026-01-01T00:00:00Z"])
)
keys = st.text(max_size=8) | st.sampled_from(["1", "true", "null", "="])
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=25,
)


def _lines(node: yaml.Node, loc: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    """The line of every key path, read off PyYAML's node tree."""
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*loc, str(key.value))] = key.start_mark.line + 1
            _lines(value, (*loc, str(key.value)), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*loc, i), out)


@settings(max_examples=300, deadline=None)
@given(documents, st.sampled_from([None, True, False]))
def test_values_and_lines_are_pyyamls(data: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    doc = load_yaml(Path("x.yaml"), text)
    assert doc.data == yaml.load(text, Loader=_LOADER)
    lines: dict[tuple[Any, ...], int] = {}
    node = yaml.compose(text, Loader=_LOADER)
    if node is not None:
        _lines(node, (), lines)
    assert doc.lines == lines
    kept = load_yaml(Path("x.yaml"), text)
    kept.keep_text_only(text)  # what a loaded spec keeps: its lines are found again on demand
    assert kept.data is None and kept.lines == {}
    assert all(kept.line_of(loc) == line for loc, line in lines.items())
    assert kept.lines == lines


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        # PyYAML builds the top level first: `ttl` is the value it fails on, not `since`
        ("dmarc: {since: 2026-02-30}\nttl: !!int abc\n", 2, "'abc' is not a valid int"),
        ("a: !!int abc\nb: 1\nb: 2\n", 3, "duplicate key 'b'"),  # refused keys come first
        ("[a]: 1\n", 1, "unhashable key"),
    ],
)
def test_errors_are_the_ones_a_separate_pass_gave(text: str, line: int, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml(Path("x.yaml"), text)
    assert info.value.location == f"x.yaml:{line}"
    assert fragment in str(info.value)


def test_odd_keys_keep_how_they_were_written() -> None:
    doc = load_yaml(Path("x.yaml"), "1: a\n=: b\nname: c\n")
    assert doc.data == {1: "a", "=": "b", "name": "c"}
    assert doc.odd_keys == {(): [("1", 1), ("=", 2)]}


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="-:?[]{},ab \n#'\"!", max_size=60))
def test_texts_the_scan_skips_stay_under_the_caps(text: str) -> None:
    """What `_may_break_limits` relies on: at most 4 nodes per character of text, and one of
    `-:?[{` per level of nesting."""
    loader = _LOADER(text)
    nodes = depth = deepest = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
                nodes += 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                deepest = max(deepest, depth)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    assert nodes <= 4 * len(text) + 1
    assert deepest <= sum(text.count(c) for c in "-:?[{")


def test_big_or_aliased_texts_are_scanned() -> None:
    assert _may_break_limits("a: &x 1\n")
    assert _may_break_limits("a: *x\n")
    assert _may_break_limits("a: b\n" * (MAX_NODES // 16))
    assert _may_break_limits("[" * (MAX_DEPTH + 1))
    assert not _may_break_limits("domain: example.org\nttl: 3600\n")


def test_a_spec_that_is_a_symlink_loop_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "zones").mkdir()
    spec = tmp_path / "zones" / "a.example.yaml"
    spec.symlink_to(spec.name)  # ELOOP: Too many levels of symbolic links
    with pytest.raises(SpecError) as info:
        load_project(tmp_path)
    assert "cannot read" in str(info.value)
    assert str(info.value.location).endswith("a.example.yaml")
