"""What the authoritative nameservers serve of a domain's DKIM selectors (rotation's eyes).

Where to ask, first match wins: the host config's `nameservers` for the zone, the provider's
`mailzone: nameservers`, and for the built-in `local` provider its zone file (it *is* the live
zone); otherwise the zone's NS records through the resolver. An empty or unreachable set of
servers never counts as "served"."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mailzone.dnsq import Dns
from mailzone.errors import MailzoneError
from mailzone.hostconfig import HostConfig
from mailzone.octo.providers import LOCAL_CLASS, ProviderDef, load_provider_def
from mailzone.project import Domain


@dataclass
class Seen:
    """Per selector: served by every nameserver, gone from every one, and what each one said."""

    visible: dict[str, bool] = field(default_factory=dict)
    gone: dict[str, bool] = field(default_factory=dict)
    said: dict[str, str] = field(default_factory=dict)  # selector → why it is not (yet) there
    negative_ttl: int = 0


class Observer:
    """Asks each domain's nameservers about its selectors; one per run (answers are cached)."""

    def __init__(self, root: Path, host: HostConfig, dns: Dns) -> None:
        self.root = root
        self.host = host
        self.dns = dns
        self._defs: dict[str, ProviderDef | MailzoneError] = {}

    def _provider(self, name: str) -> ProviderDef:
        if name not in self._defs:
            try:
                self._defs[name] = load_provider_def(self.root, name)
            except MailzoneError as err:
                self._defs[name] = err
        found = self._defs[name]
        if isinstance(found, MailzoneError):
            raise found
        return found

    def observe(self, domain: Domain, pending: dict[str, str], tombstones: list[str]) -> Seen:
        """Check `pending` (selector → expected TXT) and `tombstones` (should be gone)."""
        seen = Seen()
        if not pending and not tombstones:
            return seen
        dns = self.dns
        zone = domain.zone
        names = {s: f"{s}._domainkey.{domain.name}." for s in [*pending, *tombstones]}
        configured = self.host.nameservers.get(zone)
        try:
            if configured is None:
                defn = self._provider(domain.spec.provider)
                configured = defn.section.nameservers
                if not configured and defn.class_path == LOCAL_CLASS:
                    directory = str(defn.options["directory"])
                    return _from_zone_file(domain, directory, pending, tombstones, names)
            for selector, value in pending.items():
                shown = dns.served_everywhere(zone, names[selector], value, configured)
                seen.visible[selector] = shown.ok
                if not shown.ok:
                    seen.said[selector] = _summary(shown.per_server)
            for selector in tombstones:
                gone = dns.gone_everywhere(zone, names[selector], configured)
                seen.gone[selector] = gone.ok
                if not gone.ok:
                    seen.said[selector] = _summary(gone.per_server)
            if any(seen.visible.values()):
                seen.negative_ttl = dns.negative_ttl(zone, configured)
        except MailzoneError as err:
            for selector in [*pending, *tombstones]:
                seen.visible[selector] = False
                seen.gone[selector] = False
                seen.said[selector] = str(err)
        return seen


def _summary(per_server: dict[str, str]) -> str:
    bad = {server: status for server, status in per_server.items() if status not in ("ok", "gone")}
    return "; ".join(f"{server}: {status}" for server, status in bad.items())


def _from_zone_file(
    domain: Domain,
    directory: str,
    pending: dict[str, str],
    tombstones: list[str],
    names: dict[str, str],
) -> Seen:
    """The `local` provider: read its zone file as the authoritative answer."""
    import dns.exception
    import dns.rdatatype
    import dns.zone

    seen = Seen()
    path = f"{directory}/{domain.zone}.zone"
    try:
        zone = dns.zone.from_file(path, origin=domain.zone + ".", relativize=False)
    except FileNotFoundError:
        zone = None
    except (OSError, dns.exception.DNSException) as err:
        raise MailzoneError(f"{path}: cannot read the zone file: {err}") from None

    def values(selector: str) -> list[str]:
        if zone is None:
            return []
        rdataset = zone.get_rdataset(names[selector], "TXT")
        if rdataset is None:
            return []
        return [b"".join(r.strings).decode("ascii", "replace") for r in rdataset]

    for selector, value in pending.items():
        got = values(selector)
        seen.visible[selector] = got == [value]
        if got != [value]:
            seen.said[selector] = f"{path}: {'missing' if not got else 'other value'}"
    for selector in tombstones:
        seen.gone[selector] = not values(selector)
        if values(selector):
            seen.said[selector] = f"{path}: still there"
    if zone is not None and any(seen.visible.values()):
        soa = zone.get_rdataset(domain.zone + ".", "SOA")
        if soa is not None:
            seen.negative_ttl = min(soa.ttl, soa[0].minimum)
    return seen
