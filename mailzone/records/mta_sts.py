"""MTA-STS (RFC 8461): the policy text, its id, the `_mta-sts` TXT and the `mta-sts` host
(A/AAAA or CNAME).

`policy_text` is the single source of both the file the web server serves and the id in DNS,
so every change of the policy changes the id (and only a change does)."""

from __future__ import annotations

import hashlib

from mailzone.records.model import DesiredRecord, DomainInput, relative_name
from mailzone.spec.zone import MtaSts, ZoneSpec, host_fqdn

POLICY_PATH = ".well-known/mta-sts.txt"


def policy_mx(spec: ZoneSpec) -> list[str]:
    """The policy's `mx:` patterns: the spec's, else every MX host (by preference)."""
    assert spec.mta_sts is not None
    if spec.mta_sts.mx:
        return list(spec.mta_sts.mx)
    hosts = sorted((h.mx_priority, host_fqdn(spec, h)) for h in spec.hosts if "mx" in h.roles)
    return list(dict.fromkeys(name for _, name in hosts))


def policy_text(spec: ZoneSpec) -> str:
    """The policy file: `version`, `mode`, one `mx` per pattern, `max_age`; CRLF-separated
    (RFC 8461 section 3.2 allows CRLF or LF; its examples use CRLF)."""
    sts: MtaSts | None = spec.mta_sts
    assert sts is not None
    lines = ["version: STSv1", f"mode: {sts.mode}"]
    lines += [f"mx: {pattern}" for pattern in policy_mx(spec)]
    lines.append(f"max_age: {int(sts.max_age.total_seconds())}")
    return "".join(f"{line}\r\n" for line in lines)


def policy_id(spec: ZoneSpec) -> str:
    """The `id=` of the TXT record: 20 hex digits of the policy's SHA-256 (alphanumeric)."""
    return hashlib.sha256(policy_text(spec).encode("utf-8")).hexdigest()[:20]


def mx_covered(host: str, pattern: str) -> bool:
    """Whether an MX host matches a policy `mx:` pattern (RFC 8461 section 4.1): a wildcard
    stands for exactly one leftmost label."""
    host, pattern = host.rstrip(".").lower(), pattern.rstrip(".").lower()
    if pattern.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == pattern[2:]
    return host == pattern


def uncovered_mx(spec: ZoneSpec) -> list[str]:
    """The MX hosts no `mx:` pattern of the policy matches."""
    patterns = policy_mx(spec)
    return [
        host_fqdn(spec, h)
        for h in spec.hosts
        if "mx" in h.roles and not any(mx_covered(host_fqdn(spec, h), p) for p in patterns)
    ]


def expand_mta_sts(given: DomainInput) -> list[DesiredRecord]:
    """`_mta-sts` TXT `v=STSv1; id=...` and the A/AAAA (or the CNAME) of `mta-sts`, when the
    spec has a policy."""
    spec = given.spec
    sts = spec.mta_sts
    if sts is None:
        return []
    zone = spec.zone_name
    txt = relative_name(f"_mta-sts.{spec.domain}", zone)
    out = [
        DesiredRecord(
            txt, "TXT", spec.ttl, (f"v=STSv1; id={policy_id(spec)}",), origin=("mta_sts",)
        )
    ]
    web = relative_name(f"mta-sts.{spec.domain}", zone)
    if sts.host.cname is not None:
        out.append(DesiredRecord(web, "CNAME", spec.ttl, (f"{sts.host.cname}.",)))
    if sts.host.ipv4:
        out.append(DesiredRecord(web, "A", spec.ttl, tuple(sorted(sts.host.ipv4))))
    if sts.host.ipv6:
        out.append(DesiredRecord(web, "AAAA", spec.ttl, tuple(sorted(sts.host.ipv6))))
    return out
