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
from mailzone.records.tls_rpt import expand_tls_rpt
from mailzone.records.tlsa import expand_tlsa


@dataclass(frozen=True)
class Family:
    """One kind of record mailzone publishes for a domain."""

    name: str
    types: tuple[str, ...]  # the DNS types it produces
    expand: Callable[[DomainInput], list[DesiredRecord]]
    about: str  # one line for the docs
    # types it makes only at names whose first label is this (CNAME: `mta-sts`), so that a
    # hand-edited registry claiming such a type elsewhere is not trusted
    only_at: tuple[tuple[str, str], ...] = ()


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
    Family("tls_rpt", ("TXT",), expand_tls_rpt, "the `_smtp._tls` TLS-RPT record (RFC 8460)"),
    Family(
        "mta_sts",
        ("TXT", "A", "AAAA", "CNAME"),
        expand_mta_sts,
        "the `_mta-sts` TXT (its id from the policy text) and the A/AAAA or CNAME of `mta-sts`",
        only_at=(("CNAME", "mta-sts"),),
    ),
    Family(
        "dane",
        ("TLSA",),
        expand_tlsa,
        "`_25._tcp.<MX host>` TLSA 3 1 1 for the current and the next key (needs dnssec)",
        only_at=(("TLSA", "_25"),),
    ),
)
# `_report._dmarc` authorisations (records.report_auth) span domains and are added by repo's
# project loading; they are TXT too.
RECORD_TYPES: frozenset[str] = frozenset(t for f in FAMILIES for t in f.types) | {"TXT"}
# a type some family makes at any name, and the first labels of the others (CNAME: mta-sts)
_ANYWHERE = {t for f in FAMILIES for t in f.types if t not in dict(f.only_at)} | {"TXT", "SPF"}
_ONLY_AT: dict[str, set[str]] = {}
for _family in FAMILIES:
    for _type, _label in _family.only_at:
        _ONLY_AT.setdefault(_type, set()).add(_label)


def generates(kind: str, name: str) -> bool:
    """Whether some family could make a record set of type `kind` (`SPF`: the v=spf1 value of
    a TXT) at `name`, relative to its zone: what a registry claim may be trusted for."""
    return kind in _ANYWHERE or name.split(".")[0] in _ONLY_AT.get(kind, ())
