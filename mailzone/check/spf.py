"""SPF as receivers evaluate it (RFC 7208): one record, within the lookup and void limits,
`pass` for every sending address, a HELO record per sending host, and a size that fits UDP."""

from __future__ import annotations

from mailzone.check.env import CheckEnv, Question, lookup_failed
from mailzone.check.model import Finding
from mailzone.dns.query import txt_values
from mailzone.repo.project import Domain
from mailzone.spec.zone import host_fqdn
from mailzone.spf.evaluate import MAX_VOID_LOOKUPS, check_host
from mailzone.spf.terms import MAX_LOOKUPS

MAX_OCTETS = 450  # RFC 7208 section 3.4: keep the answer within 512 octets
PROBES = ("192.0.2.255", "2001:db8::ffff")  # documentation ranges: never a real sender


def check_spf(domain: Domain, env: CheckEnv) -> list[Finding]:
    """The domain's record, then each sending address, then each host's HELO record."""
    name = domain.name
    answer = env.txt(name)
    if answer.error is not None:
        return [lookup_failed("spf", name, f"TXT {name}", answer)]
    records = [
        v for v in txt_values(answer) if v.lower() == "v=spf1" or v.lower().startswith("v=spf1 ")
    ]
    if not records:
        return [Finding("spf", name, "fail", f"no SPF record at {name}", "run `mailzone apply`")]
    if len(records) > 1:
        return [
            Finding(
                "spf",
                name,
                "fail",
                f"{len(records)} SPF records at {name}: receivers answer permerror",
                "delete every v=spf1 record but the one mailzone publishes",
            )
        ]
    findings: list[Finding] = []
    record = records[0]
    size = len(record.encode())
    if size > MAX_OCTETS:
        findings.append(
            Finding(
                "spf",
                f"{name} size",
                "warn",
                f"the SPF record is {size} octets (over {MAX_OCTETS}: answers may not fit UDP)",
                "replace includes or long term lists by fewer ip4:/ip6: networks",
            )
        )
    lookup = env.spf_lookup
    # an address no record lists walks every term; IPv4 and IPv6 may take different paths
    walks = [check_host(lookup, probe, name, f"postmaster@{name}") for probe in PROBES]
    walk = max(
        walks, key=lambda w: (w.result == "permerror", w.result == "temperror", w.lookups, w.voids)
    )
    if walk.result == "temperror":  # a DNS failure on the way: cannot tell, as for senders
        findings.append(
            Finding(
                "spf",
                f"{name} limits",
                "unknown",
                f"evaluation ends in temperror: {walk.reason}",
                "retry; check the nameservers of the domains the record includes",
            )
        )
    elif walk.result == "permerror":
        findings.append(
            Finding(
                "spf",
                f"{name} limits",
                "fail",
                f"evaluation ends in {walk.result}: {walk.reason}",
                "flatten nested includes into ip4:/ip6: terms (at most 10 DNS lookups, 2 void)",
            )
        )
    else:
        findings.append(
            Finding(
                "spf",
                f"{name} limits",
                "pass",
                f"{walk.lookups} of {MAX_LOOKUPS} DNS lookups, {walk.voids} of {MAX_VOID_LOOKUPS} void",
            )
        )
    for host in domain.spec.hosts:
        if "send" not in host.roles:
            continue
        fqdn = host_fqdn(domain.spec, host)
        for ip in [*host.ipv4, *host.ipv6]:
            result = check_host(lookup, ip, name, f"postmaster@{name}")
            findings.append(
                _verdict(
                    "spf",
                    f"{name} from {ip}",
                    result.result,
                    result.reason,
                    f"{ip} ({fqdn})",
                    "list the address in the spec's hosts (role send) and apply",
                )
            )
            if host.absolute:
                continue  # mailzone does not publish a HELO record outside its zone
            helo = check_host(lookup, ip, fqdn, f"postmaster@{fqdn}", fqdn)
            findings.append(
                _verdict(
                    "spf",
                    f"HELO {fqdn} from {ip}",
                    helo.result,
                    helo.reason,
                    f"HELO {fqdn} at {ip}",
                    "run `mailzone apply` (it publishes the HELO record)",
                )
            )
    return findings


def _verdict(check: str, subject: str, result: str, reason: str, who: str, fix: str) -> Finding:
    if result == "pass":
        return Finding(check, subject, "pass", f"{who}: pass")
    if result == "temperror":
        return Finding(
            check,
            subject,
            "unknown",
            f"{who}: temperror ({reason})",
            "retry; check the nameservers",
        )
    return Finding(check, subject, "fail", f"{who}: {result} ({reason})", fix)


def ahead_spf(domain: Domain, env: CheckEnv) -> list[Question]:
    """The domain's TXT and each sending host's HELO record in the zone."""
    asks: list[Question] = [(None, domain.name, "TXT")]
    for host in domain.spec.hosts:
        if "send" in host.roles and not host.absolute:
            asks.append((None, host_fqdn(domain.spec, host), "TXT"))
    return asks
