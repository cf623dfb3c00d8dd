"""DNS blocklists: each sending address looked up in each list. Listed (127.0.0.x) fails and
names the list; an answer that means "query refused" (127.255.255.x, e.g. Spamhaus for queries
through public resolvers) or no answer at all is unknown, never "listed"; so is every address
for a list that does not list its RFC 5782 test entry 127.0.0.2 (a typo, a list shut down)."""

from __future__ import annotations

from mailzone.check.env import Blocklist, CheckEnv, Question
from mailzone.check.model import Finding
from mailzone.dns.query import txt_values
from mailzone.repo.project import Domain
from mailzone.util.endpoint import ip_address

TEST_ADDRESS = "127.0.0.2"  # RFC 5782 section 5: every DNSBL lists it


def query_name(ip: str, blocklist: Blocklist) -> str | None:
    """`25.113.0.203.zen.spamhaus.org` (IPv6: nibbles); None if the list has no IPv6."""
    address = ip_address(ip)
    if address.version == 6 and not blocklist.ipv6:
        return None
    reverse = address.reverse_pointer.rsplit(".", 2)[0]  # drop in-addr.arpa / ip6.arpa
    return f"{reverse}.{blocklist.zone}"


def ahead_blocklists(domain: Domain, env: CheckEnv) -> list[Question]:
    """Each list's test entry, and each sending address in each list."""
    asks: list[Question] = []
    for blocklist in env.blocklists:
        asks.append((None, query_name(TEST_ADDRESS, Blocklist(blocklist.zone)) or "", "A"))
        for ip in _addresses(domain):
            name = query_name(ip, blocklist)
            if name is not None:
                asks.append((None, name, "A"))
    return asks


def _addresses(domain: Domain) -> list[str]:
    return sorted({ip for h in domain.spec.hosts if "send" in h.roles for ip in [*h.ipv4, *h.ipv6]})


def check_blocklists(domain: Domain, env: CheckEnv) -> list[Finding]:
    """One finding per sending address and list."""
    findings = []
    for ip in _addresses(domain):
        for blocklist in env.blocklists:
            name = query_name(ip, blocklist)
            if name is None:
                continue
            dead = _not_working(blocklist, env)
            if dead is not None:
                findings.append(
                    Finding(
                        "blocklist",
                        f"{ip} in {blocklist.zone}",
                        "unknown",
                        dead,
                        "check the list's zone name (--blocklist) and that it still exists",
                    )
                )
                continue
            findings.append(_listed(ip, blocklist, name, env))
    return findings


def _not_working(blocklist: Blocklist, env: CheckEnv) -> str | None:
    """Why the list cannot be trusted to say "not listed", or None. RFC 5782 section 5: every
    DNSBL lists 127.0.0.2 for testing; a zone that does not (a typo, a list shut down) answers
    "not listed" for every address, which must not read as a pass."""
    answer = env.resolve(query_name(TEST_ADDRESS, Blocklist(blocklist.zone)) or "", "A")
    if answer.error is None and not answer.records:
        return (
            f"{blocklist.zone} does not list its test address {TEST_ADDRESS} (RFC 5782): "
            "not a working DNS blocklist, so 'not listed' means nothing"
        )
    return None  # errors and refusals show in the address's own lookup


def _listed(ip: str, blocklist: Blocklist, name: str, env: CheckEnv) -> Finding:
    subject = f"{ip} in {blocklist.zone}"
    answer = env.resolve(name, "A")
    if answer.error is not None:
        return Finding(
            "blocklist",
            subject,
            "unknown",
            f"{blocklist.zone}: no answer for {ip} ({answer.error})",
            "retry later",
        )
    if not answer.records:
        return Finding("blocklist", subject, "pass", f"{ip} is not listed by {blocklist.zone}")
    codes = sorted(answer.records)
    if all(c.startswith("127.255.255.") for c in codes):
        return Finding(
            "blocklist",
            subject,
            "unknown",
            f"{blocklist.zone} refused the query ({', '.join(codes)}): it does not answer this resolver",
            "check from a resolver of your own (--nameserver), not a large public one",
        )
    if not all(c.startswith("127.") for c in codes):
        return Finding(
            "blocklist",
            subject,
            "unknown",
            f"{blocklist.zone} answered {', '.join(codes)}, which is not a listing code",
            "check the list's documentation",
        )
    reason = env.txt(name)
    texts = txt_values(reason) if reason.error is None else []
    why = f": {texts[0]}" if texts else ""
    return Finding(
        "blocklist",
        subject,
        "fail",
        f"{ip} is listed by {blocklist.zone} ({', '.join(codes)}){why}",
        f"find out why at the list's web site, fix the cause, then request delisting from {blocklist.zone}",
    )
