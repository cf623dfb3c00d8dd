"""Durations as people write them in YAML: `90d`, `24h`, `1w2d`, `30m`, or plain seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_TERM = re.compile(r"(\d+)([wdhms])")
PATTERN = r"^(\d+[wdhms])+$"


def parse_duration(value: object) -> timedelta:
    """`90d` → 90 days; an int is seconds; ValueError names the bad text."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return _seconds(value)
    text = value.strip().lower() if isinstance(value, str) else None
    if not text or not re.fullmatch(PATTERN, text):
        raise ValueError(
            f"{value!r} is not a duration (write e.g. 90d, 24h, 1w2d, 30m or a number of seconds)"
        )
    return _seconds(sum(int(n) * UNITS[u] for n, u in _TERM.findall(text)))


def _seconds(seconds: int) -> timedelta:
    if seconds // UNITS["d"] > timedelta.max.days:
        raise ValueError(f"too long a duration (at most {timedelta.max.days} days)")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """`90d`, `1d12h`, `30m`: days and smaller units; `0s` for zero."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in list(UNITS.items())[1:]:
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": PATTERN}),
]
