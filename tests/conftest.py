"""Shared fixtures: real DNS servers on 127.0.0.1 (see ``tests/servers.py``).

A test gets a started server, serving its zones, in one of three ways::

    @pytest.mark.zones("example.org.", "example.net.")   # default: example.org.
    def test_x(bind_server: BindServer) -> None: ...      # or pdns_server: PowerDnsServer

    @pytest.mark.zones("example.org.")
    def test_y(dns_server: DnsServer) -> None: ...        # runs once per server: [bind], [powerdns]

    def test_s(signed_dns_server: DnsServer) -> None: ...  # the zones signed: [bind], [powerdns]

    def test_z(bind_factory: ServerFactory[BindServer]) -> None:
        server = bind_factory(zones=["a.example.", "b.example."])   # as many as needed

Every server is private to its test and stopped at teardown; each starts in well under a second.
``provider_config()`` gives the octoDNS provider block and ``make_provider(server)`` builds it.
Type a factory argument with ``tests.servers.ServerFactory`` (test modules never import from here).
If ``named`` or ``pdns_server`` is not installed the test is skipped, unless the ``CI``
environment variable is set: then it fails.

At the end of the run, every zone file the ``local`` provider wrote under the run's temp
directory is loaded by ``named-checkzone``, ``kzonecheck`` and ``nsd-checkzone``
(``tests/zonecheck.py``); one that does not load fails the run (an error at teardown).

Every test gets its own default key directory (``$MAILZONE_KEY_DIR`` and ``$XDG_DATA_HOME`` under
its tmp_path, inherited by the ``mailzone`` subprocesses): the suite runs as root, and no test may
write to the real ``/var/lib/mailzone/keys`` or a home directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, settings

from tests.servers import (
    DEFAULT_ZONES,
    BindServer,
    DnsServer,
    PowerDnsServer,
    ServerFactory,
    find_binary,
    not_installed,
)
from tests.zonecheck import check_written_zone_files

S = TypeVar("S", bound=DnsServer)

# Hypothesis's per-example deadline (200 ms) and its too_slow health check are wall-clock limits
# that a loaded machine misses; the properties, not their speed, are what the tests prove.
settings.register_profile("mailzone", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mailzone")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "zones(*names): zones served by bind_server, pdns_server and dns_server"
    )


@pytest.fixture(autouse=True)
def private_key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default key directory of this test (a host config's `key_dir` still wins)."""
    keys = tmp_path / "default-keys"
    monkeypatch.setenv("MAILZONE_KEY_DIR", str(keys))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return keys


def _require(server_class: type[DnsServer]) -> None:
    binary = server_class.binary
    if find_binary(binary) is None:
        not_installed(
            f"{binary} is not installed (needed for {server_class.kind} integration tests)"
        )


def _serve(server_class: type[S]) -> Iterator[ServerFactory[S]]:
    _require(server_class)
    started: list[S] = []

    def start(zones: Iterable[str] = DEFAULT_ZONES) -> S:
        server = server_class().start(zones)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def _marked_zones(request: pytest.FixtureRequest) -> list[str]:
    marker = request.node.get_closest_marker("zones")
    return list(marker.args) if marker is not None else list(DEFAULT_ZONES)


@pytest.fixture
def bind_factory() -> Iterator[ServerFactory[BindServer]]:
    """Start BIND servers: ``bind_factory(zones=[...])``."""
    yield from _serve(BindServer)


@pytest.fixture
def pdns_factory() -> Iterator[ServerFactory[PowerDnsServer]]:
    """Start PowerDNS servers: ``pdns_factory(zones=[...])``."""
    yield from _serve(PowerDnsServer)


@pytest.fixture
def bind_server(
    request: pytest.FixtureRequest, bind_factory: ServerFactory[BindServer]
) -> BindServer:
    """A BIND server serving the zones of the test's ``zones`` marker."""
    return bind_factory(zones=_marked_zones(request))


@pytest.fixture
def pdns_server(
    request: pytest.FixtureRequest, pdns_factory: ServerFactory[PowerDnsServer]
) -> PowerDnsServer:
    """A PowerDNS server serving the zones of the test's ``zones`` marker."""
    return pdns_factory(zones=_marked_zones(request))


@pytest.fixture(params=["bind", "powerdns"])
def signed_dns_server(request: pytest.FixtureRequest) -> Iterator[DnsServer]:
    """Each server in turn (ids ``bind``, ``powerdns``) serving the ``zones`` marker's zones,
    each DNSSEC-signed by the server itself (BIND: ``dnssec-policy default`` with inline signing;
    PowerDNS: ``pdnsutil secure-zone``): DNSKEY and RRSIGs are served when the test starts."""
    server_class: type[BindServer | PowerDnsServer] = (
        BindServer if request.param == "bind" else PowerDnsServer
    )
    yield from _signed(server_class, _marked_zones(request))


@pytest.fixture
def signed_bind_server(request: pytest.FixtureRequest) -> Iterator[BindServer]:
    """``signed_dns_server``'s BIND alone."""
    yield from _signed(BindServer, _marked_zones(request))


def _signed(server_class: type[S], zones: list[str]) -> Iterator[S]:
    _require(server_class)
    server = server_class(signed=zones)  # type: ignore[call-arg]  # both server classes take it
    try:
        yield server.start(zones)
    finally:
        server.stop()


@pytest.fixture(params=["bind", "powerdns"])
def dns_server(request: pytest.FixtureRequest) -> DnsServer:
    """Each server in turn (ids ``bind``, ``powerdns``), serving the ``zones`` marker's zones."""
    fixture = {"bind": "bind_server", "powerdns": "pdns_server"}[request.param]
    server: DnsServer = request.getfixturevalue(fixture)
    return server


@pytest.fixture(scope="session", autouse=True)
def written_zone_files_load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the last test: every zone file `local` wrote during the run loads in BIND, Knot
    and NSD (a missing checker is skipped, or a failure under CI)."""
    yield
    root = Path(tmp_path_factory.getbasetemp())
    files, problems = check_written_zone_files(root)
    if problems:
        pytest.fail(
            f"{len(problems)} problem(s) in the {files} zone file(s) written by `local` "
            "during this run:\n" + "\n".join(problems),
            pytrace=False,
        )
