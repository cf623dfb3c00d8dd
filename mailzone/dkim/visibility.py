"""What the authoritative nameservers serve of a domain's DKIM selectors and TLSA keys
(rotation's eyes).

Where to ask, first match wins: the host config's `nameservers` for the zone, the provider's
`mailzone: nameservers`, and for the built-in `local` provider its zone file (it *is* the live
zone); otherwise the zone's NS records through the resolver. An empty or unreachable set of
servers never counts as "served"."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mailzone.dns.query import Dns, Visibility, gone_from_all, negative_ttl_of, served_by_all
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

    def served(
        self, domain: Domain, wanted: dict[str, tuple[str, str, str]]
    ) -> tuple[dict[str, Visibility], int]:
        """Whether every authoritative source of the domain's zone serves each wanted record
        (key → (name, rdtype, value), see `served_by_all`), and the zone's negative TTL once
        anything is served (else 0). MailzoneError when the sources cannot be found or none
        answers the SOA."""
        if not wanted:
            return {}, 0
        sources = self.authorities.of(domain.zone, domain.spec.provider)
        shown = {k: served_by_all(sources, n, v, t) for k, (n, t, v) in wanted.items()}
        served = any(v.ok for v in shown.values())
        return shown, negative_ttl_of(sources, domain.zone) if served else 0

    def observe(self, domain: Domain, pending: dict[str, str], tombstones: list[str]) -> Seen:
        """Check `pending` (selector → expected TXT) and `tombstones` (should be gone)."""
        seen = Seen()
        if not pending and not tombstones:
            return seen
        names = {s: f"{s}._domainkey.{domain.name}." for s in [*pending, *tombstones]}
        try:
            shown, seen.negative_ttl = self.served(
                domain, {s: (names[s], "TXT", value) for s, value in pending.items()}
            )
            for selector, visibility in shown.items():
                seen.visible[selector] = visibility.ok
                if not visibility.ok:
                    seen.said[selector] = _summary(visibility.per_server)
                    seen.lacking[selector] = _bad(visibility.per_server)
            sources = self.authorities.of(domain.zone, domain.spec.provider)
            for selector in tombstones:
                gone = gone_from_all(sources, names[selector])
                seen.gone[selector] = gone.ok
                if not gone.ok:
                    seen.said[selector] = _summary(gone.per_server)
                    seen.lacking[selector] = _bad(gone.per_server)
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
