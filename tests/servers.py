"""Real BIND9 and PowerDNS servers on 127.0.0.1 for integration tests.

Each server runs as a child process in its own temp directory, listens on loopback only, and is
ready (every zone answers SOA) when ``start()`` returns::

    with BindServer().start(["example.org."]) as server:
        provider = make_provider(server)
        ...
        assert txt_values(server, "sel._domainkey.example.org.") == [value]

Nothing here sends a packet off the machine: no recursion, no NOTIFY, and PowerDNS's security
poll is switched off. Most tests should use the fixtures in ``tests/conftest.py`` instead.
"""

from __future__ import annotations

import atexit
import base64
import gzip
import importlib
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, NoReturn, Protocol, Self, TypeVar

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import pytest
import requests

LOOPBACK = "127.0.0.1"
TEST_NS = "ns1.test.invalid."
SOA_MINIMUM = 300
START_TIMEOUT = 15.0
_START_ATTEMPTS = 3  # a port from free_port() can be taken by someone else before we bind it
_PORT_TAKEN_SIGNS = ("in use", "unable to listen on any configured interfaces")
_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"
_PDNS_SCHEMA_CANDIDATES = (
    Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"),
    Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"),
    Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql.gz"),
)


class ServerError(RuntimeError):
    """A test DNS server did not start or take a zone; the message ends with its log's tail."""


class DnsEndpoint(Protocol):
    """Anything with an address to send DNS queries to."""

    host: str
    port: int


