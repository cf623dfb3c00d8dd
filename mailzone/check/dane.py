"""DANE for SMTP (RFC 7672) as senders meet it. `dane` (DNS): the TLSA set at
`_25._tcp.<host>` of each DANE host is the state's `3 1 1` set, holds nothing SMTP senders
cannot use, and the zone is signed (DNSKEY at the apex, the TLSA answer carries its RRSIG).
`dane_smtp` (network): the key each host presents over STARTTLS is in its served TLSA set.

Domains without `dane:` in the spec get no finding."""

from __future__ import annotations

from dataclasses import dataclass

from mailzone.check.env import CheckEnv, lookup_failed
from mailzone.check.model import Finding
from mailzone.check.smtp import BLOCKED
from mailzone.check.tls import starttls
from mailzone.dns.query import Answer
from mailzone.records.tlsa import MAX_TLSA, dane_hosts, tlsa_name, tlsa_rdata
from mailzone.repo.project import Domain

APPLY = "run `mailzone apply`"
SIGN = "sign the zone (e.g. BIND's dnssec-policy, or the provider's DNSSEC switch)"


@dataclass(frozen=True)
class Tlsa:
    """One served TLSA record."""

    usage: int
    selector: int
    matching: int
    data: str  # hex, lower case

    @property
    def dane_ee_sha256(self) -> bool:
        """`3 1 1`: the server key's SHA-256, what mailzone publishes."""
        return (self.usage, self.selector, self.matching) == (3, 1, 1)

    @property
    def text(self) -> str:
        """`3 1 1 <hex>`."""
        return f"{self.usage} {self.selector} {self.matching} {self.data}"


def parse_tlsa(records: list[str]) -> list[Tlsa]:
    """TLSA rdata texts (the data may be split by spaces) as records."""
    out = []
    for text in records:
        usage, selector, matching, *data = text.split()
        out.append(Tlsa(int(usage), int(selector), int(matching), "".join(data).lower()))
    return out


def check_dane(domain: Domain, env: CheckEnv) -> list[Finding]:
    """The zone's signature, then each DANE host's TLSA set against the state."""
    if domain.spec.dane is None:
        return []
    findings = [_zone_signed(domain.zone, env)]
    for host in dane_hosts(domain.spec):
        wanted = {tlsa_rdata(k.spki_sha256) for k in domain.state.tlsa if k.host == host}
        findings += _tlsa_set(host, wanted, env)
    return findings


def _zone_signed(zone: str, env: CheckEnv) -> Finding:
    answer = env.resolve(zone, "DNSKEY", dnssec=True)
    subject = f"DNSSEC {zone}"
    if answer.error is not None:
        return lookup_failed("dane", subject, f"DNSKEY {zone}", answer)
    if not answer.records:
        return Finding(
            "dane",
            subject,
            "fail",
            f"{zone} has no DNSKEY: the zone is not signed, so receivers ignore the TLSA "
            "(the spec says dnssec: true)",
            SIGN,
        )
    return Finding("dane", subject, "pass", f"{zone} is signed ({len(answer.records)} DNSKEY)")


def _tlsa_set(host: str, wanted: set[str], env: CheckEnv) -> list[Finding]:
    name = tlsa_name(host)
    answer = env.resolve(name, "TLSA", dnssec=True)
    if answer.error is not None:
        return [lookup_failed("dane", name, f"TLSA {name}", answer)]
    served = parse_tlsa(answer.records)
    findings = [_unusable(name, record) for record in served if _why_unusable(record)]
    if len(served) > MAX_TLSA:
        findings.append(
            Finding(
                "dane",
                name,
                "warn",
                f"{name} has {len(served)} TLSA records: some senders give up on more than "
                f"{MAX_TLSA}",
                "delete the records of keys no longer in use",
            )
        )
    if not wanted:
        return [
            *findings,
            Finding(
                "dane",
                name,
                "warn",
                f"the state records no TLS key of {host}, so mailzone publishes no TLSA for it",
                f"record the key {host} serves with `mailzone tlsa`, then {APPLY}",
            ),
        ]
    have = {r.text for r in served if r.dane_ee_sha256}
    problems = _differences(wanted, have)
    if problems:
        findings.append(
            Finding(
                "dane",
                name,
                "fail",
                f"{name}: {problems}: what senders trust is not the keys the state records",
                APPLY,
            )
        )
    elif not answer.signed:
        findings.append(
            Finding(
                "dane",
                name,
                "fail",
                f"{name}: the TLSA answer carries no RRSIG: receivers ignore unsigned TLSA",
                SIGN,
            )
        )
    else:
        findings.append(
            Finding("dane", name, "pass", f"{name}: {len(have)} signed TLSA 3 1 1, as in the state")
        )
    return findings


