"""Load YAML while remembering the line of every key, and turn pydantic errors into
one-line messages that name the file, the line and the field."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mailzone.errors import SpecError
from mailzone.util.confine import read_regular

try:  # the C loader is ~10x faster and keeps marks too
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


class _BuildingLoader(_Loader):  # type: ignore[valid-type,misc]
    """The loader that builds values: one PyYAML cannot build (`2026-02-30`, `!!int abc`, a
    5,000-digit number) is a YAML error at its line, not a ValueError or KeyError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            value = str(node.value)
            shown = repr(value) if len(value) <= 40 else repr(value[:40]) + "..."
            kind = node.tag.rpartition(":")[2] or node.tag
            raise yaml.constructor.ConstructorError(
                None, None, f"{shown} is not a valid {kind}", node.start_mark
            ) from None


Loc = tuple[str | int, ...]
MAX_BYTES = 1 << 20
MAX_NODES = 10_000
MAX_DEPTH = 100  # mailzone's files nest a few levels; the loader recurses per level
M = TypeVar("M", bound=BaseModel)


@dataclass
class YamlDoc:
    """A parsed YAML document with the 1-based line of each key path."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    # keys that are not text (`1:`, `~:`) under each mapping's path: (as written, line)
    odd_keys: dict[Loc, list[tuple[str, int]]] = field(default_factory=dict)

    # set by `keep_text_only`: the lines are found again from it when one is asked for
    text: str | None = None

    def keep_text_only(self, text: str) -> None:
        """Drop the data and the line map, keeping only the text they came from (a third of
        the memory; a loaded spec is asked for a line only when something is wrong)."""
        self.data = None
        self.lines, self.odd_keys, self.text = {}, {}, text

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of the longest prefix of `loc` that the document has."""
        if self.text is not None:
            again = load_yaml(self.path, self.text)
            self.lines, self.odd_keys, self.text = again.lines, again.odd_keys, None
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get(())

    def where(self, loc: Sequence[str | int] = ()) -> str:
        """`file:line` for a key path (or just the file)."""
        line = self.line_of(loc)
        shown = display_path(
            self.path
        )  # only errors and warnings need it: keep it off the hot path
        return f"{shown}:{line}" if line else shown


def display_path(path: Path) -> str:
    """A path relative to the current directory when it is below it."""
    try:
        # realpath, not resolve(): a symlink loop is shown as written, not a RuntimeError
        return str(Path(os.path.realpath(path)).relative_to(os.path.realpath(Path.cwd())))
    except ValueError:
        return str(path)


