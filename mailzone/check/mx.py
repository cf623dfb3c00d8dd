"""MX targets and the mail hosts' addresses: each MX target is a host name (not an IP literal,
not a CNAME) with the addresses the spec declares; each sending address has a PTR whose name
resolves back to it (FCrDNS) and is the host's own name."""

from __future__ import annotations

from mailzone.check.env import CheckEnv, Question, lookup_failed
from mailzone.check.model import Finding
from mailzone.repo.project import Domain
from mailzone.spec.zone import host_fqdn
from mailzone.util.endpoint import ip_address


def ahead_mx(domain: Domain, env: CheckEnv) -> list[Question]:
    """The MX RRset, and each declared MX host's CNAME, A and AAAA."""
    asks: list[Question] = [(None, domain.name, "MX")]
    for host in domain.spec.hosts:
        if "mx" in host.roles:
            fqdn = host_fqdn(domain.spec, host)
            asks += [(None, fqdn, "CNAME"), (None, fqdn, "A"), (None, fqdn, "AAAA")]
    return asks


def check_mx(domain: Domain, env: CheckEnv) -> list[Finding]:
    """The MX RRset as resolvers see it, then each target's addresses."""
    name = domain.name
    answer = env.resolve(name, "MX")
    if answer.error is not None:
        return [lookup_failed("mx", name, f"MX {name}", answer)]
    if not answer.records:
        return [
            Finding(
                "mx",
                name,
                "fail",
                f"no MX record at {name}: senders fall back to its A record",
                "run `mailzone apply`",
            )
        ]
    if any(record.split()[-1] == "." for record in answer.records):  # "0 ."
        return [
            Finding(
                "mx",
                name,
                "fail",
                f"{name} publishes the null MX (RFC 7505): it accepts no mail",
                "run `mailzone apply` (it publishes the spec's MX hosts)",
            )
        ]
    declared = {host_fqdn(domain.spec, h): h for h in domain.spec.hosts if "mx" in h.roles}
    findings = []
    for record in sorted(answer.records):
        target = record.split()[-1].rstrip(".").lower()
        findings.append(_target(target, declared.get(target), env))
    return findings


def _target(target: str, host: object, env: CheckEnv) -> Finding:
    subject = f"MX {target}"
    try:
        ip_address(target)
        return Finding(
            "mx",
            subject,
            "fail",
            f"MX target {target} is an IP address, not a host name",
            "point the MX at a host name with an A record",
        )
    except ValueError:
        pass
    cname = env.resolve(target, "CNAME")
    if cname.error is None and cname.records:
        return Finding(
            "mx",
            subject,
            "fail",
            f"MX target {target} is a CNAME (to {cname.records[0]}); RFC 5321 forbids it",
            "point the MX at the canonical name, or give the host its own A/AAAA records",
        )
    problems = []
    v4 = env.resolve(target, "A")
    v6 = env.resolve(target, "AAAA")
    for rdtype, got in (("A", v4), ("AAAA", v6)):
        if got.error is not None:
            problems.append(f"{rdtype}: {got.error}")
    want4 = set(getattr(host, "ipv4", []) or [])
    want6 = {str(ip_address(a)) for a in getattr(host, "ipv6", []) or []}
    have4 = set(v4.records)
    have6 = {str(ip_address(a)) for a in v6.records}
    if not have4 and not have6 and not problems:
        problems.append("no A or AAAA record")
    if want4 - have4:
        problems.append(f"A lacks {', '.join(sorted(want4 - have4))}")
    if want6 - have6:
        problems.append(f"AAAA lacks {', '.join(sorted(want6 - have6))}")
    if problems:
        return Finding(
            "mx",
            subject,
            "fail",
            f"MX target {target}: " + "; ".join(problems),
            "run `mailzone apply` (or fix the host's records where it lives)",
        )
    shown = ", ".join(sorted(have4) + sorted(have6))
    return Finding("mx", subject, "pass", f"MX target {target} resolves to {shown}")


def ahead_rdns(domain: Domain, env: CheckEnv) -> list[Question]:
    """Each sending address's PTR, and its host's address records."""
    asks: list[Question] = []
    for host in domain.spec.hosts:
        if "send" in host.roles:
            fqdn = host_fqdn(domain.spec, host)
            for ip in [*host.ipv4, *host.ipv6]:
                address = ip_address(ip)
                asks.append((None, address.reverse_pointer, "PTR"))
                asks.append((None, fqdn, "A" if address.version == 4 else "AAAA"))
    return asks


def check_rdns(domain: Domain, env: CheckEnv) -> list[Finding]:
    """Forward-confirmed reverse DNS for every address of every sending host."""
    findings = []
    for host in domain.spec.hosts:
        if "send" not in host.roles:
            continue
        fqdn = host_fqdn(domain.spec, host)
        for ip in [*host.ipv4, *host.ipv6]:
            findings.append(_fcrdns(fqdn, ip, env))
    return findings


def _fcrdns(fqdn: str, ip: str, env: CheckEnv) -> Finding:
    address = ip_address(ip)
    subject = f"PTR {ip}"
    answer = env.resolve(address.reverse_pointer, "PTR")
    advice = f"ask the address's owner (your hosting provider) to set its PTR to {fqdn}" + (
        ", or stop the MTA from sending over IPv6 (Exim: disable_ipv6 = true)"
        if address.version == 6
        else ""
    )
    if answer.error is not None:
        return lookup_failed("rdns", subject, f"PTR for {ip}", answer)
    if not answer.records:
        why = "Gmail and others reject or spam-folder mail from an address without reverse DNS"
        return Finding("rdns", subject, "fail", f"{ip} has no PTR record: {why}", advice)
    names = [r.rstrip(".").lower() for r in answer.records]
    confirmed = []
    for name in names:
        forward = env.resolve(name, "A" if address.version == 4 else "AAAA")
        if forward.error is None and any(ip_address(a) == address for a in forward.records):
            confirmed.append(name)
    if not confirmed:
        return Finding(
            "rdns",
            subject,
            "fail",
            f"{ip} → {', '.join(names)}, which does not resolve back to {ip} (not forward-confirmed)",
            f"give {names[0]} an {'A' if address.version == 4 else 'AAAA'} record {ip}, or "
            + advice,
        )
    if fqdn not in confirmed:
        return Finding(
            "rdns",
            subject,
            "warn",
            f"{ip} → {confirmed[0]}, not the host's name {fqdn} (receivers compare it with HELO)",
            f"make the MTA say HELO {confirmed[0]}, or " + advice,
        )
    return Finding("rdns", subject, "pass", f"{ip} → {fqdn} → {ip}")
