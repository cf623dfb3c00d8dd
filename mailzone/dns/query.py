"""Queries to authoritative servers and resolvers (dnspython), with one cache per run.

    dns = Dns(resolver=("127.0.0.1", 53))
    servers = dns.nameservers("example.org.", provider.nameservers())
    seen = dns.served_everywhere("example.org.", "sel._domainkey.example.org.", value, [])
    if not seen.ok:
        print(seen.per_server)     # {'192.0.2.53:53': 'old value: v=DKIM1; ...', ...}

Every question goes out over UDP with EDNS0 (payload 1232) and is asked again over TCP when the
answer comes back truncated. ``dnssec=True`` sets the DO bit, and ``Answer.signed`` says whether
an RRSIG covering the asked type came with the answer (a separate question in the cache). A timeout, a network error or an error rcode becomes
``Answer.error``; ``query`` never raises. A question is asked at most once per ``Dns`` object,
even from several threads: make one ``Dns`` per run so later runs see fresh answers.

A server is down for the rest of the run when its first question gets no response at all
(every attempt timed out, or the port is closed): the questions that wait behind that first one,
and every later one, get the same error at once instead of each waiting ``timeout`` again. A
server that has answered once is always asked (one slow question does not make it down).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from mailzone.dns import plain as _plain  # noqa: F401  (before dkimpy's dns.resolver)
from mailzone.dns import wire
from mailzone.errors import MailzoneError
from mailzone.util.endpoint import is_ip_address, parse_endpoint

Endpoint = tuple[str, int]

_Key = tuple[Endpoint, str, str, bool]  # server, name, type, DO bit

EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: no IP fragmentation on any common path


@dataclass(frozen=True)
class Answer:
    """What one server said to one question.

    ``rcode`` is the response's rcode name (``NOERROR``, ``NXDOMAIN``, ``REFUSED``...) or ``""``
    when no response came. ``records`` is the rdata text of the answer's RRset of the asked type.
    ``error`` is None for NOERROR and NXDOMAIN, else what went wrong (``timeout``, ``REFUSED``,
    ``network error: ...``)."""

    rcode: str
    records: list[str] = field(default_factory=list)
    ttl: int | None = None
    error: str | None = None
    # TXT: each RR's strings joined and decoded, kept from the wire form so that `txt_values`
    # need not parse `records` again (None when the answer was built from text)
    texts: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    signed: bool = False  # asked with dnssec=True: an RRSIG covering the asked type came along

    @property
    def negative(self) -> bool:
        """NXDOMAIN, or NOERROR with no record of the asked type (NODATA)."""
        return self.error is None and not self.records


@dataclass(frozen=True)
class Visibility:
    """Whether every authoritative server shows something, and what each one said
    (keyed ``host:port``)."""

    ok: bool
    per_server: dict[str, str]


def endpoint_text(endpoint: Endpoint) -> str:
    """``127.0.0.1:5300``, ``[::1]:53``."""
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# a host name dnspython would write back unchanged (letters, digits, `-`, `_`; 1-63 per label,
# at most 253 in all): made absolute and lower-cased without parsing
_PLAIN_NAME = re.compile(r"(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?")


@functools.lru_cache(maxsize=65536)
def _absolute(name: str) -> str:
    # cached: every question goes through here (several times per name in a check run), and
    # parsing a name costs more than the cache lookup that answers the repeated question
    if len(name) <= 254 and _PLAIN_NAME.fullmatch(name) and len(name.rstrip(".")) <= 253:
        return (name if name.endswith(".") else name + ".").lower()
    return dns.name.from_text(name).to_text().lower()


def _no_response(error: str) -> bool:
    """Whether ``Answer.error`` says the server sent nothing back (not a bad question)."""
    return error in ("timeout", "connection refused") or error.startswith("network error")


class Dns:
    """A DNS client for one run: ``resolver`` answers name lookups (NS names, configured server
    names; default: the system's first resolver), each attempt waits at most ``timeout`` seconds,
    and a timeout or network error is retried ``retries`` more times (so one question costs at
    most ``(1 + retries) * timeout``, twice that if it also falls back to TCP)."""

    def __init__(
        self, resolver: Endpoint | None = None, timeout: float = 2.0, retries: int = 1
    ) -> None:
        self.resolver = resolver
        self.timeout = timeout
        self.retries = max(0, retries)
        self._cache: dict[_Key, Answer] = {}
        self._key_locks: dict[_Key, threading.Lock] = {}
        self._lock = threading.Lock()
        self._alive: set[Endpoint] = set()  # answered at least once in this run
        self._down: dict[Endpoint, str] = {}  # first question got no response: why
        self._first: dict[Endpoint, threading.Lock] = {}  # held while a first question is out

    def fresh(self, keep_answers: bool = False) -> Dns:
        """A client with the same settings and an empty cache (e.g. in a forked worker), or with
        a copy of this one's answers so far (``keep_answers``), but never its locks."""
        dns = Dns(self.resolver, self.timeout, self.retries)
        if keep_answers:
            dns._cache = dict(self._cache)
            dns._alive = set(self._alive)
            dns._down = dict(self._down)
        return dns

    def unreachable(self) -> dict[Endpoint, str]:
        """The servers found down in this run, and why (``timeout``, ``connection refused``,
        ``network error: ...``)."""
        with self._lock:
            return dict(self._down)

    def resolver_answered(self) -> bool:
        """Whether the resolver has answered a question in this run (it is alive)."""
        with self._lock:
            return self.resolver is not None and self.resolver in self._alive

    # -- one question ------------------------------------------------------------------------

    def query(self, endpoint: Endpoint, name: str, rdtype: str, dnssec: bool = False) -> Answer:
        """Ask ``endpoint`` for ``name``/``rdtype`` once per run; the cached answer after that.
        ``dnssec``: with the DO bit, so the answer says whether it came signed."""
        key = (endpoint, _absolute(name), rdtype.upper(), dnssec)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # a second thread asking the same question waits for the first's answer
            with self._lock:
                cached = self._cache.get(key)
            if cached is None:
                cached = self._ask_unless_down(*key)
                with self._lock:
                    self._cache[key] = cached
            return cached

    def prefetch(self, questions: Iterable[tuple[Endpoint, str, str]], window: int = 32) -> int:
        """Ask many questions at once, pipelined on one UDP socket per server (``wire.ask_many``),
        and keep the answers for ``query``: how many were answered. Only what ``query`` would
        ask the hand-packed way (an IP-literal server that has answered in this run, a type
        ``wire`` reads, no DO bit) and has not asked yet; anything not answered cleanly is left
        for ``query`` to ask with its retries and fallbacks, so the answers are the same."""
        wanted: dict[Endpoint, dict[_Key, tuple[str, str]]] = {}
        with self._lock:
            for endpoint, name, rdtype in questions:
                rdtype = rdtype.upper()
                if endpoint not in self._alive or rdtype not in wire.TYPES:
                    continue
                if not is_ip_address(endpoint[0]):
                    continue
                try:
                    key = (endpoint, _absolute(name), rdtype, False)
                except (dns.exception.DNSException, ValueError):
                    continue
                if key not in self._cache and key not in self._key_locks:
                    wanted.setdefault(endpoint, {})[key] = (key[1], rdtype)
        answered = 0
        for endpoint, keys in wanted.items():
            order = list(keys)
            replies = wire.ask_many(endpoint, [keys[k] for k in order], self.timeout, window)
            found: dict[_Key, Answer] = {}
            for index, (rcode, records, ttl, texts) in replies.items():
                if rcode in ("NOERROR", "NXDOMAIN"):
                    found[order[index]] = Answer(rcode, records, ttl, texts=texts)
                else:
                    found[order[index]] = Answer(rcode, error=rcode)
            with self._lock:
                for key, answer in found.items():
                    self._cache.setdefault(key, answer)
            answered += len(found)
        return answered

    def _ask_unless_down(
        self, endpoint: Endpoint, name: str, rdtype: str, dnssec: bool = False
    ) -> Answer:
        """``_ask``, but until ``endpoint`` has answered once its questions go out one at a
        time, and once it is known down none goes out."""
        with self._lock:
            if endpoint in self._alive:
                first = None
            else:
                first = self._first.setdefault(endpoint, threading.Lock())
        if first is None:
            return self._ask(endpoint, name, rdtype, dnssec)
        with first:
            with self._lock:
                down = self._down.get(endpoint)
                alive = endpoint in self._alive
            if down is not None:
                return Answer("", error=down)
            if not alive:
                answer = self._ask(endpoint, name, rdtype, dnssec)
                with self._lock:
                    if answer.rcode:
                        self._alive.add(endpoint)
                    elif answer.error is not None and _no_response(answer.error):
                        self._down[endpoint] = answer.error
                return answer
        return self._ask(endpoint, name, rdtype, dnssec)  # it answered while this one waited

    def _ask(self, endpoint: Endpoint, name: str, rdtype: str, dnssec: bool = False) -> Answer:
        fast = None if dnssec else self._ask_fast(endpoint, name, rdtype)
        return fast if fast is not None else self._ask_dnspython(endpoint, name, rdtype, dnssec)

    def _ask_fast(self, endpoint: Endpoint, name: str, rdtype: str) -> Answer | None:
        """The hand-packed path (see wire); None when dnspython must take over."""
        if not is_ip_address(endpoint[0]):
            return None
        error = "timeout"
        for _ in range(1 + self.retries):
            try:
                rcode, records, ttl, texts = wire.ask(endpoint, name, rdtype, self.timeout)
            except wire.Unusual:
                return None
            except TimeoutError:
                error = "timeout"
                continue
            except (ConnectionRefusedError, ConnectionResetError):
                error = "connection refused"
                continue
            except OSError as err:
                error = f"network error: {err.strerror or err}"
                continue
            if rcode not in ("NOERROR", "NXDOMAIN"):
                return Answer(rcode, error=rcode)
            return Answer(rcode, records, ttl, texts=texts)
        return Answer("", error=error)

    def _ask_dnspython(
        self, endpoint: Endpoint, name: str, rdtype: str, dnssec: bool = False
    ) -> Answer:
        import dns.query  # ~65 ms of imports (DNS over HTTPS clients) most runs never need

        host, port = endpoint
        try:
            request = dns.message.make_query(
                name, rdtype, use_edns=0, payload=EDNS_PAYLOAD, want_dnssec=dnssec
            )
        except dns.exception.DNSException as err:
            return Answer("", error=f"bad question: {err}")
        error = "timeout"
        for _ in range(1 + self.retries):
            try:
                response = dns.query.udp(request, host, timeout=self.timeout, port=port)
                if response.flags & dns.flags.TC:
                    response = dns.query.tcp(request, host, timeout=self.timeout, port=port)
                return _answer(response, rdtype)
            except dns.exception.Timeout:
                error = "timeout"
            except (ConnectionRefusedError, ConnectionResetError):
                error = "connection refused"
            except OSError as err:
                error = f"network error: {err.strerror or err}"
            except ValueError as err:  # e.g. a host name where an IP address belongs
                return Answer("", error=f"bad server address {host!r}: {err}")
            except dns.exception.DNSException as err:  # malformed or mismatched response
                return Answer("", error=f"bad response: {err}")
        return Answer("", error=error)

    def resolve(self, name: str, rdtype: str, dnssec: bool = False) -> Answer:
        """Ask the resolver (the system's, or the one given) once per run; with no resolver
        at all, an answer whose error says so (``no system resolver ...``)."""
        try:
            resolver = self._resolver()
        except MailzoneError as err:
            return Answer("", error=str(err))
        return self.query(resolver, name, rdtype, dnssec)

    def txt(self, endpoint: Endpoint, name: str) -> list[str]:
        """Each TXT RR at ``name`` as one string: its character-strings joined, as a DKIM
        verifier reassembles them. Empty on any error or negative answer."""
        answer = self.query(endpoint, name, "TXT")
        return txt_values(answer) if answer.error is None else []

    # -- the authoritative servers of a zone ---------------------------------------------------

    def nameservers(self, zone: str, configured: list[str]) -> list[Endpoint]:
        """Where ``zone`` is served: the provider's ``mailzone: nameservers`` (HOST or HOST:PORT;
        host names resolved to IPv4 through the resolver), else the zone's NS RRset, each NS
        name resolved (A and AAAA) on port 53. An empty result raises MailzoneError."""
        zone = _absolute(zone)
        found: list[Endpoint] = []
        if configured:
            for value in configured:
                try:
                    host, port = parse_endpoint(value)
                except ValueError as err:
                    raise MailzoneError(f"mailzone.nameservers: {err}") from None
                if is_ip_address(host):
                    found.append((host, port))
                    continue
                addresses = self._addresses(host, ("A",))
                if not addresses:
                    raise MailzoneError(
                        f"{zone}: configured nameserver '{value}' does not resolve to an IPv4 "
                        f"address via {endpoint_text(self._resolver())}; "
                        "give its IP address in mailzone.nameservers"
                    )
                found += [(address, port) for address in addresses]
        else:
            resolver = self._resolver()
            answer = self.query(resolver, zone, "NS")
            if answer.error is not None or not answer.records:
                said = answer.error or answer.rcode
                raise MailzoneError(
                    f"{zone}: no NS records from resolver {endpoint_text(resolver)} ({said}); "
                    "set mailzone.nameservers in the provider file"
                )
            for ns_name in answer.records:
                found += [(address, 53) for address in self._addresses(ns_name, ("A", "AAAA"))]
            if not found:
                raise MailzoneError(
                    f"{zone}: none of its nameservers ({', '.join(answer.records)}) resolves "
                    f"to an address via {endpoint_text(resolver)}; "
                    "set mailzone.nameservers in the provider file"
                )
        return list(dict.fromkeys(found))

    def _resolver(self) -> Endpoint:
        if self.resolver is None:
            try:
                import dns.resolver

                system = dns.resolver.Resolver(configure=True).nameservers
            except dns.exception.DNSException as err:
                raise MailzoneError(f"no system resolver: {err}") from None
            if not system:
                raise MailzoneError("no system resolver configured in /etc/resolv.conf")
            self.resolver = (str(system[0]), 53)
        return self.resolver

    def _addresses(self, host: str, rdtypes: tuple[str, ...]) -> list[str]:
        resolver = self._resolver()
        out: list[str] = []
        for rdtype in rdtypes:
            answer = self.query(resolver, host, rdtype)
            if answer.error is None:
                out += answer.records
        return out

    # -- what every authoritative server shows -------------------------------------------------

    def servers(self, zone: str, configured: list[str]) -> list[Server]:
        """``nameservers`` as sources to ask."""
        return [Server(self, e) for e in self.nameservers(zone, configured)]

    def served_everywhere(
        self, zone: str, name: str, expected_txt: str, configured: list[str]
    ) -> Visibility:
        """``served_by_all`` over the zone's nameservers."""
        return served_by_all(self.servers(zone, configured), name, expected_txt)

    def gone_everywhere(self, zone: str, name: str, configured: list[str]) -> Visibility:
        """``gone_from_all`` over the zone's nameservers."""
        return gone_from_all(self.servers(zone, configured), name)

    def negative_ttl(self, zone: str, configured: list[str]) -> int:
        """``negative_ttl_of`` the zone's nameservers."""
        return negative_ttl_of(self.servers(zone, configured), zone)


class Source(Protocol):
    """Something that answers for a zone as its nameservers do: a server, or a zone file."""

    @property
    def label(self) -> str:
        """How messages name it (``127.0.0.1:5300``, a file path)."""
        ...

    def query(self, name: str, rdtype: str) -> Answer:
        """The answer for ``name``/``rdtype`` (never raises)."""
        ...


@dataclass
class Server:
    """An authoritative nameserver, asked directly through a run's ``Dns``."""

    dns: Dns
    endpoint: Endpoint

    @property
    def label(self) -> str:
        """``127.0.0.1:5300``."""
        return endpoint_text(self.endpoint)

    def query(self, name: str, rdtype: str) -> Answer:
        """Ask the server (once per run)."""
        return self.dns.query(self.endpoint, name, rdtype)


def served_by_all(
    sources: Sequence[Source], name: str, expected: str, rdtype: str = "TXT"
) -> Visibility:
    """True only if every source serves ``expected`` at ``name``: for TXT exactly one RR, equal
    to it (a DKIM key); for another type (TLSA) one RR of the set, compared case-insensitively
    in its presentation form. An empty list of sources is never "served"."""
    per_server: dict[str, str] = {}
    for source in sources:
        answer = source.query(name, rdtype)
        if answer.error is not None:
            per_server[source.label] = answer.error
            continue
        if rdtype == "TXT":
            values, wanted = txt_values(answer), expected
            exact = values == [expected]
        else:
            values = [" ".join(v.lower().split()) for v in answer.records]
            wanted = " ".join(expected.lower().split())
            exact = wanted in values
        if not values:
            status = "missing"
        elif exact:
            status = "ok"
        elif wanted in values:
            status = f"{len(values)} TXT records (one is expected): {' | '.join(values)}"
        else:
            status = f"old value: {' | '.join(values)}"
        per_server[source.label] = status
    return Visibility(bool(per_server) and all(s == "ok" for s in per_server.values()), per_server)


def gone_from_all(sources: Sequence[Source], name: str) -> Visibility:
    """True only if every source answers NXDOMAIN or NODATA for TXT at ``name``."""
    per_server: dict[str, str] = {}
    for source in sources:
        answer = source.query(name, "TXT")
        if answer.error is not None:
            status = answer.error
        elif answer.negative:
            status = "gone"
        else:
            status = f"still served: {' | '.join(txt_values(answer))}"
        per_server[source.label] = status
    return Visibility(
        bool(per_server) and all(s == "gone" for s in per_server.values()), per_server
    )


def negative_ttl_of(sources: Sequence[Source], zone: str) -> int:
    """How long resolvers may cache "no such record" for ``zone``: min(SOA TTL, SOA minimum)
    (RFC 2308), from the first source that answers the SOA."""
    zone = _absolute(zone)
    said: list[str] = []
    for source in sources:
        answer = source.query(zone, "SOA")
        if answer.error is None and answer.records and answer.ttl is not None:
            minimum = int(answer.records[0].split()[6])
            return min(answer.ttl, minimum)
        said.append(f"{source.label}: {answer.error or 'no SOA'}")
    raise MailzoneError(f"{zone}: no server answered its SOA ({'; '.join(said)})")


def _answer(response: dns.message.Message, rdtype: str) -> Answer:
    rcode = dns.rcode.to_text(response.rcode())
    if rcode not in ("NOERROR", "NXDOMAIN"):
        return Answer(rcode, error=rcode)
    wanted = dns.rdatatype.from_text(rdtype)
    signed = any(
        rrset.rdtype == dns.rdatatype.RRSIG and rrset.covers == wanted for rrset in response.answer
    )
    for rrset in response.answer:  # the asked type at the name, or at the end of a CNAME chain
        if rrset.rdtype == wanted and rrset.rdclass == dns.rdataclass.IN:
            texts = None
            if wanted == dns.rdatatype.TXT:
                texts = tuple(_joined(rdata.strings) for rdata in rrset)
            records = [rdata.to_text() for rdata in rrset]
            return Answer(rcode, records, rrset.ttl, texts=texts, signed=signed)
    return Answer(rcode)


def _joined(strings: tuple[bytes, ...]) -> str:
    return b"".join(strings).decode("utf-8", errors="replace")


def txt_values(answer: Answer) -> list[str]:
    """Each TXT RR of the answer as one string (its character-strings joined)."""
    if answer.texts is not None:
        return list(answer.texts)
    out = []
    for text in answer.records:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)
        strings: tuple[bytes, ...] = rdata.strings  # type: ignore[attr-defined]
        out.append(_joined(strings))
    return out
