"""The desired-record type the expansion produces, and zone-file presentation of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mailzone.spec.dkim_key import PublicKey
from mailzone.spec.state import DomainState
from mailzone.spec.zone import ZoneSpec
from mailzone.util.txt import quote_txt


@dataclass(frozen=True)
class DomainInput:
    """What a record family expands: the spec, the state, and the spec's imported DKIM keys
    (read once by `repo`; expansion never touches the disk)."""

    spec: ZoneSpec
    state: DomainState
    imported: Mapping[str, PublicKey]


@dataclass(frozen=True, order=True)
class DesiredRecord:
    """One RRset mailzone wants, relative to its zone.

    `values` are what the record says: TXT as the whole unquoted text (however long), MX as
    `10 mail.example.org.`, A/AAAA as addresses. `zone_lines()` gives the presentation form.
    `spf_only`: a TXT name where mailzone owns only the `v=spf1` value and keeps the others.
    `origin`: the spec field it comes from, as a key path (`('dmarc', 'rua')`), for errors."""

    name: str  # relative to the zone; '' is the apex
    type: str
    ttl: int
    values: tuple[str, ...]
    spf_only: bool = False
    origin: tuple[str | int, ...] = field(default=(), compare=False)

    def zone_lines(self, zone: str) -> list[str]:
        """Zone-file lines (`name ttl IN TYPE rdata`) with names relative to `zone`."""
        name = self.name or "@"
        return [f"{name} {self.ttl} IN {self.type} {rdata}" for rdata in self.rdatas()]

    def rdatas(self) -> list[str]:
        """RDATA in presentation format (TXT quoted and split at 255 octets)."""
        if self.type == "TXT":
            return [txt_rdata(v) for v in self.values]
        return list(self.values)


def relative_name(fqdn: str, zone: str) -> str:
    """`mail` from `mail.example.org` in zone `example.org`; '' for the apex."""
    fqdn, zone = fqdn.rstrip("."), zone.rstrip(".")
    if fqdn == zone:
        return ""
    if not fqdn.endswith("." + zone):
        raise ValueError(f"'{fqdn}' is not inside zone '{zone}'")
    return fqdn[: -len(zone) - 1]


def txt_rdata(value: str) -> str:
    """TXT presentation: quoted strings of at most 255 octets that reassemble to `value`."""
    data = value.encode("utf-8")
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    return " ".join(quote_txt(c) for c in chunks)