def _differences(wanted: set[str], have: set[str]) -> str:
    """What the served `3 1 1` set lacks and has beyond the state's ('' when equal)."""

    def short(texts: set[str]) -> str:
        return ", ".join(text.split()[-1][:16] + "…" for text in sorted(texts))

    missing, stale = wanted - have, have - wanted
    problems = []
    if not have:
        problems.append("no TLSA 3 1 1 record")
    elif missing:
        problems.append(f"missing {short(missing)}")
    if stale:
        problems.append(f"{len(stale)} not in the state ({short(stale)})")
    return "; ".join(problems)


def _why_unusable(record: Tlsa) -> str:
    if record.usage in (0, 1):
        return (
            f"usage {record.usage} (PKIX-{'TA' if record.usage == 0 else 'EE'}): SMTP senders "
            "treat it as unusable (RFC 7672 section 3.1.3)"
        )
    if record.matching == 0:
        return (
            "matching type 0 (the whole certificate or key): it breaks with every renewal and "
            "bloats the answer; publish its SHA-256 (matching type 1)"
        )
    return ""


def _unusable(name: str, record: Tlsa) -> Finding:
    shown = record.text if len(record.text) <= 40 else record.text[:40] + "…"
    return Finding(
        "dane",
        name,
        "warn",
        f"{name}: '{shown}' has {_why_unusable(record)}",
        "publish only 3 1 1 (DANE-EE, the key's SHA-256): delete it",
    )


# -- the key the MX presents ------------------------------------------------------------------


def check_dane_smtp(domain: Domain, env: CheckEnv) -> list[Finding]:
    """Each DANE host's STARTTLS key against the TLSA set it serves."""
    if domain.spec.dane is None:
        return []
    findings = []
    for host in dane_hosts(domain.spec):
        answer = env.resolve(tlsa_name(host), "TLSA", dnssec=True)
        findings.append(_presented_key(host, answer, env))
    return findings


def _presented_key(host: str, answer: Answer, env: CheckEnv) -> Finding:
    subject = f"DANE {host}"
    name = tlsa_name(host)
    if answer.error is not None:
        return lookup_failed("dane_smtp", subject, f"TLSA {name}", answer)
    served = {r.data for r in parse_tlsa(answer.records) if r.dane_ee_sha256}
    if not served:
        return Finding(
            "dane_smtp",
            subject,
            "unknown",
            f"{name} serves no TLSA 3 1 1 (the key's SHA-256) to compare with",
            "see the dane check",
        )
    presented = presented_spki(host, env)
    if isinstance(presented, Finding):
        return presented
    if presented not in served:
        return Finding(
            "dane_smtp",
            subject,
            "fail",
            f"{host} presents a key (SPKI SHA-256 {presented[:16]}…) that no TLSA at {name} "
            "matches: DANE senders will refuse delivery",
            "publish its TLSA and wait 2 × TTL before the MTA serves it (`mailzone tlsa`), "
            "or put the published key back",
        )
    return Finding(
        "dane_smtp", subject, "pass", f"{host} presents a key its TLSA matches ({presented[:16]}…)"
    )


def presented_spki(host: str, env: CheckEnv) -> str | Finding:
    """The SHA-256 (hex) of the SPKI of the certificate `host` presents after STARTTLS on port
    25 (the probe the smtp check makes), or the finding that says why there is none. DANE-EE
    (RFC 7672 section 3.1.1) authenticates the key alone, so a certificate that fails PKIX is
    looked at again without it; the chain, the name and the expiry are the smtp check's."""
    subject = f"DANE {host}"
    seen = starttls(env, host)
    if seen.outcome == "certificate":
        seen = starttls(env, host, verify=False)
    if seen.outcome == "ok" and seen.spki_sha256:
        return seen.spki_sha256
    if seen.outcome in ("no-address", "undialable"):
        why = seen.detail or f"{host} has no address to connect to"
        return Finding("dane_smtp", subject, "unknown", why, "check the MX's public address")
    if seen.outcome == "unreachable":
        return Finding(
            "dane_smtp",
            subject,
            "unknown",
            f"{host} ({seen.where}): {seen.detail}; {BLOCKED}",
            "check from another host, or --skip dane_smtp",
        )
    why = seen.detail or seen.outcome.replace("-", " ")
    return Finding(
        "dane_smtp",
        subject,
        "fail",
        f"{host} ({seen.where}): no STARTTLS key to compare: {why}",
        "see the smtp check",
    )