def free_port() -> int:
    """Return a loopback port that is free for both UDP and TCP right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((LOOPBACK, 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((LOOPBACK, port))
                except OSError:
                    continue
        return port


def find_binary(name: str) -> str | None:
    """Find a server binary on PATH or in the sbin directories (often missing from PATH)."""
    path = os.pathsep.join(filter(None, [os.environ.get("PATH"), _SBIN_PATH]))
    return shutil.which(name, path=path)


def in_ci() -> bool:
    """Whether the ``CI`` environment variable is set (to anything but 0, false, no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def not_installed(message: str) -> NoReturn:
    """Skip the test for want of a server or MTA on this machine; under CI, fail it instead."""
    if in_ci():
        pytest.fail(f"{message}; CI is set, so this is an error, not a skip")
    pytest.skip(message)


def absolute(zone: str) -> str:
    """Zone name with its trailing dot: ``example.org`` -> ``example.org.``."""
    return zone if zone.endswith(".") else f"{zone}."


def _resolve(
    server: DnsEndpoint, name: str, rdtype: str, timeout: float = 2.0
) -> dns.message.Message:
    request = dns.message.make_query(absolute(name), rdtype)
    response, _ = dns.query.udp_with_fallback(
        request, server.host, timeout=timeout, port=server.port
    )
    return response


def _lookup(server: DnsEndpoint, name: str, rdtype: str) -> dns.message.Message:
    """The server's answer; rcodes other than NOERROR and NXDOMAIN raise LookupError."""
    response = _resolve(server, name, rdtype)
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        where = f"{server.host}:{server.port}"
        raise LookupError(f"{name} {rdtype} @{where}: {dns.rcode.to_text(rcode)}")
    return response


def _answers(server: DnsEndpoint, name: str, rdtype: str) -> list[dns.rdata.Rdata]:
    response = _lookup(server, name, rdtype)
    qname = dns.name.from_text(absolute(name))
    wanted = dns.rdatatype.from_text(rdtype)
    return [
        rdata
        for rrset in response.answer
        if rrset.name == qname and rrset.rdtype == wanted
        for rdata in rrset
    ]


def query(server: DnsEndpoint, name: str, rdtype: str) -> list[str]:
    """Rdata texts (sorted) of ``name``/``rdtype``; ``[]`` for NXDOMAIN or no data.

    Any other rcode (REFUSED, SERVFAIL, ...) raises LookupError, so a zone the server does not
    serve never looks like a missing record.
    """
    return sorted(rdata.to_text() for rdata in _answers(server, name, rdtype))


def signed_rrsets(server: DnsEndpoint, name: str, rdtype: str) -> tuple[list[str], list[str]]:
    """Asked with the DO bit: the rdata texts (sorted) of ``name``/``rdtype`` and of the
    RRSIGs that cover them."""
    request = dns.message.make_query(absolute(name), rdtype, want_dnssec=True)
    response, _ = dns.query.udp_with_fallback(request, server.host, timeout=2.0, port=server.port)
    qname, wanted = dns.name.from_text(absolute(name)), dns.rdatatype.from_text(rdtype)
    records, signatures = [], []
    for rrset in response.answer:
        if rrset.name != qname:
            continue
        if rrset.rdtype == wanted:
            records += [rdata.to_text() for rdata in rrset]
        elif rrset.rdtype == dns.rdatatype.RRSIG and rrset.covers == wanted:
            signatures += [rdata.to_text() for rdata in rrset]
    return sorted(records), sorted(signatures)


def denial_types(server: DnsEndpoint, name: str) -> list[str]:
    """Asked with the DO bit for a name that does not exist: the types (sorted) in the
    authority section that prove it (SOA, NSEC or NSEC3, and their RRSIGs in a signed zone)."""
    request = dns.message.make_query(absolute(name), "A", want_dnssec=True)
    response, _ = dns.query.udp_with_fallback(request, server.host, timeout=2.0, port=server.port)
    return sorted({dns.rdatatype.to_text(rrset.rdtype) for rrset in response.authority})


def _signed_answer(server: DnsEndpoint, name: str, rdtype: str) -> bool:
    try:
        records, signatures = signed_rrsets(server, name, rdtype)
    except (dns.exception.DNSException, OSError):
        return False
    return bool(records and signatures)


def txt_values(server: DnsEndpoint, name: str) -> list[str]:
    """Each TXT RR at ``name`` with its strings joined (sorted), as a DKIM verifier sees it."""
    values = []
    for rdata in _answers(server, name, "TXT"):
        assert isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
        values.append(b"".join(rdata.strings).decode())
    return sorted(values)


def has_name(server: DnsEndpoint, name: str) -> bool:
    """Whether ``name`` exists (with any type) in a zone the server serves."""
    return _lookup(server, name, "SOA").rcode() != dns.rcode.NXDOMAIN


def zone_text(zone: str, records: Iterable[str] = (), serial: int = 1) -> str:
    """A zone file: SOA (with ``serial``) and NS like every test zone, then ``records`` (zone
    file lines, relative names allowed: ``$ORIGIN`` is the zone)."""
    zone = absolute(zone)
    return (
        f"$ORIGIN {zone}\n"
        f"$TTL {SOA_MINIMUM}\n"
        f"@ IN SOA {TEST_NS} hostmaster.test.invalid. {serial} 3600 600 86400 {SOA_MINIMUM}\n"
        f"@ IN NS {TEST_NS}\n" + "".join(f"{line}\n" for line in records)
    )


def make_provider(server: DnsServer, provider_id: str = "target") -> Any:
    """Build the octoDNS provider described by ``server.provider_config()``."""
    config = server.provider_config()
    module_name, _, class_name = config.pop("class").rpartition(".")
    provider_class = getattr(importlib.import_module(module_name), class_name)
    return provider_class(provider_id, **config)


DEFAULT_ZONES = ("example.org.",)

S_co = TypeVar("S_co", bound="DnsServer", covariant=True)


class ServerFactory(Protocol[S_co]):
    """What the ``bind_factory`` and ``pdns_factory`` fixtures give: starts a server serving
    ``zones``; the fixture stops it at teardown."""

    def __call__(self, zones: Iterable[str] = DEFAULT_ZONES) -> S_co: ...


class DnsServer(ABC):
    """One authoritative server process in a private temp dir; subclasses say how to run it."""

    binary: ClassVar[str]
    kind: ClassVar[str]
    host: str = LOOPBACK

    def __init__(self, start_timeout: float = START_TIMEOUT) -> None:
        self.start_timeout = start_timeout
        self.port = 0
        self.zones: list[str] = []
        self.workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- to be provided by subclasses -------------------------------------------------------

    @abstractmethod
    def _prepare(self, workdir: Path) -> list[str]:
        """Pick ports, write config and data under ``workdir``; return the command line."""

    def _await_ready(self, deadline: float) -> None:
        """Return once every zone in ``self.zones`` answers, or raise ServerError."""
        self._await_soa(self.zones, deadline)

    @abstractmethod
    def provider_config(self) -> dict[str, Any]:
        """The octoDNS provider block (``class`` plus keyword arguments) for this server."""

    @abstractmethod
    def add_zone(self, name: str) -> None:
        """Serve one more (empty) zone; returns once it answers SOA."""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, zones: Iterable[str] = ()) -> Self:
        """Start the server serving ``zones`` (each with SOA and NS only) and wait until ready."""
        if self._process is not None:
            raise RuntimeError(f"{self.kind} server already running")
        self.zones = [absolute(zone) for zone in zones]
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.workdir = Path(tempfile.mkdtemp(prefix=f"mailzone-{self.kind}-"))
            try:
                self._spawn(self._prepare(self.workdir))
                self._await_ready(time.monotonic() + self.start_timeout)
                return self
            except ServerError:
                log = self.log_tail().lower()
                port_taken = any(sign in log for sign in _PORT_TAKEN_SIGNS)
                self.stop()
                if not port_taken or attempt == _START_ATTEMPTS:
                    raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL), wait for it and delete the temp dir."""
        process, self._process = self._process, None
        if process is not None:
            _running.discard(self)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def log_path(self) -> Path:
        """The file that receives the server's stdout and stderr."""
        if self.workdir is None:
            raise RuntimeError(f"{self.kind} server not started")
        return self.workdir / "server.log"

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the server's log ('' if there is none)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, RuntimeError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- helpers for subclasses ---------------------------------------------------------------

    def _spawn(self, argv: list[str]) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _running.add(self)

    def _fail(self, what: str) -> ServerError:
        return ServerError(
            f"{self.kind} on {self.host}:{self.port}: {what}\n"
            f"--- last lines of {self.binary}'s output ---\n{self.log_tail()}"
        )

    def _check_alive(self) -> None:
        if self._process is None or self._process.poll() is not None:
            code = None if self._process is None else self._process.returncode
            raise self._fail(f"process exited with status {code}")

    def _await_signed(self, zone: str, deadline: float) -> None:
        """Wait until the zone serves its DNSKEY with an RRSIG, and its SOA is signed too."""
        while True:
            self._check_alive()
            if all(_signed_answer(self, zone, rdtype) for rdtype in ("DNSKEY", "SOA")):
                return
            if time.monotonic() > deadline:
                raise self._fail(f"zone {zone} is not signed yet (no DNSKEY with its RRSIG)")
            time.sleep(0.1)

    def _await_soa(self, zones: Iterable[str], deadline: float) -> None:
        pending = list(zones)
        while pending:
            self._check_alive()
            try:
                # Short timeout: a query sent before the socket is bound is silently lost.
                response = _resolve(self, pending[0], "SOA", timeout=0.2)
                if response.rcode() == dns.rcode.NOERROR and response.answer:
                    pending.pop(0)
                    continue
            except (dns.exception.DNSException, OSError):
                pass
            if time.monotonic() > deadline:
                raise self._fail(f"zone {pending[0]} does not answer SOA")
            time.sleep(0.05)


