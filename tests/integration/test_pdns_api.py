"""The PowerDNS reader's requests on a real PowerDNS: over http.client when `requests` would
add nothing (the same zone read, the same writes, the same HTTP errors as through the
session); through the session, with its errors, when the environment names a proxy or the
server cannot be reached."""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest
import requests
from octodns.record import Record
from octodns.zone import Zone

from mailzone.octo.pdns_reader import FastPowerDnsProvider
from tests.cli import mailzone, write_provider
from tests.helpers import basic_spec, write_spec
from tests.servers import PowerDnsServer, free_port, query

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

NO_PROXY = ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


def reader(config: dict[str, Any]) -> FastPowerDnsProvider:
    options = {k: v for k, v in config.items() if k != "class"}
    return FastPowerDnsProvider("pdns", **options)


def refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError("the session was asked")


def published(root: Path, server: PowerDnsServer) -> None:
    """example.org's spec on provider `pdns`, applied."""
    write_provider(root, "pdns", server.provider_config())
    write_spec(root, "example.org", basic_spec("example.org", provider="pdns"))
    applied = mailzone(root, "apply", "--yes", unset=NO_PROXY)
    assert applied.code == 0, applied.out + applied.err


def published_without_proxy(
    root: Path, server: PowerDnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`published`, and no proxy named in the environment."""
    published(root, server)
    for name in NO_PROXY:
        monkeypatch.delenv(name, raising=False)


def test_the_zone_is_read_without_requests_and_equals_the_sessions_read(
    tmp_path: Path, pdns_server: PowerDnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an applied zone, and no proxy in the environment
    published_without_proxy(tmp_path, pdns_server, monkeypatch)
    through_session = reader(pdns_server.provider_config()).live_zone("example.org.")

    # when a reader whose session refuses to be asked reads it, and a zone PowerDNS lacks
    lean = reader(pdns_server.provider_config())
    monkeypatch.setattr(lean._sess, "request", refuse)
    live = lean.live_zone("example.org.")
    missing = lean.live_zone("example.net.")

    # then it read the same zone, and populate takes that read without asking again
    assert live == through_session and live.exists and not live.opaque
    assert ("_mailzone", "TXT") in live.sets
    assert not missing.exists
    zone = Zone("example.org.", [])
    assert lean.populate(zone, target=True)
    assert {(r.name, r._type) for r in zone.records} >= {("", "MX"), ("_mailzone", "TXT")}


def test_writes_go_without_requests_and_a_missing_zone_is_created(
    pdns_server: PowerDnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a provider whose session refuses to be asked
    for name in NO_PROXY:
        monkeypatch.delenv(name, raising=False)
    provider = reader(pdns_server.provider_config())
    monkeypatch.setattr(provider._sess, "request", refuse)

    # when it applies an MX to the zone it serves and to one PowerDNS lacks
    for name in ("example.org.", "example.net."):
        desired = Zone(name, [])
        mx = {"type": "MX", "ttl": 300, "value": {"preference": 10, "exchange": f"mail.{name}"}}
        desired.add_record(Record.new(desired, "", mx))
        provider.apply(provider.plan(desired))

    # then PowerDNS serves both (example.net created by a POST)
    assert query(pdns_server, "example.org.", "MX") == ["10 mail.example.org."]
    assert query(pdns_server, "example.net.", "MX") == ["10 mail.example.net."]


def test_an_http_error_reads_as_through_the_session(
    pdns_server: PowerDnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a PATCH PowerDNS refuses (422: a record outside the zone)
    for name in NO_PROXY:
        monkeypatch.delenv(name, raising=False)
    bad = {"name": "www.other.test.", "type": "A", "ttl": 300, "changetype": "REPLACE"}
    bad["records"] = [{"content": "192.0.2.1", "disabled": False}]
    errors = []

    # when it is sent over http.client and through the session
    for lean in (True, False):
        provider = reader(pdns_server.provider_config())
        if not lean:
            monkeypatch.setitem(provider.__dict__, "_api", None)
        with pytest.raises(requests.HTTPError) as raised:
            provider._patch("zones/example.org.", data={"rrsets": [bad]})
        response = raised.value.response
        errors.append((str(raised.value), response.status_code, response.json()))

    # then both raise the same error with the same answer
    assert errors[0] == errors[1]
    assert errors[0][1] == 422


def test_a_proxy_in_the_environment_is_used_as_requests_uses_it(
    tmp_path: Path, pdns_server: PowerDnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an applied zone, and HTTP_PROXY naming a loopback port nothing listens on
    published(tmp_path, pdns_server)
    unset = tuple(name for name in NO_PROXY if name != "HTTP_PROXY")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")

    # when it is planned with the pre-filter and without it
    fast = mailzone(tmp_path, "plan", unset=unset)
    monkeypatch.setenv("MAILZONE_NO_FASTPATH", "1")
    slow = mailzone(tmp_path, "plan", unset=unset)

    # then both went to the proxy and failed the same way
    assert fast.code == slow.code == 1, fast.out + fast.err
    assert "ProxyError" in fast.err
    assert (fast.out, fast.err) == (slow.out, slow.err)


def test_an_unreachable_api_fails_with_the_sessions_error() -> None:
    # given a provider whose API port nothing listens on
    config = {"host": "127.0.0.1", "port": free_port(), "api_key": "k", "timeout": 2}

    # when the reader reads a zone, then requests' own error is raised, as without the reader
    with pytest.raises(requests.ConnectionError):
        reader(config).live_zone("example.org.")


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_a_request_cut_off_after_it_was_sent_is_not_sent_again(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an "API" that reads each request and closes the connection without an answer
    for name in NO_PROXY:
        monkeypatch.delenv(name, raising=False)
    listener = socket.create_server(("127.0.0.1", 0))
    requests_seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                requests_seen.append(conn.recv(65536))

    threading.Thread(target=serve, daemon=True).start()
    config = {"host": "127.0.0.1", "port": listener.getsockname()[1], "api_key": "k"}
    errors = []
    try:
        # when the request is sent over http.client and through the session
        for lean in (True, False):
            provider = reader({**config, "timeout": 2})
            if not lean:
                monkeypatch.setitem(provider.__dict__, "_api", None)
            with pytest.raises(requests.ConnectionError) as raised:
                if method == "GET":
                    provider._get("zones/example.org.")
                else:
                    provider._patch("zones/example.org.", data={"rrsets": []})
            errors.append(str(raised.value))
    finally:
        listener.close()

    # then each sent it once and raised the same error
    assert [r.split(b" ", 1)[0] for r in requests_seen] == [method.encode()] * 2
    assert errors[0] == errors[1]


def test_a_cookie_the_api_sets_is_sent_back_as_the_session_sends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an "API" in front of which something sets a cookie on its first answer
    for name in NO_PROXY:
        monkeypatch.delenv(name, raising=False)
    cookies: list[str | None] = []

    class Api(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            cookies.append(self.headers.get("Cookie"))
            body = b'{"rrsets": []}'
            self.send_response(200)
            if len(cookies) == 1:
                self.send_header("Set-Cookie", "route=a; Path=/")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = {"host": "127.0.0.1", "port": server.server_address[1], "api_key": "k"}
        provider = reader(config)

        # when the zone is read twice
        provider._get("zones/example.org.")
        provider._get("zones/example.org.")
    finally:
        server.shutdown()
        server.server_close()

    # then the last request carried the cookie, as the session would have sent it
    assert cookies[0] is None and cookies[-1] == "route=a"


def reads_without_ahead(
    root: Path, server: PowerDnsServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Any]:
    """`published_without_proxy`; then example.org (served) and example.net (not), read plainly."""
    published_without_proxy(root, server, monkeypatch)
    plain = reader(server.provider_config())
    return plain.live_zone("example.org."), plain.live_zone("example.net.")


def test_a_zone_read_sent_ahead_is_the_zones_read(
    tmp_path: Path, pdns_server: PowerDnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an applied zone, and no proxy in the environment
    expected = reads_without_ahead(tmp_path, pdns_server, monkeypatch)
    connects: list[int] = []
    connect = http.client.HTTPConnection.connect

    def counted(self: http.client.HTTPConnection) -> None:
        connects.append(1)
        connect(self)

    monkeypatch.setattr(http.client.HTTPConnection, "connect", counted)

    # when the zones' reads are sent ahead (one of them cut off before it is read), then read
    lean = reader(pdns_server.provider_config())
    monkeypatch.setattr(lean._sess, "request", refuse)
    assert lean.send_ahead("example.org.") and lean.send_ahead("example.net.")
    assert lean.send_ahead("example.com.")
    assert len(connects) == 3
    api = lean.__dict__["_api"]
    target = next(t for t in api._ahead if t.endswith("example.net."))
    with socket.create_server(("127.0.0.1", 0)) as closing:  # closes without an answer
        cut = http.client.HTTPConnection("127.0.0.1", closing.getsockname()[1], timeout=5)
        cut.request("GET", target)
        closing.accept()[0].close()
        api._ahead.pop(target).close()
        api._ahead[target] = cut
        got = lean.live_zone("example.org."), lean.live_zone("example.net.")

    # then each is the zone as read without sending ahead; the cut one was asked again
    assert got == expected and got[0].exists and not got[1].exists
    assert len(connects) == 5  # the three sent ahead, the cut one's, and its second asking
    lean.drop_ahead()  # the one never read is closed
    assert api._ahead == {}


def test_answers_polled_early_are_the_zones_reads(
    tmp_path: Path, pdns_server: PowerDnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an applied zone, and its reads as made without sending ahead
    expected = reads_without_ahead(tmp_path, pdns_server, monkeypatch)

    # when both reads are sent ahead and their answers taken in as they come (not waited for)
    lean = reader(pdns_server.provider_config())
    monkeypatch.setattr(lean._sess, "request", refuse)
    assert lean.send_ahead("example.org.") and lean.send_ahead("example.net.")
    assert lean.send_ahead("example.org.")  # out already: not sent twice
    deadline = time.monotonic() + 10
    while lean.poll_ahead() and time.monotonic() < deadline:
        time.sleep(0.01)

    # then the zones read from what was taken in (the missing one's error too), with no
    # request of their own
    assert {"zones/example.org.", "zones/example.net."} <= set(lean._kept())
    monkeypatch.setattr(http.client.HTTPConnection, "connect", refuse)
    got = lean.live_zone("example.org."), lean.live_zone("example.net.")
    assert got == expected and got[0].exists and not got[1].exists
