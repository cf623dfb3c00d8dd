"""The ownership registry: one `_mailzone` TXT record set per zone, one value per domain,
listing the record sets mailzone created (`mailzone:1 example.org MX/@ A/mail SPF/@ ...`).

It lives in DNS, so what mailzone owns is known without the checkout, and it is written in the
same change as the records. `SPF/<name>` means only the `v=spf1` value of that TXT set."""

from __future__ import annotations

import logging
from typing import Any

from mailzone.records.model import DesiredRecord

REGISTRY_NAME = "_mailzone"
MAGIC = "mailzone:1"
log = logging.getLogger("mailzone.registry")

Registry = dict[str, frozenset[str]]


def owner_key(record: DesiredRecord) -> str:
    """How the registry names a record: `MX/@`, `A/mail`, `SPF/@` (only the `v=spf1` value)."""
    return f"{'SPF' if record.spf_only else record.type}/{record.name or '@'}"


def encode(domain: str, entries: frozenset[str] | set[str]) -> str:
    """One registry value (plain text; octoDNS and the servers chunk long values)."""
    return " ".join([MAGIC, domain, *sorted(entries)])


def decode(values: list[str] | tuple[str, ...]) -> Registry:
    """Registry values → {domain: entries}; values that are not ours are ignored."""
    out: dict[str, frozenset[str]] = {}
    for value in values:
        parts = value.replace("\\;", ";").split()
        if len(parts) < 2 or parts[0] != MAGIC:
            log.warning(
                "ignoring a %s value that mailzone did not write: %.60s", REGISTRY_NAME, value
            )
            continue
        out[parts[1]] = out.get(parts[1], frozenset()) | frozenset(parts[2:])
    return out


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