class BindServer(DnsServer):
    """BIND9 ``named`` taking RFC 2136 updates and AXFR signed with one TSIG key.

    ``zone_texts`` maps zone names to whole zone files (see ``zone_text()``) to serve instead of
    the bare SOA and NS: reverse zones, blocklists, or a zone with a chosen SOA serial::

        BindServer(zone_texts={"bl.test.": zone_text("bl.test.", ["2.0.0.127 A 127.0.0.2"])})

    ``signed`` zones are DNSSEC-signed by named itself (``dnssec-policy default`` with inline
    signing, keys under the temp dir): ``start()`` returns once each serves DNSKEY and its
    RRSIGs. Updates go to the unsigned zone and named signs them; AXFR gives the signed zone.
    """

    binary = "named"
    kind = "bind"
    key_algorithm = "hmac-sha256"

    def __init__(
        self,
        start_timeout: float = START_TIMEOUT,
        zone_texts: Mapping[str, str] | None = None,
        signed: Iterable[str] = (),
    ) -> None:
        super().__init__(start_timeout)
        self.key_name = "mailzone-test-key."
        self.key_secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.zone_texts = {absolute(zone): text for zone, text in (zone_texts or {}).items()}
        self.signed = frozenset(absolute(zone) for zone in signed)

    def _await_ready(self, deadline: float) -> None:
        self._await_soa(self.zones, deadline)
        for zone in sorted(self.signed):
            self._await_signed(zone, deadline)

    def provider_config(self) -> dict[str, Any]:
        return {
            "class": "octodns_bind.Rfc2136Provider",
            "host": self.host,
            "port": self.port,
            "key_name": self.key_name,
            "key_secret": self.key_secret,
            "key_algorithm": self.key_algorithm,
        }

    def add_zone(self, name: str, text: str | None = None) -> None:
        """Add the zone to named.conf and reload named (SIGHUP); no rndc needed. ``text``: the
        zone file to serve (default: SOA and NS only)."""
        zone = absolute(name)
        if self._process is None or self.workdir is None:
            raise RuntimeError("bind server not started")
        if text is not None:
            self.zone_texts[zone] = text
        self.zones.append(zone)
        self._write_config(self.workdir)
        self._process.send_signal(signal.SIGHUP)
        self._await_soa([zone], time.monotonic() + self.start_timeout)

    def _prepare(self, workdir: Path) -> list[str]:
        self.port = free_port()
        (workdir / "zones").mkdir()
        (workdir / "keys").mkdir()
        self._write_config(workdir)
        named = find_binary(self.binary) or self.binary
        # -g: foreground, log to stderr. No -u: named keeps the caller's uid, which owns workdir.
        return [named, "-4", "-g", "-c", str(workdir / "named.conf")]

    def _write_config(self, workdir: Path) -> None:
        for zone in self.zones:
            path = self._zone_file(workdir, zone)
            if not path.exists() and zone in self.zone_texts:
                path.write_text(self.zone_texts[zone])
            elif not path.exists():
                path.write_text(
                    f"$TTL {SOA_MINIMUM}\n"
                    f"{zone} IN SOA {TEST_NS} hostmaster.test.invalid. 1 3600 600 86400 "
                    f"{SOA_MINIMUM}\n"
                    f"{zone} IN NS {TEST_NS}\n"
                )
        (workdir / "named.conf").write_text(self._named_conf(workdir))

    def _zone_file(self, workdir: Path, zone: str) -> Path:
        return workdir / "zones" / f"{zone.rstrip('.') or 'root'}.db"

    def _named_conf(self, workdir: Path) -> str:
        key = self.key_name
        signing = (
            "  dnssec-policy default;\n  inline-signing yes;\n"
            f'  key-directory "{workdir / "keys"}";\n'
        )
        zones = "".join(
            f'zone "{zone}" {{\n'
            f"  type primary;\n"
            f'  file "{self._zone_file(workdir, zone)}";\n'
            f'  update-policy {{ grant "{key}" zonesub ANY; }};\n'
            f'  allow-transfer {{ key "{key}"; }};\n'
            f"{signing if zone in self.signed else ''}"
            f"}};\n"
            for zone in self.zones
        )
        return (
            f'key "{key}" {{ algorithm {self.key_algorithm}; secret "{self.key_secret}"; }};\n'
            f"options {{\n"
            f'  directory "{workdir}";\n'
            f'  pid-file "{workdir}/named.pid";\n'
            f'  lock-file "{workdir}/named.lock";\n'
            f'  session-keyfile "{workdir}/session.key";\n'
            f'  managed-keys-directory "{workdir}";\n'
            f'  dump-file "{workdir}/named_dump.db";\n'
            f'  statistics-file "{workdir}/named.stats";\n'
            f'  memstatistics-file "{workdir}/named.memstats";\n'
            f'  secroots-file "{workdir}/named.secroots";\n'
            f'  recursing-file "{workdir}/named.recursing";\n'
            f"  geoip-directory none;\n"
            f"  listen-on port {self.port} {{ {LOOPBACK}; }};\n"
            f"  listen-on-v6 {{ none; }};\n"
            f"  query-source address {LOOPBACK};\n"
            f"  transfer-source {LOOPBACK};\n"
            f"  recursion no;\n"
            f"  notify no;\n"
            f"  dnssec-validation no;\n"
            f"}};\n"
            f"controls {{ }};\n"
            f"{zones}"
        )


