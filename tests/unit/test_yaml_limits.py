"""The one YAML loader refuses anchors, aliases, merge keys and files past its caps (issue 11),
with a one-line error naming file:line, before building anything big."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mailzone.errors import SpecError
from mailzone.spec.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_NODES, load_yaml

LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
version: 1
"""


def _err(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_yaml(path)
    return info.value


def test_billion_laughs_fails_fast_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(LAUGHS)
    started = time.monotonic()
    err = _err(path)
    assert time.monotonic() - started < 1
    text = str(err)
    assert "\n" not in text
    assert "anchor" in text
    assert err.location is not None and err.location.endswith("bomb.yaml:1")


@pytest.mark.parametrize(
    ("text", "line", "word"),
    [
        ("version: 1\nbase: &x {a: 1}\n", 2, "anchor"),
        ("version: 1\nlist:\n  - 1\n  - *x\n", 4, "alias"),
        ("version: 1\nmx:\n  <<: {hosts: []}\n", 3, "merge key"),
        ("version: 1\nmx:\n  !!merge k: {hosts: []}\n", 3, "merge key"),
    ],
)
def test_anchors_aliases_and_merge_keys_are_refused(
    tmp_path: Path, text: str, line: int, word: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    err = _err(path)
    assert word in str(err), str(err)
    assert "\n" not in str(err)
    assert err.location is not None and err.location.endswith(f"x.yaml:{line}"), err.location


def test_file_over_one_mib_is_refused_before_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("version: 1\n# " + "x" * MAX_BYTES + "\n")
    monkeypatch.setattr(Path, "read_text", lambda *a, **k: pytest.fail("read it all"))
    err = _err(path)
    assert "1 MiB" in str(err)
    assert err.location is not None and err.location.endswith("big.yaml")


def test_a_file_at_the_byte_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    head = "version: 1\n# "
    path.write_text(head + "x" * (MAX_BYTES - len(head) - 1) + "\n")
    assert load_yaml(path).data == {"version": 1}


def test_too_many_nodes_stops_at_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("version: 1\nlist: [" + ", ".join("1" for _ in range(MAX_NODES)) + "]\n")
    err = _err(path)
    assert f"{MAX_NODES:,}" in str(err)
    assert "\n" not in str(err)
    assert err.location is not None and err.location.endswith("many.yaml:2")


def test_just_under_the_node_cap_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    # the root mapping, 2 keys, 1 value and a sequence: 5 nodes besides its items
    items = MAX_NODES - 5
    path.write_text("version: 1\nlist: [" + ", ".join("1" for _ in range(items)) + "]\n")
    assert len(load_yaml(path).data["list"]) == items


def test_text_passed_in_is_capped_too(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="1 MiB"):
        load_yaml(tmp_path / "t.yaml", "a: " + "x" * MAX_BYTES)


def test_state_writer_never_emits_anchors_or_aliases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mailzone's own writer must not produce what its loader refuses, even when the dumped
    data shares an object (two entries that are the same dict)."""
    from mailzone.repo.state import load_state, save_state
    from mailzone.spec.state import DomainState

    shared = {"note": ["a", "b"]}
    dumped = {"version": 1, "domain": "example.org", "selectors": [], "x": shared, "y": shared}
    monkeypatch.setattr(DomainState, "model_dump", lambda self, **kw: dumped)
    path = save_state(tmp_path, DomainState(domain="example.org"))
    text = path.read_text()
    assert "&" not in text and "*" not in text, text
    assert load_yaml(path).data["x"] == shared
    monkeypatch.undo()
    save_state(tmp_path, DomainState(domain="example.org"))
    assert load_state(tmp_path, "example.org").domain == "example.org"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("version: 1\nsince: 2026-02-30\n", 2),  # a date that does not exist
        ("version: 1\nttl: " + "9" * 5000 + "\n", 2),  # past Python's 4,300-digit limit
        ("version: 1\nttl: !!int abc\n", 2),
        ("version: 1\nttl: !!int ''\n", 2),
        ("version: 1\nttl: !!float abc\n", 2),
        ("version: 1\nx:\n  - !!bool maybe\n", 3),
        ("version: 1\nsince: !!timestamp nope\n", 2),
    ],
)
def test_a_value_pyyaml_cannot_build_is_one_line_at_its_line(
    tmp_path: Path, text: str, line: int
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    err = _err(path)
    assert err.location is not None and err.location.endswith(f"x.yaml:{line}"), err
    assert str(err).count("\n") == 0 and len(str(err)) < 200, err
    assert "invalid YAML" in err.message, err


@pytest.mark.parametrize(
    ("text", "line"), [("version: 1\nname: 'a\x03b'\n", 2), ("\x00", 1), ("a: ü\nb: \x9d\n", 2)]
)
def test_a_control_character_is_one_line_at_its_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    err = _err(path)
    assert "\n" not in str(err), err
    assert err.location is not None and err.location.endswith(f"x.yaml:{line}"), err
    assert "control characters are not allowed" in err.message, err


@pytest.mark.parametrize(
    "text",
    [
        "[" * 990 + "]" * 990,
        "".join(" " * i + "-\n" for i in range(990)),
        "".join(" " * i + "k:\n" for i in range(990)),
        "x: " + "{a: " * 990 + "1" + "}" * 990,
    ],
    ids=["flow", "block sequence", "block mapping", "flow mapping"],
)
def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    err = _err(path)
    assert f"nested deeper than {MAX_DEPTH} levels" in err.message, err
    assert err.location is not None and err.location.endswith(f"x.yaml:{err.line}"), err


def test_nesting_up_to_the_cap_loads(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert load_yaml(path).data is not None
