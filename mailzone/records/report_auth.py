"""DMARC external report authorisation (RFC 7489 section 7.1): when domain A sends aggregate
or failure reports to an address at B, receivers deliver them only if B publishes
`A._report._dmarc.B` TXT `v=DMARC1`. When B is also in the repository, mailzone publishes it."""

from __future__ import annotations

from collections.abc import Iterable

from mailzone.records.model import DesiredRecord, relative_name
from mailzone.spec.zone import ZoneSpec


def report_destinations(spec: ZoneSpec) -> list[str]:
    """The domains of the spec's rua/ruf addresses outside its own domain, sorted."""
    if spec.dmarc is None:
        return []
    out = set()
    for uri in [*spec.dmarc.rua, *spec.dmarc.ruf]:
        dest = uri.split("@", 1)[1].split("!", 1)[0].rstrip(".").lower()
        if dest != spec.domain and not dest.endswith("." + spec.domain):
            out.add(dest)
    return sorted(out)


def authorisations(receiver: ZoneSpec, pairs: Iterable[tuple[str, str]]) -> list[DesiredRecord]:
    """TXT `v=DMARC1` at `<sender>._report._dmarc.<dest>` for each (sender, dest) pair whose
    reports `receiver` takes (dest is `receiver`'s domain or a name under it)."""
    zone = receiver.zone_name
    return [
        DesiredRecord(
            relative_name(f"{sender}._report._dmarc.{dest}", zone),
            "TXT",
            receiver.ttl,
            ("v=DMARC1",),
        )
        for sender, dest in sorted(set(pairs))
    ]