class PowerDnsServer(DnsServer):
    """PowerDNS Authoritative (gsqlite3 backend) managed through its HTTP API.

    ``signed`` zones are secured by ``pdnsutil secure-zone`` once created (PowerDNS signs every
    answer on the fly); ``start()`` returns once each serves DNSKEY and its RRSIGs."""

    binary = "pdns_server"
    kind = "powerdns"

    def __init__(self, start_timeout: float = START_TIMEOUT, signed: Iterable[str] = ()) -> None:
        super().__init__(start_timeout)
        self.api_port = 0
        self.api_key = secrets.token_hex(16)
        self.signed = frozenset(absolute(zone) for zone in signed)

    @property
    def api_url(self) -> str:
        """Base URL of this server's ``localhost`` API server object."""
        return f"http://{self.host}:{self.api_port}/api/v1/servers/localhost"

    def provider_config(self) -> dict[str, Any]:
        return {
            "class": "octodns_powerdns.PowerDnsProvider",
            "host": self.host,
            "port": self.api_port,
            "api_key": self.api_key,
            "enable_dynamic": False,
            "timeout": 10,
        }

    def add_zone(self, name: str) -> None:
        """Create the zone through the API (never pdnsutil: its zones are REFUSED for 300 s)."""
        zone = absolute(name)
        self._create_zone(zone)
        self.zones.append(zone)
        self._await_soa([zone], time.monotonic() + self.start_timeout)

    def _prepare(self, workdir: Path) -> list[str]:
        self.port = free_port()
        self.api_port = free_port()
        database = workdir / "pdns.sqlite3"
        with closing(sqlite3.connect(database)) as db:
            db.executescript(_pdns_schema())
        settings = {
            "launch": "gsqlite3",
            "gsqlite3-database": str(database),
            "local-address": LOOPBACK,
            "local-port": str(self.port),
            "query-local-address": LOOPBACK,
            "api": "yes",
            "api-key": self.api_key,
            "webserver": "yes",
            "webserver-address": LOOPBACK,
            "webserver-port": str(self.api_port),
            "webserver-allow-from": "127.0.0.0/8",
            "daemon": "no",
            "guardian": "no",
            "disable-syslog": "yes",
            "socket-dir": str(workdir),
            "security-poll-suffix": "",  # else it queries secpoll.powerdns.com at start
            "default-soa-content": f"{TEST_NS} hostmaster.@ 0 10800 3600 604800 {SOA_MINIMUM}",
            # No caches: a test reads its writes at once.
            "cache-ttl": "0",
            "query-cache-ttl": "0",
            "negquery-cache-ttl": "0",
            "distributor-threads": "1",
            "receiver-threads": "1",
            # DNSSEC (used by signed zones only): keys in the database, read at once
            "gsqlite3-dnssec": "yes",
            "dnssec-key-cache-ttl": "0",
            "domain-metadata-cache-ttl": "0",
        }
        (workdir / "pdns.conf").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        pdns = find_binary(self.binary) or self.binary
        return [pdns, f"--config-dir={workdir}"]

    def _await_ready(self, deadline: float) -> None:
        while True:
            self._check_alive()
            try:
                response = requests.get(
                    self.api_url, headers={"X-API-Key": self.api_key}, timeout=1
                )
                if response.ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise self._fail(f"API on port {self.api_port} does not answer")
            time.sleep(0.05)
        for zone in self.zones:
            self._create_zone(zone)
        self._await_soa(self.zones, deadline)
        for zone in sorted(self.signed):
            self._secure(zone)
            self._await_signed(zone, deadline)

    def _secure(self, zone: str) -> None:
        if self.workdir is None:
            raise RuntimeError("powerdns server not started")
        pdnsutil = find_binary("pdnsutil") or "pdnsutil"
        done = subprocess.run(
            [pdnsutil, f"--config-dir={self.workdir}", "secure-zone", zone],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise self._fail(f"pdnsutil secure-zone {zone}: {done.stderr.strip()}")

    def _create_zone(self, zone: str) -> None:
        response = requests.post(
            f"{self.api_url}/zones",
            headers={"X-API-Key": self.api_key},
            json={
                "name": zone,
                "kind": "Native",
                "nameservers": [TEST_NS],
                "soa_edit_api": "DEFAULT",
            },
            timeout=10,
        )
        if response.status_code != 201:
            raise self._fail(f"creating zone {zone}: HTTP {response.status_code} {response.text}")


def _pdns_schema() -> str:
    for path in _PDNS_SCHEMA_CANDIDATES:
        if path.exists():
            if path.suffix == ".gz":
                return gzip.decompress(path.read_bytes()).decode()
            return path.read_text()
    raise ServerError(
        "schema.sqlite3.sql not found; install pdns-backend-sqlite3 (looked in "
        + ", ".join(str(path) for path in _PDNS_SCHEMA_CANDIDATES)
        + ")"
    )


_running: set[DnsServer] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Last resort if a test run dies before its fixtures tear down."""
    for server in list(_running):
        server.stop()
