"""The record families, registered once. Adding a family = a field in `spec/`, a module here
with `expand_<family>(given) -> list[DesiredRecord]`, one `Family` line below, and a check in
`mailzone.check.families`. The octoDNS source's supported types come from this list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailzone.records.dkim import expand_dkim
from mailzone.records.dmarc import expand_dmarc
from mailzone.records.model import DesiredRecord, DomainInput
from mailzone.records.mta_sts import expand_mta_sts
from mailzone.records.mx import expand_addresses, expand_mx
from mailzone.records.spf import expand_spf


@dataclass(frozen=True)
class Family:
    """One kind of record mailzone publishes for a domain."""

    name: str
    types: tuple[str, ...]  # the DNS types it produces
    expand: Callable[[DomainInput], list[DesiredRecord]]
    about: str  # one line for the docs


FAMILIES: tuple[Family, ...] = (
    Family("mx", ("MX",), expand_mx, "MX at the domain for every host with the mx role"),
    Family(
        "address",
        ("A", "AAAA"),
        expand_addresses,
        "A/AAAA of hosts inside the domain and of the apex",
    ),
    Family("spf", ("TXT",), expand_spf, "SPF at the domain and a HELO SPF record per sending host"),
    Family(
        "dkim", ("TXT",), expand_dkim, "a TXT per DKIM selector (imported, or managed in the state)"
    ),
    Family("dmarc", ("TXT",), expand_dmarc, "the `_dmarc` policy record"),
    Family(
        "mta_sts",
        ("TXT", "A", "AAAA"),
        expand_mta_sts,
        "the `_mta-sts` TXT (its id from the policy text) and the A/AAAA of `mta-sts`",
    ),
)
# `_report._dmarc` authorisations (records.report_auth) span domains and are added by repo's
# project loading; they are TXT too.
RECORD_TYPES: frozenset[str] = frozenset(t for f in FAMILIES for t in f.types) | {"TXT"}
