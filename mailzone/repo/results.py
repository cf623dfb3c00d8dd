"""The JSON results of `plan`, `apply`, `check` and `rotate`: their schema versions, and the
merge of the results of `--shard K/N` runs into the one result a single run would print.

The shapes are documented in docs/json.md and published as JSON Schema files in
`mailzone/cli/render/schemas/`; a merge reads only the fields it combines and keeps the rest."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from mailzone.errors import (
    EXIT_CHANGES,
    EXIT_CHECK_FAILED,
    EXIT_ERROR,
    EXIT_INCONCLUSIVE,
    EXIT_OK,
    MailzoneError,
)

Kind = Literal["plan", "apply", "check", "rotate"]

# raised when a field changes meaning or goes away; new fields may appear without a raise
SCHEMA_VERSIONS: dict[str, int] = {"plan": 1, "apply": 1, "check": 1, "rotate": 1}

MAX_RESULT_BYTES = 256 * 1024 * 1024  # a check of 10,000 domains is about 60 MB

# the exit code of the merged result: the first of these that any shard returned
_PRECEDENCE = (EXIT_ERROR, EXIT_CHECK_FAILED, EXIT_INCONCLUSIVE, EXIT_CHANGES)
_CODES = frozenset((EXIT_OK, *_PRECEDENCE))


def combined_exit_code(codes: Sequence[int]) -> int:
    """One exit code for several runs: 1 if any is 1, else 3 if any is 3, else 4 if any is 4,
    else 2 if any is 2, else 0."""
    return next((code for code in _PRECEDENCE if code in codes), EXIT_OK)


def read_result(path: Path, kind: Kind) -> dict[str, Any]:
    """One run's `--format json` output of `kind`, checked as far as the merge relies on it;
    MailzoneError naming the file otherwise."""
    try:
        with path.open("rb") as src:
            raw = src.read(MAX_RESULT_BYTES + 1)
    except OSError as err:
        raise MailzoneError(err.strerror or "cannot be read", str(path)) from None
    if len(raw) > MAX_RESULT_BYTES:
        raise MailzoneError(f"more than {MAX_RESULT_BYTES:,} bytes", str(path))
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as err:
        raise MailzoneError(f"not JSON ({err})", str(path)) from None
    if not isinstance(data, dict):
        raise MailzoneError(f"not a `{kind} --format json` result (not an object)", str(path))
    version = data.get("schema_version")
    if version != SCHEMA_VERSIONS[kind]:
        raise MailzoneError(
            f"schema_version: {json.dumps(version)} is not {SCHEMA_VERSIONS[kind]}, the version "
            f"of `{kind} --format json` this mailzone knows",
            str(path),
        )
    if data.get("exit_code") not in _CODES or isinstance(data.get("exit_code"), bool):
        raise MailzoneError(
            f"exit_code: {json.dumps(data.get('exit_code'))} is not 0 to 4", str(path)
        )
    for field, key in _ITEMS[kind]:
        items = data.get(field)
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and isinstance(i.get(key), str) for i in items
        ):
            raise MailzoneError(
                f"{field}: missing, or not a list of objects with a `{key}` (is this a "
                f"`{kind} --format json` result?)",
                str(path),
            )
    return data


# per kind: the lists a merge concatenates, and the field that names each item
_ITEMS: dict[str, tuple[tuple[str, str], ...]] = {
    "plan": (("zones", "zone"),),
    "apply": (("zones", "zone"), ("outcomes", "zone")),
    "check": (("domains", "domain"),),
    "rotate": (("domains", "domain"),),
}


def merge_results(kind: Kind, results: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The results of the shards (file name, data from `read_result`) as one result of the same
    schema, its items in the order one run would print them, its exit code combined; a zone
    (or domain) in two files is an error."""
    merged: dict[str, Any] = {
        "schema_version": SCHEMA_VERSIONS[kind],
        "exit_code": combined_exit_code([data["exit_code"] for _, data in results]),
    }
    for field, key in _ITEMS[kind]:
        seen: dict[tuple[str, ...], int] = {}
        items = []
        for index, (name, data) in enumerate(results):
            for item in data[field]:
                ident = (item[key], str(item.get("provider", "")))
                if seen.setdefault(ident, index) != index:
                    raise MailzoneError(
                        f"{field}: {item[key]} is also in {results[seen[ident]][0]} (merge the "
                        "results of one run's shards, each once)",
                        name,
                    )
                items.append(item)
        merged[field] = sorted(items, key=lambda i: (i[key], str(i.get("provider", ""))))
    _MERGE_REST[kind](merged, [data for _, data in results])
    return merged


def _merge_check(merged: dict[str, Any], results: list[dict[str, Any]]) -> None:
    merged["failed"] = any(r.get("failed") for r in results)
    merged["inconclusive"] = any(r.get("inconclusive") for r in results)


def _merge_rotate(merged: dict[str, Any], results: list[dict[str, Any]]) -> None:
    dry = {bool(r.get("dry_run")) for r in results}
    if len(dry) > 1:
        raise MailzoneError("rotate results mix dry runs and real runs: merge one run's shards")
    merged["dry_run"] = dry.pop() if dry else False
    merged["due"] = any(r.get("due") for r in results) if merged["dry_run"] else None
    merged["mta_files"] = list(dict.fromkeys(f for r in results for f in r.get("mta_files", [])))
    merged["mta_due"] = any(r.get("mta_due") for r in results)
    merged["apply_domains"] = sorted({d for r in results for d in r.get("apply_domains", [])})
    merged["errors"] = [e for r in results for e in r.get("errors", [])]


def _nothing(merged: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """plan and apply hold nothing but their lists."""


_MERGE_REST: dict[str, Callable[[dict[str, Any], list[dict[str, Any]]], None]] = {
    "plan": _nothing,
    "apply": _nothing,
    "check": _merge_check,
    "rotate": _merge_rotate,
}
