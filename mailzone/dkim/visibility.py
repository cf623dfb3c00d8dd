"""What the authoritative nameservers serve of a domain's DKIM selectors (rotation's eyes).

Where to ask, first match wins: the host config's `nameservers` for the zone, the provider's
`mailzone: nameservers`, and for the built-in `local` provider its zone file (it *is* the live
zone); otherwise the zone's NS records through the resolver. An empty or unreachable set of
servers never counts as "served"."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mailzone.dns.query import Dns, gone_from_all, negative_ttl_of, served_by_all
from mailzone.errors import MailzoneError
from mailzone.octo.authority import Authorities
from mailzone.repo.project import Domain
from mailzone.spec.host import HostConfig


@dataclass
class Seen:
    """Per selector: served by every nameserver, gone from every one, and what each one said."""

    visible: dict[str, bool] = field(default_factory=dict)
    gone: dict[str, bool] = field(default_factory=dict)
    said: dict[str, str] = field(default_factory=dict)  # selector → why it is not (yet) there
    # selector → {server: what it answered}, for the servers that are not as wanted
    lacking: dict[str, dict[str, str]] = field(default_factory=dict)
    negative_ttl: int = 0


class Observer:
    """Asks each domain's authoritative sources about its selectors; one per run (answers are
    cached)."""

    def __init__(self, root: Path, host: HostConfig, dns: Dns) -> None:
        self.authorities = Authorities(root, host, dns)

    def observe(self, domain: Domain, pending: dict[str, str], tombstones: list[str]) -> Seen:
        """Check `pending` (selector → expected TXT) and `tombstones` (should be gone)."""
        seen = Seen()
        if not pending and not tombstones:
            return seen
        names = {s: f"{s}._domainkey.{domain.name}." for s in [*pending, *tombstones]}
        try:
            sources = self.authorities.of(domain.zone, domain.spec.provider)
            for selector, value in pending.items():
                shown = served_by_all(sources, names[selector], value)
                seen.visible[selector] = shown.ok
                if not shown.ok:
                    seen.said[selector] = _summary(shown.per_server)
                    seen.lacking[selector] = _bad(shown.per_server)
            for selector in tombstones:
                gone = gone_from_all(sources, names[selector])
                seen.gone[selector] = gone.ok
                if not gone.ok:
                    seen.said[selector] = _summary(gone.per_server)
                    seen.lacking[selector] = _bad(gone.per_server)
            if any(seen.visible.values()):
                seen.negative_ttl = negative_ttl_of(sources, domain.zone)
        except MailzoneError as err:
            for selector in [*pending, *tombstones]:
                seen.visible[selector] = False
                seen.gone[selector] = False
                seen.said[selector] = str(err)
        return seen


def _bad(per_server: dict[str, str]) -> dict[str, str]:
    return {server: status for server, status in per_server.items() if status not in ("ok", "gone")}


def _summary(per_server: dict[str, str]) -> str:
    bad = _bad(per_server)
    return "; ".join(f"{server}: {status}" for server, status in bad.items())
