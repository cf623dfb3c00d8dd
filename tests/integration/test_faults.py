"""Faults on the DNS side: a server that is down, silent, refusing or not serving a zone, and
provider files that are wrong. Each one is one error line naming the provider, exit 1, no
traceback, no secret in any output, and no change in live DNS (checked by querying the server).

Secrets (TSIG key, API key) always reach mailzone through `env/VAR`; `mailzone()` checks that no
value passed in the environment is ever printed."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli import files, line_of, mailzone, refused
from tests.helpers import basic_spec, write_spec
from tests.servers import BindServer, DnsServer, PowerDnsServer, free_port, query

pytestmark = pytest.mark.integration

SECRET_VAR = "MAILZONE_TEST_SECRET"
SECRET_OPTION = {"bind": "key_secret", "powerdns": "api_key"}
# a valid base64 TSIG secret (and API key) that no test server uses
WRONG_SECRET = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC0xMjM0NTY="
LIVE = [
    ("{d}.", "SOA"),
    ("{d}.", "MX"),
    ("{d}.", "TXT"),
    ("mail.{d}.", "A"),
    ("_dmarc.{d}.", "TXT"),
    ("_mailzone.{d}.", "TXT"),
]


def live(server: DnsServer, domain: str = "example.org") -> dict[tuple[str, str], list[str]]:
    """What the server answers for the names mailzone writes (the SOA serial shows any update)."""
    return {(name, rtype): query(server, name.format(d=domain), rtype) for name, rtype in LIVE}


def write_provider(root: Path, config: dict[str, Any], name: str = "dns") -> str:
    """providers/<name>.yaml from an octoDNS block (yaml.safe_dump, keys sorted); its text."""
    path = root / "providers" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config)
    path.write_text(text)
    return text


def env_secret_config(server: DnsServer) -> tuple[dict[str, Any], str]:
    """The server's provider block with its secret replaced by `env/SECRET_VAR`; the secret."""
    config = server.provider_config()
    option = SECRET_OPTION[server.kind]
    secret = str(config[option])
    config[option] = f"env/{SECRET_VAR}"
    return config, secret


def setup_repo(root: Path, server: DnsServer, *domains: str) -> str:
    """Specs for `domains` on provider `dns` = the server; returns the real secret."""
    config, secret = env_secret_config(server)
    write_provider(root, config)
    for domain in domains or ("example.org",):
        write_spec(root, domain, basic_spec(domain, provider="dns"))
    return secret


# -- pending changes and the exit code -------------------------------------------------------


