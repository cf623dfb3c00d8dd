"""What one check run needs: DNS (resolver and authoritative sources), the host config, the
blocklists, the checks to skip, and the time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar, cast

from mailzone.check.model import Finding
from mailzone.dkim.store import KeyStore
from mailzone.dns.query import Answer, Dns, txt_values
from mailzone.octo.authority import Authorities
from mailzone.spec.host import HostConfig
from mailzone.spf.evaluate import Lookup, Reply

T = TypeVar("T")

# a DNS question a check will ask: (server, name, type); server None means the resolver
Question = tuple[tuple[str, int] | None, str, str]


@dataclass(frozen=True)
class Blocklist:
    """A DNS blocklist: `zone` answers 127.0.0.x for a listed address; `ipv6` if it lists IPv6."""

    zone: str
    ipv6: bool = False


# Public lists that answer queries without an account for low volumes. Spamhaus refuses queries
# that come through large public resolvers (answer 127.255.255.254): that is reported as unknown.
DEFAULT_BLOCKLISTS = (
    Blocklist("zen.spamhaus.org"),
    Blocklist("bl.spamcop.net"),
    Blocklist("psbl.surriel.com"),
)


@dataclass
class CheckEnv:
    """Shared by every check of a run; the DNS cache makes each question go out once."""

    root: Path
    host: HostConfig
    dns: Dns
    authorities: Authorities
    now: datetime
    skip: frozenset[str] = frozenset()
    blocklists: tuple[Blocklist, ...] = DEFAULT_BLOCKLISTS
    keys: KeyStore | None = None  # when this host holds the private keys (KeyStore.for_host)
    connect: dict[str, tuple[str, int]] = field(
        default_factory=dict
    )  # `host[:port]` → where to dial
    ca_file: Path | None = None  # trust this CA (tests) instead of the system's
    smtp_timeout: float = 10.0
    dmarc_none_after: timedelta = timedelta(days=30)  # then p=none deserves a warning
    # results of `once` (server probes several checks read); fresh in a copy made by `replace`
    _once: dict[str, object] = field(default_factory=dict, init=False, repr=False)
    _once_locks: dict[str, threading.Lock] = field(default_factory=dict, init=False, repr=False)
    _once_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def wants(self, family: str) -> bool:
        """Whether the family is checked in this run."""
        return family not in self.skip

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()` the first time `key` is asked in this run, its result ever after: a
        server that several checks (and domains sharing a host) look at is asked once."""
        with self._once_lock:
            lock = self._once_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._once:
                self._once[key] = compute()
            return cast(T, self._once[key])

    def resolve(self, name: str, rdtype: str, dnssec: bool = False) -> Answer:
        """Through the resolver (cached for the run); `dnssec`: with the DO bit (see
        `Answer.signed`)."""
        if dnssec:  # only then: stand-ins for Dns in tests answer resolve(name, rdtype)
            return self.dns.resolve(name, rdtype, dnssec=True)
        return self.dns.resolve(name, rdtype)

    def txt(self, name: str) -> Answer:
        """TXT through the resolver."""
        return self.resolve(name, "TXT")

    @property
    def spf_lookup(self) -> Lookup:
        """The resolver as the SPF evaluator wants it."""

        def lookup(name: str, rdtype: str) -> Reply:
            answer = self.resolve(name, rdtype)
            if answer.error is not None:
                return Reply(error=answer.error)
            if rdtype == "TXT":
                return Reply(tuple(txt_values(answer)))
            return Reply(tuple(answer.records))

        return lookup


def lookup_failed(check: str, subject: str, what: str, answer: Answer) -> Finding:
    """A question that got no usable answer: `unknown` when nothing came back (timeout, network:
    maybe only from here), `fail` when a server answered with an error (SERVFAIL, REFUSED:
    receivers get the same and defer or reject the mail)."""
    if not answer.rcode:
        return Finding(
            check,
            subject,
            "unknown",
            f"{what}: no answer ({answer.error})",
            "check the resolver (--nameserver) and the network, then retry",
        )
    return Finding(
        check,
        subject,
        "fail",
        f"{what}: {answer.error}",
        "check that the zone's nameservers serve it (receivers get the same error)",
    )
