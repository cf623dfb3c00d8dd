"""Drift: every record the spec and state want is served, exactly, by every authoritative
source of the zone, and their SOA serials agree."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor

from mailzone.check.env import CheckEnv, Question
from mailzone.check.model import Finding
from mailzone.dns.query import Answer, Server, txt_values
from mailzone.errors import MailzoneError
from mailzone.octo.authority import Authority
from mailzone.records.domain import DesiredRecord
from mailzone.repo.project import Domain

FIX_APPLY = "run `mailzone apply` (or find who changed the zone by hand)"


def check_drift(domain: Domain, env: CheckEnv) -> list[Finding]:
    """One finding per source that cannot be read, per SOA disagreement, and per record."""
    zone = domain.zone
    try:
        sources = env.authorities.of(zone, domain.spec.provider)
    except MailzoneError as err:
        return [
            Finding(
                "drift",
                zone,
                "fail",
                f"no authoritative nameserver to compare with: {err}",
                "set `nameservers` in the provider file (mailzone: section) or the host config",
            )
        ]
    findings: list[Finding] = []
    serials: dict[str, str] = {}
    readable: list[Authority] = []
    soas = _soas(sources, zone + ".")
    # no response from any of them: maybe only from here (no network), so this run cannot tell
    silent = all(not soa.rcode for soa in soas)
    for source, soa in zip(sources, soas, strict=True):
        if soa.error is not None or not soa.records:
            findings.append(
                Finding(
                    "drift",
                    source.label,
                    "unknown" if silent else "fail",
                    f"{source.label} does not answer for {zone}: {soa.error or 'no SOA'}",
                    "check that the server runs and serves the zone (other checks still ran)",
                )
            )
            continue
        readable.append(source)
        serials[source.label] = soa.records[0].split()[2]
    if len(set(serials.values())) > 1:
        shown = ", ".join(f"{label} {serial}" for label, serial in serials.items())
        findings.append(
            Finding(
                "drift",
                f"{zone} SOA",
                "fail",
                f"SOA serials differ ({shown}): a secondary has not caught up",
                "check NOTIFY/zone transfers from the primary to every secondary",
            )
        )
    elif serials:
        findings.append(
            Finding(
                "drift", f"{zone} SOA", "pass", f"serial {next(iter(serials.values()))} everywhere"
            )
        )
    if not readable:
        return findings
    for record in domain.records:
        findings.append(_record_finding(record, zone, readable))
    return findings


def _record_finding(record: DesiredRecord, zone: str, sources: list[Authority]) -> Finding:
    fqdn = f"{record.name}.{zone}" if record.name else zone
    subject = f"{record.type} {fqdn}"
    want = _normal(record.type, record.values)
    problems = []
    for source in sources:
        answer = source.query(fqdn + ".", record.type)
        if answer.error is not None:
            problems.append(f"{source.label}: {answer.error}")
            continue
        got = _served(answer, record.type)
        if record.spf_only:
            spf = {v for v in got if v.lower().startswith("v=spf1")}
            if spf != want:
                problems.append(f"{source.label}: {_show(spf) or 'no SPF record'}")
        elif got != want:
            problems.append(f"{source.label}: {_show(got) or 'missing'}")
    if problems:
        return Finding(
            "drift",
            subject,
            "fail",
            f"{subject}: want {_show(want)}; served " + "; ".join(problems),
            FIX_APPLY,
        )
    return Finding(
        "drift", subject, "pass", f"{subject} served as wanted by {len(sources)} source(s)"
    )


def _served(answer: Answer, rdtype: str) -> set[str]:
    if rdtype == "TXT":
        return set(txt_values(answer))
    return _normal(rdtype, answer.records)


def _normal(rdtype: str, values: list[str] | tuple[str, ...]) -> set[str]:
    if rdtype in ("A", "AAAA"):
        return {str(ipaddress.ip_address(v)) for v in values}
    if rdtype == "MX":
        out = set()
        for value in values:
            pref, exchange = value.split()
            out.add(f"{int(pref)} {exchange.rstrip('.').lower()}.")
        return out
    if rdtype == "CNAME":
        return {f"{v.rstrip('.').lower()}." for v in values}
    return set(values)


def _show(values: set[str]) -> str:
    return " | ".join(sorted(values))


def _soas(sources: list[Authority], zone: str) -> list[Answer]:
    """Each source's SOA, asked of all of them at once (a silent one costs one timeout)."""
    if len(sources) <= 1:
        return [source.query(zone, "SOA") for source in sources]
    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        return list(pool.map(lambda source: source.query(zone, "SOA"), sources))


def ahead_drift(domain: Domain, env: CheckEnv) -> list[Question]:
    """The zone's SOA and each wanted RRset, of each nameserver."""
    try:
        sources = env.authorities.of(domain.zone, domain.spec.provider)
    except MailzoneError:
        return []
    zone = domain.zone
    asks = [(zone + ".", "SOA")]
    asks += [(f"{r.name}.{zone}." if r.name else zone + ".", r.type) for r in domain.records]
    return [(s.endpoint, n, t) for s in sources if isinstance(s, Server) for n, t in asks]