def load_yaml(path: Path, text: str | None = None) -> YamlDoc:
    """Parse one YAML file; syntax errors and duplicate keys raise SpecError with a line.

    Anchors, aliases and merge keys are refused (mailzone's files write every value out, and
    an alias is how a ten-line file expands to gigabytes), and a file is capped at
    MAX_BYTES and MAX_NODES: the size before reading it, the nodes while scanning its events,
    before any node or value is built."""
    if text is None:
        text = read_spec_text(path)
    elif len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _too_big(path)
    try:
        if _may_break_limits(text):
            _scan(path, text)
        loader = _BuildingLoader(text)
        try:
            node = loader.get_single_node()
            doc = YamlDoc(path, None)
            if node is not None:
                doc.data = _Builder(doc, loader).build(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        problem = err.problem or err.context or "invalid YAML"
        raise SpecError(
            f"invalid YAML: {problem}",
            f"{display_path(path)}:{line}" if line else display_path(path),
        ) from None
    except yaml.reader.ReaderError as err:  # its text has a second line: where, as an offset
        line = text.count("\n", 0, err.position) + 1
        raise SpecError(
            f"invalid YAML: unacceptable character #x{err.character:04x}: {err.reason}",
            f"{display_path(path)}:{line}",
        ) from None
    except yaml.YAMLError as err:
        raise SpecError(f"invalid YAML: {' '.join(str(err).split())}", display_path(path)) from None
    return doc


def read_spec_text(path: Path) -> str:
    """The file's text: a regular file only (a FIFO is not waited on), its size checked before
    it is read (and the read bounded too)."""
    try:
        raw = read_regular(path, MAX_BYTES)
        if raw is None:
            raise _too_big(path)
        return raw.decode("utf-8")
    except FileNotFoundError:
        raise SpecError("file not found", display_path(path)) from None
    except UnicodeDecodeError:
        raise SpecError("cannot read: not UTF-8 text", display_path(path)) from None
    except ValueError as err:
        raise SpecError(str(err), display_path(path)) from None
    except OSError as err:
        raise SpecError(f"cannot read: {err.strerror or err}", display_path(path)) from None


def _too_big(path: Path) -> SpecError:
    return SpecError(
        f"file is larger than {MAX_BYTES >> 20} MiB, the limit for mailzone's files",
        display_path(path),
    )


def _may_break_limits(text: str) -> bool:
    """Whether `_scan` must look at the text: without `&` and `*` it has no anchor or alias;
    every node needs at least a quarter of a character (`a:` is three: a mapping, its key and an
    empty value), so a text under MAX_NODES / 4 characters stays under the node cap; and every
    level of nesting needs its own `-`, `:`, `?`, `[` or `{`."""
    if "&" in text or "*" in text or 4 * len(text) >= MAX_NODES:
        return True
    return sum(text.count(c) for c in "-:?[{") > MAX_DEPTH


def _scan(path: Path, text: str) -> None:
    """Walk the YAML events (nothing is composed or constructed): refuse anchors and aliases,
    and stop at the node and depth caps."""
    loader = _Loader(text)
    nodes = depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()  # type: ignore[no-untyped-call]
            if isinstance(event, yaml.AliasEvent):
                raise _refused(path, event, f"YAML alias '*{event.anchor}'")
            if isinstance(event, _NODE_EVENTS):
                if event.anchor is not None:
                    raise _refused(path, event, f"YAML anchor '&{event.anchor}'")
                nodes += 1
                if nodes > MAX_NODES:
                    raise _over_limit(path, event, f"more than {MAX_NODES:,} YAML nodes")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _over_limit(path, event, f"YAML nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        loader.dispose()


def _over_limit(path: Path, event: yaml.Event, what: str) -> SpecError:
    return SpecError(f"{what}, the limit for mailzone's files", _at(path, event))


_NODE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
VALUE_TAG = "tag:yaml.org,2002:value"


def _refused(path: Path, event: yaml.Event | yaml.Node, what: str) -> SpecError:
    return SpecError(
        f"{what} is not allowed in mailzone's files; write the value out", _at(path, event)
    )


def _at(path: Path, event: yaml.Event | yaml.Node) -> str:
    mark = event.start_mark
    return f"{display_path(path)}:{mark.line + 1}" if mark else display_path(path)


class _Builder:
    """One walk over the composed nodes: the line of every key path, the refusals (merge keys,
    duplicate keys), and the values, built as PyYAML's safe constructor builds them (the
    loader builds every scalar that is not plain text, and collections with their own tag).
    When a value cannot be built, the walk goes on (a refused key anywhere in the file is
    reported first), then PyYAML's own construction of the document raises the error, so the
    value named is the one it meets first."""

    def __init__(self, doc: YamlDoc, loader: _BuildingLoader) -> None:
        self.doc = doc
        self.loader = loader
        self.failed: yaml.YAMLError | None = None

    def build(self, node: yaml.Node) -> Any:
        value = self._node(node, ())
        if self.failed is not None:
            loader = _BuildingLoader("")
            try:
                loader.construct_document(node)
            finally:
                loader.dispose()
            raise self.failed
        return value

    def _node(self, node: yaml.Node, loc: Loc) -> Any:
        self.doc.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == STR_TAG else self._construct(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if node.tag != SEQ_TAG:
            for i, item in enumerate(node.value):
                self._node(item, (*loc, i))
            return self._construct(node)
        return [self._node(item, (*loc, i)) for i, item in enumerate(node.value)]

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> Any:
        doc = self.doc
        seen: set[str] = set()
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                raise _refused(doc.path, key_node, "YAML merge key '<<'")
            key = str(key_node.value)
            if key in seen:
                raise SpecError(
                    f"duplicate key '{key}'",
                    f"{display_path(doc.path)}:{key_node.start_mark.line + 1}",
                )
            seen.add(key)
            doc.lines[(*loc, key)] = key_node.start_mark.line + 1
            if key_node.tag != STR_TAG:
                doc.odd_keys.setdefault(loc, []).append((key, key_node.start_mark.line + 1))
                if key_node.tag == VALUE_TAG:  # a plain `=` key: text, as the safe loader has it
                    key_node.tag = STR_TAG
            value = self._node(value_node, (*loc, key))
            built = key_node.value if key_node.tag == STR_TAG else self._construct(key_node)
            if not isinstance(built, Hashable):
                self._fail(
                    yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        "found unhashable key",
                        key_node.start_mark,
                    )
                )
            elif self.failed is None:
                out[built] = value
        return out if node.tag == MAP_TAG else self._construct(node)

    def _construct(self, node: yaml.Node) -> Any:
        if self.failed is not None:
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as err:
            self._fail(err)
            return None

    def _fail(self, err: yaml.YAMLError) -> None:
        if self.failed is None:
            self.failed = err


def field_path(loc: Iterable[str | int]) -> str:
    """`hosts[0].ipv4[1]` from ('hosts', 0, 'ipv4', 1)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validate(
    model: type[M], doc: YamlDoc, context: dict[str, Any] | None = None, at: Loc = ()
) -> M:
    """Validate the document (or its part at key path `at`); raise SpecError listing every problem."""
    data = doc.data
    for key in at:
        data = data.get(key) if isinstance(data, dict) else None
    if not isinstance(data, dict):
        where = f"{field_path(at)}: " if at else ""
        raise SpecError(f"{where}expected a mapping of fields", doc.where(at))
    try:
        return model.model_validate(data, context=context)
    except ValidationError as err:
        lines = [format_error(model, doc, e, at) for e in err.errors()]
        raise spec_error(lines) from None


def spec_error(lines: list[str]) -> SpecError:
    """One SpecError whose message is the first line, with all lines kept in `.details`."""
    first = lines[0]
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return SpecError(first + more, details=lines)


def format_error(model: type[BaseModel], doc: YamlDoc, e: Any, at: Loc = ()) -> str:
    """One pydantic error dict as `file:line: field: message` (`at`: where the model's data sits)."""
    inner: Loc = tuple(
        p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-"))
    )
    loc = (*at, *inner)
    kind = e["type"]
    where = doc.where(loc)
    if kind == "invalid_key" and doc.odd_keys.get(loc[:-1]):
        # pydantic's loc holds the key as built (1, 'None'): name it as written, where written
        key, line = doc.odd_keys[loc[:-1]][0]
        parent = field_path(loc[:-1])
        prefix = f"{parent}: " if parent else ""
        return f"{display_path(doc.path)}:{line}: {prefix}key '{key}' is not text: fields are names"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = _did_you_mean(key, allowed_fields(model, inner[:-1]))
        parent = field_path(loc[:-1])
        prefix = f"{parent}: " if parent else ""
        return f"{where}: {prefix}unknown field '{key}'{hint}"
    path = field_path(loc)
    prefix = f"{path}: " if path else ""
    value = e.get("input")
    if kind == "missing":
        return f"{where}: {prefix}required field is missing"
    if kind in ("literal_error", "enum"):
        expected = _choices(str(e.get("ctx", {}).get("expected", "")))
        hint = _did_you_mean(str(value), expected)
        return f"{where}: {prefix}{value!r} is not one of {', '.join(expected)}{hint}"
    message = str(e["msg"])
    for lead in ("Value error, ", "Assertion failed, "):
        if message.startswith(lead):
            message = message[len(lead) :]
    return f"{where}: {prefix}{message}"


def _choices(expected: str) -> list[str]:
    """pydantic's `'a', 'b' or 'c'` (or `1` for a number) as ['a', 'b', 'c']."""
    parts = re.split(r",\s*|\s+or\s+", expected.strip())
    return [p.strip().strip("'") for p in parts if p.strip()]


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def allowed_fields(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The field names (aliases where set) of the model found at `loc`."""
    current: Any = model
    for part in loc:
        current = unwrap_model(current)
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if info is None:
            return []
        current = info.annotation
    current = unwrap_model(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def unwrap_model(annotation: Any) -> Any:
    """Find the model inside list[...], X | None and Annotated[...]."""
    for _ in range(5):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        args = getattr(annotation, "__args__", None)
        if not args:
            return annotation
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        annotation = models[0] if models else args[0]
    return annotation
