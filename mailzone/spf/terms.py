"""RFC 7208 SPF records as text: terms (mechanisms with qualifiers, modifiers) and the static
count of DNS-lookup terms (the limit of 10)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

MAX_LOOKUPS = 10  # RFC 7208 section 4.6.4
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
_MODIFIER = re.compile(r"^([a-z][a-z0-9_.-]*)=(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Term:
    """One SPF term: a mechanism (with qualifier) or a modifier."""

    name: str  # lower-case mechanism or modifier name
    value: str  # the part after ':' or '=' (or '/' cidr for a/mx), as written
    qualifier: str = "+"
    modifier: bool = False

    @property
    def is_lookup(self) -> bool:
        """Whether the term costs one DNS lookup toward the limit of 10."""
        if self.modifier:
            return self.name == "redirect"
        return self.name in LOOKUP_MECHANISMS


def parse_terms(record: str) -> list[Term]:
    """Split a `v=spf1 ...` record into terms; raise ValueError on a malformed one."""
    parts = record.split()
    if not parts or parts[0].lower() != "v=spf1":
        raise ValueError("an SPF record must start with 'v=spf1'")
    return [parse_term(p) for p in parts[1:]]


@functools.lru_cache(maxsize=4096)  # a check run evaluates the same few terms for every domain
def parse_term(text: str) -> Term:
    """Parse one term such as `~all`, `include:_spf.example.net`, `redirect=x`, `-ip4:192.0.2.0/24`."""
    modifier = _MODIFIER.match(text)
    if modifier and modifier.group(1).lower() not in MECHANISMS:
        name, value = modifier.group(1).lower(), modifier.group(2)
        if name in ("redirect", "exp") and not value:
            raise ValueError(f"SPF term '{text}': {name}= needs a domain")
        return Term(name, value, modifier=True)
    qualifier = "+"
    body = text
    if body[:1] in "+-~?":
        qualifier, body = body[0], body[1:]
    match = re.match(r"^([a-z0-9]+)([:/].*)?$", body, re.IGNORECASE)
    if not match or match.group(1).lower() not in MECHANISMS:
        raise ValueError(f"'{text}' is not an SPF mechanism or modifier")
    name, rest = match.group(1).lower(), match.group(2) or ""
    value = rest[1:] if rest.startswith(":") else rest
    if name in ("include", "exists", "ip4", "ip6") and not value:
        raise ValueError(f"SPF term '{text}': {name} needs a value ({name}:...)")
    if name == "all" and rest:
        raise ValueError(f"SPF term '{text}': 'all' takes no value")
    return Term(name, value, qualifier)


def count_lookups(record: str) -> int:
    """DNS-lookup terms in one record, not following includes (the static count)."""
    return sum(1 for t in parse_terms(record) if t.is_lookup)
