"""RFC 7208 SPF check_host() (sections 4 and 5), evaluated over an injected DNS lookup (so
every query goes where the caller says)."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from mailzone.spf.macros import MacroContext, expand_domain
from mailzone.spf.terms import MAX_LOOKUPS, Term, parse_terms
from mailzone.util.endpoint import ip_address

MAX_VOID_LOOKUPS = 2  # RFC 7208 section 4.6.4
MAX_NAMES = 10  # names an mx or ptr mechanism may look at


@dataclass(frozen=True)
class Reply:
    """A DNS answer as the evaluator needs it: records as text, or an error (timeout,
    SERVFAIL...); NXDOMAIN and NODATA are an empty `records` with no error."""

    records: tuple[str, ...] = ()
    error: str | None = None


Lookup = Callable[[str, str], Reply]


@dataclass(frozen=True)
class SpfResult:
    """The result of check_host(): one of pass, fail, softfail, neutral, none, permerror,
    temperror, why, and the lookups it took."""

    result: str
    reason: str
    lookups: int
    voids: int


class _Abort(Exception):
    def __init__(self, result: str, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


_QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}


def spf_records(lookup: Lookup, domain: str) -> Reply:
    """The `v=spf1` TXT records at `domain` (the TXT records' strings joined)."""
    reply = lookup(domain, "TXT")
    if reply.error:
        return reply
    found = tuple(
        r for r in reply.records if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")
    )
    return Reply(found)


@functools.lru_cache(maxsize=4096)  # the same networks for every domain of a check run
def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def check_host(lookup: Lookup, ip: str, domain: str, sender: str, helo: str = "") -> SpfResult:
    """RFC 7208 check_host(): what a receiver concludes for mail from `sender` at `ip`.

    `lookup(name, rdtype)` answers TXT, A, AAAA, MX and PTR questions (with the caller's own
    resolver: nothing here touches the network)."""
    evaluator = _Evaluator(lookup, ip, sender or f"postmaster@{domain}", helo)
    try:
        result, reason = evaluator.check(domain.rstrip(".").lower(), depth=0)
    except _Abort as abort:
        result, reason = abort.result, abort.reason
    return SpfResult(result, reason, evaluator.lookups, evaluator.voids)


class _Evaluator:
    def __init__(self, lookup: Lookup, ip: str, sender: str, helo: str) -> None:
        address = ip_address(ip)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        self.address = address
        self.lookup = lookup
        self.sender = sender
        self.helo = helo
        self.lookups = 0
        self.voids = 0

    def _count(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise _Abort(
                "permerror", f"more than {MAX_LOOKUPS} DNS-lookup terms (reached at '{term}')"
            )

    def _ask(self, name: str, rdtype: str, void_counts: bool = True) -> tuple[str, ...]:
        reply = self.lookup(name, rdtype)
        if reply.error:
            raise _Abort("temperror", f"{rdtype} {name}: {reply.error}")
        if not reply.records and void_counts:
            self.voids += 1
            if self.voids > MAX_VOID_LOOKUPS:
                raise _Abort(
                    "permerror",
                    f"more than {MAX_VOID_LOOKUPS} void lookups (the last: {rdtype} {name})",
                )
        return reply.records

    def _addresses(
        self, name: str, void_counts: bool = True
    ) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        rdtype = "A" if self.address.version == 4 else "AAAA"
        return [ip_address(r) for r in self._ask(name, rdtype, void_counts)]

    def check(self, domain: str, depth: int) -> tuple[str, str]:
        if depth > MAX_LOOKUPS:
            raise _Abort("permerror", "include/redirect loop")
        if not _valid_domain(domain):
            return "none", f"'{domain}' is not a domain name"
        reply = spf_records(self.lookup, domain)
        if reply.error:
            return "temperror", f"TXT {domain}: {reply.error}"
        if not reply.records:
            return "none", f"no SPF record at {domain}"
        if len(reply.records) > 1:
            return "permerror", f"{len(reply.records)} SPF records at {domain} (one is allowed)"
        try:
            terms = parse_terms(reply.records[0])
        except ValueError as err:
            return "permerror", f"{domain}: {err}"
        for once in ("redirect", "exp"):  # RFC 7208 section 6
            if sum(1 for t in terms if t.modifier and t.name == once) > 1:
                return "permerror", f"{domain}: {once}= appears more than once"
        ctx = MacroContext(self.sender, domain, str(self.address), self.helo, self._validated)
        redirect = None
        for term in terms:
            if term.modifier:
                if term.name == "redirect":
                    redirect = term
                continue
            if self._matches(term, domain, ctx, depth):
                shown = term.qualifier if term.qualifier != "+" else ""
                text = f"{shown}{term.name}{':' + term.value if term.value and not term.value.startswith('/') else term.value}"
                return _QUALIFIERS[term.qualifier], f"{domain}: matched '{text}'"
        if redirect is not None:
            self._count(f"redirect={redirect.value}")
            target = self._domain(redirect.value, ctx)
            result, reason = self.check(target, depth + 1)
            if result == "none":
                return "permerror", f"redirect={target}: {reason}"
            return result, reason
        return "neutral", f"{domain}: no mechanism matched"

    def _domain(self, spec: str, ctx: MacroContext) -> str:
        try:
            return expand_domain(spec, ctx).lower()
        except ValueError as err:
            raise _Abort("permerror", str(err)) from None

    def _matches(self, term: Term, domain: str, ctx: MacroContext, depth: int) -> bool:
        name = term.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            return self._in_network(term)
        self._count(f"{name}:{term.value}" if term.value else name)
        if name == "include":
            result, reason = self.check(self._domain(term.value, ctx), depth + 1)
            if result in ("temperror",):
                raise _Abort("temperror", reason)
            if result in ("permerror", "none"):
                raise _Abort("permerror", f"include:{term.value}: {reason}")
            return result == "pass"
        if name == "exists":
            return bool(self._ask(self._domain(term.value, ctx), "A"))
        target, cidr4, cidr6 = _split_cidr(term.value)
        target = self._domain(target, ctx) if target else domain
        prefix = cidr4 if self.address.version == 4 else cidr6
        if name == "a":
            return any(_within(self.address, a, prefix) for a in self._addresses(target))
        if name == "mx":
            hosts = self._ask(target, "MX")
            if len(hosts) > MAX_NAMES:
                raise _Abort("permerror", f"mx:{target} has {len(hosts)} MX records (10 at most)")
            for mx in hosts:
                exchange = mx.split()[-1].rstrip(".")
                if any(_within(self.address, a, prefix) for a in self._addresses(exchange, False)):
                    return True
            return False
        if name == "ptr":
            return self._ptr_matches(target)
        raise _Abort("permerror", f"unknown mechanism '{name}'")

    def _in_network(self, term: Term) -> bool:
        network = _network(term.value)
        if network is None:
            raise _Abort("permerror", f"'{term.name}:{term.value}' is not a network")
        if (term.name == "ip4") != (network.version == 4):
            raise _Abort("permerror", f"'{term.name}:{term.value}' has the wrong address family")
        return network.version == self.address.version and self.address in network

    def _validated(self, target: str) -> str:
        """`%{p}` (RFC 7208 7.3): the forward-confirmed PTR name of the client, preferring
        `target` itself, then a subdomain of it, then any; "unknown" if none or on a DNS error.
        These lookups are not mechanisms: they count toward neither limit."""
        reply = self.lookup(self.address.reverse_pointer, "PTR")
        rdtype = "A" if self.address.version == 4 else "AAAA"
        confirmed: list[str] = []
        for name in () if reply.error else reply.records[:MAX_NAMES]:
            host = name.rstrip(".").lower()
            forward = self.lookup(host, rdtype)
            if not forward.error and any(ip_address(a) == self.address for a in forward.records):
                confirmed.append(host)
        for pick in (
            [h for h in confirmed if h == target],
            [h for h in confirmed if h.endswith("." + target)],
            confirmed,
        ):
            if pick:
                return pick[0]
        return "unknown"

    def _ptr_matches(self, target: str) -> bool:
        names = self._ask(self.address.reverse_pointer, "PTR")
        for name in names[:MAX_NAMES]:
            host = name.rstrip(".").lower()
            try:
                confirmed = self.address in self._addresses(host, False)
            except _Abort as abort:
                if abort.result == "temperror":
                    continue  # RFC 7208 5.5: a failed forward lookup just drops the name
                raise
            if confirmed and (host == target or host.endswith("." + target)):
                return True
        return False


def _split_cidr(value: str) -> tuple[str, int, int]:
    """`example.org/24//64` → ('example.org', 24, 64); defaults /32 and /128."""
    cidr6 = 128
    if "//" in value:
        value, six = value.split("//", 1)
        cidr6 = _prefix(six, 128)
    cidr4 = 32
    if "/" in value:
        value, four = value.rsplit("/", 1)
        cidr4 = _prefix(four, 32)
    return value, cidr4, cidr6


def _prefix(text: str, limit: int) -> int:
    if not text.isdigit() or int(text) > limit:
        raise _Abort("permerror", f"'/{text}' is not a prefix length up to {limit}")
    return int(text)


def _within(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    other: ipaddress.IPv4Address | ipaddress.IPv6Address,
    prefix: int,
) -> bool:
    if address.version != other.version:
        return False
    return address in ipaddress.ip_network(f"{other}/{prefix}", strict=False)


def _valid_domain(name: str) -> bool:
    labels = name.split(".")
    return len(labels) > 1 and all(0 < len(label) < 64 for label in labels) and len(name) <= 253
