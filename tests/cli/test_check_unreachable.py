"""`mailzone check` when DNS cannot be reached: never a pass (exit 4, and the summary says which
families could not be checked and why), and bounded in time: a server that does not answer is
asked once per run, and a domain's questions go out at once.

"DNS that never answers" is a UDP port on 127.0.0.1 held open and never read: its questions
time out as for a server down behind a firewall, and what arrived there can be counted after
the run. Times are asserted with margins for a loaded machine; the count of questions that
reached the silent port is the exact assertion."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailzone.repo.scaffold import scaffold
from tests.cli import Run, mailzone

DOMAIN = "example.com"


@pytest.fixture
def silent() -> Iterator[socket.socket]:
    """A UDP port on 127.0.0.1 that never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


def _port(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


def received(sock: socket.socket) -> int:
    """How many datagrams have reached the silent port (read now, so it counts from zero)."""
    sock.setblocking(False)
    count = 0
    while True:
        try:
            sock.recv(65535)
        except BlockingIOError:
            return count
        count += 1


@pytest.fixture
def applied(tmp_path: Path) -> Path:
    """A repository with one domain applied to the `local` target: drift reads its zone file,
    everything else asks the resolver."""
    assert (
        mailzone(
            tmp_path, "init", DOMAIN, "--mail-host", f"mail.{DOMAIN}", "--ipv4", "192.0.2.1"
        ).code
        == 0
    )
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    return tmp_path


def check(root: Path, resolver: socket.socket, *args: str) -> Run:
    return mailzone(
        root, "check", "--nameserver", f"127.0.0.1:{_port(resolver)}", "--timeout", "0.5", *args
    )


def test_check_with_a_silent_resolver_is_inconclusive_and_says_why(
    applied: Path, silent: socket.socket
) -> None:
    result = check(applied, silent)

    assert result.code == 4, result.out
    summary = result.out.splitlines()[-1]
    assert summary.endswith("; not checked: spf, dkim, dmarc, tls_rpt, mx, rdns (timeout)"), summary
    assert " 0 fail, " in summary


def test_a_closed_resolver_port_is_inconclusive_as_refused(
    applied: Path, silent: socket.socket
) -> None:
    port = _port(silent)
    silent.close()  # nothing listens there now: ICMP port unreachable

    result = mailzone(applied, "check", "--nameserver", f"127.0.0.1:{port}", "--format", "json")

    assert result.code == 4, result.out
    report = json.loads(result.out)
    assert report["inconclusive"] is True and report["failed"] is False
    assert report["domains"][0]["unchecked"]["spf"] == ["refused"]


def test_allow_unknown_accepts_what_could_not_be_checked(
    applied: Path, silent: socket.socket
) -> None:
    some = check(applied, silent, "--allow-unknown", "spf", "--allow-unknown", "dkim")
    every = check(applied, silent, "--allow-unknown", "all")

    assert some.code == 4
    assert some.out.splitlines()[-1].endswith("; not checked: dmarc, tls_rpt, mx, rdns (timeout)")
    assert every.code == 0, every.out
    assert "not checked" not in every.out


def test_network_families_count_only_when_required(applied: Path, silent: socket.socket) -> None:
    dns_allowed = ["--allow-unknown", "all"]

    ignored = check(applied, silent, *dns_allowed)
    required = check(applied, silent, *dns_allowed, "--require", "smtp")

    assert ignored.code == 0 and "??    smtp" in ignored.out  # still shown as unknown
    assert required.code == 4
    assert required.out.splitlines()[-1].endswith("; not checked: smtp (timeout)")


def test_each_option_takes_only_its_own_families(applied: Path, silent: socket.socket) -> None:
    allow = check(applied, silent, "--allow-unknown", "smtp")  # not a DNS family
    require = check(applied, silent, "--require", "spf")  # not a network family

    assert allow.code == require.code == 1
    assert allow.errors == [
        "--allow-unknown: 'smtp' is not one of drift, spf, dkim, dmarc, tls_rpt, mta_sts, dane, mx, rdns, all"
    ]
    assert require.errors == [
        "--require: 'spf' is not one of blocklist, smtp, dane_smtp, https, all"
    ]


def test_a_dead_resolver_and_dead_nameservers_are_each_asked_once_and_at_once(
    applied: Path, silent: socket.socket
) -> None:
    # given a resolver and both authoritative servers silent
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ns1,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ns2,
    ):
        ns1.bind(("127.0.0.1", 0))
        ns2.bind(("127.0.0.1", 0))
        (applied / "host.yaml").write_text(
            f"nameservers:\n  {DOMAIN}: ['127.0.0.1:{_port(ns1)}', '127.0.0.1:{_port(ns2)}']\n"
        )
        started = time.monotonic()
        # when checked with 2 s per attempt
        result = mailzone(
            applied,
            "check",
            "--host-config",
            str(applied / "host.yaml"),
            "--nameserver",
            f"127.0.0.1:{_port(silent)}",
            "--timeout",
            "2",
        )
        elapsed = time.monotonic() - started
        # then each server got one question, sent twice (1 + 1 retry), and nothing more
        assert [received(s) for s in (silent, ns1, ns2)] == [2, 2, 2]
    assert result.code == 4, result.out
    assert "; not checked: drift, spf, dkim, dmarc, tls_rpt, mx, rdns (timeout)" in result.out
    # one after another, three servers would take 3 × 2 × 2 s = 12 s; at once, 4 s. Bound:
    # 2 × --timeout + 1 s, plus start-up and a loaded machine's margin
    assert elapsed < 2 * 2 + 1 + 4, elapsed


def test_a_hundred_domains_against_a_dead_resolver_ask_it_once(
    tmp_path: Path, silent: socket.socket
) -> None:
    for i in range(100):
        scaffold(tmp_path, f"d{i}.example", f"mail.d{i}.example", [f"192.0.2.{i + 1}"], [])
    started = time.monotonic()

    result = mailzone(
        tmp_path, "check", "--nameserver", f"127.0.0.1:{_port(silent)}", "--timeout", "2"
    )

    elapsed = time.monotonic() - started
    assert received(silent) == 2  # one question, one retry, for the whole run
    assert result.out.count("; not checked: ") == 100
    assert elapsed <= 30, elapsed  # the 15 s, with a loaded machine's margin
