"""The ownership registry: one `_mailzone` TXT record set per zone, one value per domain,
listing the record sets mailzone created (`mailzone:1 example.org MX/@ A/mail SPF/@ ...`).

It lives in DNS, so what mailzone owns is known without the checkout, and it is written in the
same change as the records. `SPF/<name>` means only the `v=spf1` value of that TXT set.

A value may end with `key=value` notes about the domain that `apply` must remember without
writing the checkout: `dmarc=none@2026-12-01` (the DMARC policy published, and since when),
`mta_sts=none@2026-12-06~604800` (the MTA-STS mode published, since when, and the longest
`max_age` a sender may have cached). Values without notes (written before they existed) are read the same."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from typing import Any

from mailzone.records.model import DesiredRecord

REGISTRY_NAME = "_mailzone"
MAGIC = "mailzone:1"
log = logging.getLogger("mailzone.registry")

Registry = dict[str, frozenset[str]]
Notes = dict[str, dict[str, str]]  # domain → {key: value}


def owner_key(record: DesiredRecord) -> str:
    """How the registry names a record: `MX/@`, `A/mail`, `SPF/@` (only the `v=spf1` value)."""
    return f"{'SPF' if record.spf_only else record.type}/{record.name or '@'}"


def encode(
    domain: str, entries: frozenset[str] | set[str], notes: Mapping[str, str] | None = None
) -> str:
    """One registry value (plain text; octoDNS and the servers chunk long values)."""
    extra = [f"{k}={v}" for k, v in sorted((notes or {}).items())]
    return " ".join([MAGIC, domain, *sorted(entries), *extra])


def _split(value: str) -> list[str]:
    return value.replace("\\;", ";").split()


def is_ours(value: str) -> bool:
    """Whether a registry value is one mailzone wrote (`decode` ignores the others, warning)."""
    parts = _split(value)
    return len(parts) >= 2 and parts[0] == MAGIC


def _parts(
    values: list[str] | tuple[str, ...], warn: bool = True
) -> Iterator[tuple[str, list[str]]]:
    for value in values:
        parts = _split(value)
        if len(parts) < 2 or parts[0] != MAGIC:
            if warn:
                log.warning(
                    "ignoring a %s value that mailzone did not write: %.60s", REGISTRY_NAME, value
                )
            continue
        yield parts[1], parts[2:]


def decode(values: list[str] | tuple[str, ...]) -> Registry:
    """Registry values → {domain: entries}; values that are not ours are ignored."""
    out: dict[str, frozenset[str]] = {}
    for domain, tokens in _parts(values):
        # the same few claims in every zone: one string each (10,000 zones' registries)
        entries = frozenset(sys.intern(t) for t in tokens if "=" not in t)
        out[domain] = out.get(domain, frozenset()) | entries
    return out


def decode_notes(values: list[str] | tuple[str, ...]) -> Notes:
    """Registry values → {domain: {key: value}} of the notes they carry (quietly: `decode` of the
    same values warns about those that are not ours)."""
    out: Notes = {}
    for domain, tokens in _parts(values, warn=False):
        notes = out.setdefault(domain, {})
        for token in tokens:
            key, sep, value = token.partition("=")
            if sep and key and value:
                notes[key] = value
    return {d: n for d, n in out.items() if n}


def dmarc_note(policy: str, since: date) -> str:
    """The `dmarc` note: the policy published and since when (`none@2026-12-01`)."""
    return f"{policy}@{since.isoformat()}"


def parse_dmarc_note(note: str | None) -> tuple[str, date] | None:
    """`none@2026-12-01` → ('none', date(2026, 12, 1)); None if absent or malformed."""
    policy, _, when = (note or "").partition("@")
    try:
        return policy, date.fromisoformat(when)
    except ValueError:
        return None


def mta_sts_note(mode: str, since: date | None, max_age: int) -> str:
    """The `mta_sts` note: `none@2026-12-06~604800`; the desired note has no date yet
    (`none~604800`: ownership.reconcile dates it)."""
    when = f"@{since.isoformat()}" if since else ""
    return f"{mode}{when}~{max_age}"


def parse_mta_sts_note(note: str | None) -> tuple[str, date | None, int] | None:
    """`none@2026-12-06~604800` → ('none', date(2026, 12, 6), 604800); `none~604800` has no
    date; None if absent or malformed."""
    head, _, age = (note or "").partition("~")
    mode, at, when = head.partition("@")
    try:
        return mode, date.fromisoformat(when) if at else None, int(age)
    except ValueError:
        return None


def mta_sts_removal_problem(note: str | None, today: date) -> str | None:
    """Why the MTA-STS records may not go yet (None: they may): senders cache a policy for its
    max_age, so `mode: none` must have been published that long first (RFC 8461 section 8.3)."""
    live = parse_mta_sts_note(note)
    if live is None:
        return None  # published before the notes, or not by mailzone: nothing to go by
    mode, since, max_age = live
    if mode != "none" or since is None:
        return (
            f"removed while mode {mode} is published: senders keep the policy for up to "
            f"{max_age} s; set mode: none, apply, and remove mta_sts after max_age"
        )
    until = since + timedelta(seconds=max_age)
    if today < until:
        return (
            f"mode none is published since {since.isoformat()}; senders may cache the old "
            f"policy until {until.isoformat()}: keep mta_sts with mode: none until then"
        )
    return None


def mta_sts_forget_warning(note: str | None, today: date) -> str | None:
    """What deleting the MTA-STS records today leaves behind (None: nothing): a sender that
    fetched a testing or enforce policy keeps applying it for its max_age (RFC 8461 section 3.2)."""
    live = parse_mta_sts_note(note)
    if live is None:
        return None
    mode, since, max_age = live
    span = timedelta(days=-(-max_age // 86400))  # whole days, rounded up
    if mode != "none":
        until, which = today + span, f"mode {mode}"
    elif since is not None and since + span > today:
        until, which = since + span, f"mode none since {since.isoformat()}"
    else:
        return None
    return (
        f"MTA-STS ({which}, max_age {max_age} s) was published: senders that fetched a "
        f"policy may still apply it until {until.isoformat()}"
    )


def split_key(entry: str) -> tuple[str, str]:
    """`A/mail` → ('A', 'mail'); `MX/@` → ('MX', '')."""
    kind, _, name = entry.partition("/")
    return kind, "" if name == "@" else name


def entry(kind: str, name: str) -> str:
    """The registry entry for a record set (kind SPF: only the v=spf1 value of a TXT)."""
    return f"{kind}/{name or '@'}"


def is_registry(record: Any) -> bool:
    """Whether an octoDNS record is the registry itself."""
    return bool(record.name == REGISTRY_NAME and record._type == "TXT")
