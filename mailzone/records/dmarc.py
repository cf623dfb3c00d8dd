"""The `_dmarc` record (RFC 7489; DMARCbis tags np= and t=)."""

from __future__ import annotations

from mailzone.records.model import DesiredRecord, DomainInput, relative_name
from mailzone.spec.zone import Dmarc

_ALIGN = {"relaxed": "r", "strict": "s"}


def dmarc_value(dmarc: Dmarc) -> str:
    """`v=DMARC1; p=...` with only the tags the spec sets, v and p first."""
    tags = [("v", "DMARC1"), ("p", dmarc.policy)]
    if dmarc.subdomain_policy:
        tags.append(("sp", dmarc.subdomain_policy))
    if dmarc.nonexistent_policy:
        tags.append(("np", dmarc.nonexistent_policy))
    if dmarc.dkim_alignment:
        tags.append(("adkim", _ALIGN[dmarc.dkim_alignment]))
    if dmarc.spf_alignment:
        tags.append(("aspf", _ALIGN[dmarc.spf_alignment]))
    if dmarc.pct is not None:
        tags.append(("pct", str(dmarc.pct)))
    if dmarc.testing:
        tags.append(("t", "y"))
    if dmarc.failure_options:
        tags.append(("fo", ":".join(dmarc.failure_options)))
    if dmarc.report_format:
        tags.append(("rf", dmarc.report_format))
    if dmarc.report_interval is not None:
        tags.append(("ri", str(dmarc.report_interval)))
    if dmarc.rua:
        tags.append(("rua", ",".join(dmarc.rua)))
    if dmarc.ruf:
        tags.append(("ruf", ",".join(dmarc.ruf)))
    return "; ".join(f"{k}={v}" for k, v in tags)


def expand_dmarc(given: DomainInput) -> list[DesiredRecord]:
    """The `_dmarc` TXT, when the spec has a policy."""
    spec = given.spec
    if spec.dmarc is None:
        return []
    name = relative_name(f"_dmarc.{spec.domain}", spec.zone_name)
    dmarc = spec.dmarc
    # a long record is long for its report addresses: name the longer list
    reports = {"rua": dmarc.rua, "ruf": dmarc.ruf}
    longest = max(reports, key=lambda tag: len(",".join(reports[tag])))
    origin = ("dmarc", longest) if reports[longest] else ("dmarc",)
    return [DesiredRecord(name, "TXT", spec.ttl, (dmarc_value(dmarc),), origin=origin)]