def test_plan_exit_code_is_2_while_pending_and_0_after_apply(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    env = {SECRET_VAR: setup_repo(tmp_path, dns_server)}

    pending = mailzone(tmp_path, "plan", "--exit-code", env=env)
    assert (pending.code, pending.err) == (2, "")
    assert query(dns_server, "example.org.", "MX") == []

    applied = mailzone(tmp_path, "apply", "--yes", env=env)
    assert applied.code == 0, applied.out + applied.err
    assert "applied   example.org: 7 change(s)" in applied.out
    assert query(dns_server, "example.org.", "MX") == ["10 mail.example.org."]

    done = mailzone(tmp_path, "plan", "--exit-code", env=env)
    assert (done.code, done.err) == (0, "")
    assert "no changes" in done.out


# -- the server refuses -----------------------------------------------------------------------


def test_wrong_tsig_secret_is_refused_and_changes_nothing(
    tmp_path: Path, bind_server: BindServer
) -> None:
    real = setup_repo(tmp_path, bind_server)
    before = live(bind_server)
    expected = (
        "example.org: provider 'dns': AxfrSourceZoneTransferFailed: Unable to Perform Zone Transfer: "
        "The peer didn't like the signature we sent"
    )

    for args in (("plan",), ("apply", "--yes"), ("-v", "-v", "apply", "--yes")):
        run = mailzone(tmp_path, *args, env={SECRET_VAR: WRONG_SECRET}, debug="-v" in args)
        assert refused(run) == expected, args
        assert real not in run.out + run.err
    assert "failed    example.org\n" in run.out
    assert live(bind_server) == before
    assert not (tmp_path / "build").exists()


def test_tsig_secret_never_printed_even_with_debug_logging(
    tmp_path: Path, bind_server: BindServer
) -> None:
    env = {SECRET_VAR: setup_repo(tmp_path, bind_server)}

    run = mailzone(tmp_path, "-v", "-v", "apply", "--yes", env=env)  # checks the secret

    assert run.code == 0
    assert "DEBUG" in run.err  # the logging that could leak it was on


@pytest.mark.zones("example.org.")
def test_apply_applies_the_served_zone_and_reports_the_unserved_one(
    tmp_path: Path, bind_server: BindServer
) -> None:
    env = {SECRET_VAR: setup_repo(tmp_path, bind_server, "example.org", "example.net")}

    run = mailzone(tmp_path, "apply", "--yes", env=env)

    message = refused(run)
    assert message == (
        "example.net: zone example.net does not exist on provider 'dns'; create it there, "
        "or set mailzone: create_zones: true"
    )
    assert "applied   example.org: 7 change(s)\n" in run.out
    assert "failed    example.net\n" in run.out
    assert query(bind_server, "example.org.", "MX") == ["10 mail.example.org."]
    with pytest.raises(LookupError, match="REFUSED"):
        query(bind_server, "example.net.", "MX")

    again = mailzone(tmp_path, "plan", "--exit-code", env=env)
    assert refused(again) == message  # the error wins over "no changes" (exit 1, not 0)
    assert "example.org  provider dns  domains example.org\n  no changes\n" in again.out


def test_powerdns_wrong_api_key_is_refused_and_changes_nothing(
    tmp_path: Path, pdns_server: PowerDnsServer
) -> None:
    real = setup_repo(tmp_path, pdns_server)
    before = live(pdns_server)

    for args in (("plan",), ("apply", "--yes")):
        run = mailzone(tmp_path, *args, env={SECRET_VAR: WRONG_SECRET})
        assert (
            refused(run)
            == "example.org: provider 'dns': Exception: PowerDNS unauthorized host=127.0.0.1"
        )
        assert real not in run.out + run.err
    assert live(pdns_server) == before
    assert not (tmp_path / "build").exists()


# -- the server is down or silent -------------------------------------------------------------


def unreachable_config(kind: str, port: int) -> dict[str, Any]:
    """A provider block for a server on 127.0.0.1:port, timing out after 2 s."""
    if kind == "bind":
        return {
            "class": "octodns_bind.Rfc2136Provider",
            "host": "127.0.0.1",
            "port": port,
            "timeout": 2,
            "key_name": "mailzone-test-key.",
            "key_secret": f"env/{SECRET_VAR}",
            "key_algorithm": "hmac-sha256",
        }
    return {
        "class": "octodns_powerdns.PowerDnsProvider",
        "host": "127.0.0.1",
        "port": port,
        "api_key": f"env/{SECRET_VAR}",
        "enable_dynamic": False,
        "timeout": 2,
    }


class SilentPort:
    """A loopback port that accepts TCP connections (kernel backlog) and UDP datagrams, and
    never answers either; `tries()` counts what reached it (connections and datagrams)."""

    def __init__(self) -> None:
        while True:
            self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._tcp.bind(("127.0.0.1", 0))
            self.port: int = self._tcp.getsockname()[1]
            self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                self._udp.bind(("127.0.0.1", self.port))
            except OSError:
                self._tcp.close()
                self._udp.close()
                continue
            break
        self._tcp.listen(64)

    def tries(self) -> int:
        """Connections waiting in the backlog plus datagrams received (drained: call it once)."""
        count = 0
        self._tcp.setblocking(False)
        self._udp.setblocking(False)
        while True:
            try:
                conn, _ = self._tcp.accept()
            except BlockingIOError:
                break
            conn.close()
            count += 1
        while True:
            try:
                self._udp.recvfrom(65536)
            except BlockingIOError:
                break
            count += 1
        return count

    def close(self) -> None:
        self._tcp.close()
        self._udp.close()


@pytest.fixture
def silent_port() -> Iterator[SilentPort]:
    silent = SilentPort()
    try:
        yield silent
    finally:
        silent.close()


DOWN = {
    "bind": r"example\.org: provider 'dns': ConnectionRefusedError: \[Errno 111\] Connection refused",
    "powerdns": r"example\.org: provider 'dns': ConnectionError: HTTPConnectionPool\(host='127\.0\.0\.1', "
    r"port=\d+\): .*Connection refused.*",
}
SILENT = {
    "bind": r"example\.org: provider 'dns': AxfrSourceZoneTransferFailed: Unable to Perform Zone Transfer: "
    r"The DNS operation timed out\.",
    "powerdns": r"example\.org: provider 'dns': ReadTimeout: HTTPConnectionPool\(host='127\.0\.0\.1', "
    r"port=\d+\): Read timed out\. \(read timeout=2\)",
}


# a ceiling far above the 2 s timeout plus the CLI's start-up on a loaded machine: a hang guard
HANG = 60


@pytest.mark.parametrize("kind", ["bind", "powerdns"])
def test_server_down_fails_at_once(tmp_path: Path, kind: str) -> None:
    write_provider(tmp_path, unreachable_config(kind, free_port()))
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    before = files(tmp_path)

    started = time.monotonic()
    run = mailzone(tmp_path, "apply", "--yes", env={SECRET_VAR: WRONG_SECRET})
    elapsed = time.monotonic() - started

    # "refused", not "timed out": nothing was waited for (the message is the behaviour)
    assert re.fullmatch(DOWN[kind], refused(run))
    assert elapsed < HANG  # only a guard against a hang or a retry loop
    assert files(tmp_path) == before


@pytest.mark.parametrize("kind", ["bind", "powerdns"])
def test_silent_server_times_out_within_the_provider_timeout(
    tmp_path: Path, kind: str, silent_port: SilentPort
) -> None:
    write_provider(tmp_path, unreachable_config(kind, silent_port.port))
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    before = files(tmp_path)

    started = time.monotonic()
    run = mailzone(tmp_path, "apply", "--yes", env={SECRET_VAR: WRONG_SECRET})
    elapsed = time.monotonic() - started

    assert re.fullmatch(SILENT[kind], refused(run))
    # one try, given up after the provider's timeout of 2 s (a floor no load can undercut);
    # the ceiling only guards against a hang
    assert silent_port.tries() == 1
    assert 2 <= elapsed < HANG
    assert files(tmp_path) == before


# -- a wrong provider file in front of a live server -------------------------------------------


def misspelt_class(config: dict[str, Any]) -> None:
    config["class"] = "octodns_bind.Rfc2136Providr"


def missing_module(config: dict[str, Any]) -> None:
    config["class"] = "octodns_nope.Rfc2136Provider"


def extra_option(config: dict[str, Any]) -> None:
    config["hots"] = config["host"]


BROKEN = {
    "class_missing": (
        misspelt_class,
        "class:",
        "class: 'octodns_bind' has no class 'Rfc2136Providr' "
        "(did you mean 'octodns_bind.Rfc2136Provider'?)",
    ),
    "module_missing": (
        missing_module,
        "class:",
        "class: cannot import 'octodns_nope.Rfc2136Provider' (No module named 'octodns_nope'); "
        "is its octodns-* package installed?",
    ),
    "unknown_option": (
        extra_option,
        "hots:",
        "unknown option 'hots' for octodns_bind.Rfc2136Provider (did you mean 'host'?)",
    ),
    "secret_not_set": (
        lambda config: None,
        "key_secret:",
        f"key_secret: environment variable {SECRET_VAR} is not set",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_provider_file_leaves_the_live_zone_untouched(
    tmp_path: Path, bind_server: BindServer, case: str
) -> None:
    edit, key, message = BROKEN[case]
    config, secret = env_secret_config(bind_server)
    edit(config)
    text = write_provider(tmp_path, config)
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    env = {} if case == "secret_not_set" else {SECRET_VAR: secret}
    before = live(bind_server)

    run = mailzone(tmp_path, "apply", "--yes", env=env, unset=(SECRET_VAR,))

    expected = f"providers/dns.yaml:{line_of(text, key)}: {message}"
    assert refused(run) == expected
    assert "failed    example.org\n" in run.out
    assert secret not in run.out + run.err
    assert live(bind_server) == before
    assert not (tmp_path / "build").exists()
