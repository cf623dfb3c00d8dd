"""The authoritative sources of a domain's zone, each answerable like a nameserver.

First match wins: the host config's `nameservers` for the zone, the provider's `mailzone:
nameservers`, the built-in `local` provider's zone file (it *is* the live zone), else the zone's
NS records looked up through the resolver. An empty or unresolvable set is an error, never a
silent pass."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import dns.exception
import dns.rdataclass
import dns.rdatatype

from mailzone.dns.query import Answer, Dns, Source
from mailzone.errors import MailzoneError
from mailzone.octo.providers import LOCAL_CLASS, ProviderDef, load_provider_def
from mailzone.spec.host import HostConfig

if TYPE_CHECKING:
    import dns.zone


Authority = Source


class ZoneFile:
    """The `local` provider's zone file, read once."""

    def __init__(self, path: Path, origin: str) -> None:
        self.path = path
        self.label = str(path)
        self._origin = origin.rstrip(".") + "."
        self._zone: dns.zone.Zone | None = None
        self._error: str | None = None
        self._loaded = False
        self._lock = threading.Lock()

    def _load(self) -> dns.zone.Zone | None:
        with self._lock:
            if not self._loaded:
                import dns.zone

                self._loaded = True
                try:
                    self._zone = dns.zone.from_file(
                        str(self.path), origin=self._origin, relativize=False
                    )
                except FileNotFoundError:
                    self._error = "no zone file (run mailzone apply)"
                except (OSError, dns.exception.DNSException) as err:
                    self._error = f"unreadable zone file: {err}"
            return self._zone

    def query(self, name: str, rdtype: str) -> Answer:
        """The records at `name` as a nameserver would answer (NXDOMAIN/NODATA as empty)."""
        zone = self._load()
        if zone is None:
            return Answer("", error=self._error)
        absolute = name.rstrip(".").lower() + "."
        try:
            node = zone.get_node(absolute)
        except KeyError:
            node = None
        if node is None:
            inside = absolute == self._origin or absolute.endswith("." + self._origin)
            return Answer("NXDOMAIN" if inside else "REFUSED", error=None if inside else "REFUSED")
        rdataset = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype))
        if rdataset is None:
            return Answer("NOERROR")
        return Answer("NOERROR", [r.to_text() for r in rdataset], rdataset.ttl)


class Authorities:
    """Finds each zone's authoritative sources (provider files read once per run)."""

    def __init__(self, root: Path, host: HostConfig, dns: Dns) -> None:
        self.root = root
        self.host = host
        self.dns = dns
        self._defs: dict[str, ProviderDef | MailzoneError] = {}
        self._found: dict[tuple[str, str], list[Authority] | MailzoneError] = {}
        self._lock = threading.Lock()

    def provider(self, name: str) -> ProviderDef:
        """The provider's definition; MailzoneError if its file is wrong."""
        with self._lock:
            if name not in self._defs:
                try:
                    self._defs[name] = load_provider_def(self.root, name)
                except MailzoneError as err:
                    self._defs[name] = err
            found = self._defs[name]
        if isinstance(found, MailzoneError):
            raise found
        return found

    def of(self, zone: str, provider: str) -> list[Authority]:
        """The sources for `zone` at `provider`; MailzoneError when there are none."""
        key = (zone, provider)
        with self._lock:
            cached = self._found.get(key)
        if cached is None:
            try:
                cached = self._lookup(zone, provider)
            except MailzoneError as err:
                cached = err
            with self._lock:
                self._found[key] = cached
        if isinstance(cached, MailzoneError):
            raise cached
        return cached

    def _lookup(self, zone: str, provider: str) -> list[Authority]:
        configured = self.host.nameservers.get(zone)
        if configured is None:
            defn = self.provider(provider)
            configured = defn.nameservers()
            if not configured and defn.class_path == LOCAL_CLASS:
                return [ZoneFile(Path(str(defn.options["directory"])) / f"{zone}.zone", zone)]
        return list(self.dns.servers(zone, configured))
