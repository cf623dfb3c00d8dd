"""`json.dumps(value, indent=2)`, the same text about three times as fast.

With `indent` set the standard library leaves its C encoder for a generator per nesting level
and per token, which is most of the time a 1,000-domain `check --format json` spends on its
output. Here one recursive function appends to a list; strings go through the C escaper."""

from __future__ import annotations

from json.encoder import encode_basestring_ascii as _quote
from typing import Any


def dumps_indented(value: Any) -> str:
    """Exactly `json.dumps(value, indent=2)` for JSON data (dicts, lists, tuples, str, int,
    float, bool, None); TypeError for anything else, as json.dumps. Not for cyclic data."""
    out: list[str] = []
    _emit(value, out, "\n")
    return "".join(out)


def _emit(value: Any, out: list[str], newline: str) -> None:
    if isinstance(value, str):
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        lead = "{" + inner
        for key, item in value.items():
            out.append(lead + _quote(_key(key)) + ": ")
            _emit(item, out, inner)
            lead = "," + inner
        out.append(newline + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        lead = "[" + inner
        for item in value:
            out.append(lead)
            _emit(item, out, inner)
            lead = "," + inner
        out.append(newline + "]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    """A dict key as json.dumps writes it."""
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
