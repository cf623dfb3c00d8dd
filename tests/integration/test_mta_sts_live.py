"""`mailzone check` fetching the MTA-STS policy as senders do: BIND serves what `apply` wrote,
an HTTPS server on 127.0.0.1 serves the policy `mailzone mta-sts write` made (or a broken
one), and a STARTTLS SMTP server (aiosmtpd) stands in for the MX; both certificates come from
one test CA (trustme), which `--ca-file` trusts, and `--connect` dials them. Nothing leaves
127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import socket
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from mailzone.check.families import NAMES
from tests.check_zones import nsupdate
from tests.cli import Run, mailzone, write_provider
from tests.helpers import MTA_STS_SPEC, basic_spec, write_spec
from tests.servers import LOOPBACK, BindServer, free_port
from tests.tls_servers import Sink, WebSite, context_for, smtp_server

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

MX = "mail.example.org"
WEB = "mta-sts.example.org"
URL = f"https://{WEB}/.well-known/mta-sts.txt"
TLS_RPT = "tls_rpt:\n  rua: ['mailto:tls@example.org']\n"
SKIP = [arg for name in NAMES if name not in ("mta_sts", "smtp") for arg in ("--skip", name)]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@dataclass
class Rig:
    """An applied repository, its BIND, the web server of mta-sts.example.org, the MX."""

    root: Path
    bind: BindServer
    ca_file: Path
    site: WebSite
    smtp_port: int
    sink: Sink

    def check(self, *args: str, web_port: int | None = None) -> Run:
        return mailzone(
            self.root,
            "check",
            "--nameserver",
            f"{LOOPBACK}:{self.bind.port}",
            *SKIP,
            "--ca-file",
            str(self.ca_file),
            "--connect",
            f"{WEB}:443={LOOPBACK}:{web_port or self.site.port}",
            "--connect",
            f"{MX}:25={LOOPBACK}:{self.smtp_port}",
            *args,
            "--format",
            "json",
        )


def _findings(run: Run) -> list[dict[str, str]]:
    (domain,) = json.loads(run.out)["domains"]
    return [f for f in domain["findings"] if f["check"] == "mta_sts"]


def _by_subject(run: Run, subject: str) -> dict[str, str]:
    (finding,) = [f for f in _findings(run) if f["subject"] == subject]
    return finding


@contextlib.contextmanager
def _rig(
    tmp_path: Path, bind: BindServer, ca: trustme.CA, mode: str, web_name: str, mx_name: str
) -> Iterator[Rig]:
    extra = textwrap.dedent(MTA_STS_SPEC).replace("testing", mode)
    extra += TLS_RPT if mode == "enforce" else ""
    write_provider(tmp_path, "target", bind.provider_config())
    write_spec(tmp_path, "example.org", basic_spec(provider="target", extra=extra))
    applied = mailzone(tmp_path, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err
    written = mailzone(tmp_path, "mta-sts", "write", str(tmp_path / "www"))
    assert written.code == 0, written.out + written.err
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    sink = Sink()
    with (
        WebSite(context_for(ca.issue_cert(web_name))) as site,
        smtp_server(context_for(ca.issue_cert(mx_name)), MX, sink) as smtp_port,
    ):
        site.body = (tmp_path / "www" / "example.org" / ".well-known" / "mta-sts.txt").read_bytes()
        yield Rig(tmp_path, bind, ca_file, site, smtp_port, sink)


@pytest.fixture
def rig(tmp_path: Path, bind_server: BindServer, ca: trustme.CA) -> Iterator[Rig]:
    """Enforce mode, every certificate right."""
    with _rig(tmp_path, bind_server, ca, "enforce", WEB, MX) as made:
        yield made


def test_the_served_policy_and_the_mx_pass_and_port_25_is_dialled_once(rig: Rig) -> None:
    run = rig.check()

    assert run.code == 0, run.out + run.err
    assert [f["status"] for f in _findings(run)] == ["pass"] * 4, _findings(run)
    served = _by_subject(run, URL)
    assert served["message"] == (f"serves the spec's policy (mode enforce, {MX}, max_age 604800)")
    assert _by_subject(run, f"MTA-STS MX {MX}")["message"] == (
        f"MX {MX} matches mx: {MX}; its certificate is valid for it"
    )
    assert rig.site.paths == ["/.well-known/mta-sts.txt"]
    assert len(rig.sink.peers) == 1  # the smtp check's probe, read again by mta_sts


def test_a_policy_other_than_the_specs_names_each_difference_and_the_cached_id(
    rig: Rig,
) -> None:
    rig.site.body = (
        b"version: STSv1\nmode: testing\nmx: old.example.net\nmx: " + MX.encode() + b"\n"
        b"max_age: 86400\n"
    )

    run = rig.check()

    assert run.code == 3
    served = _by_subject(run, URL)
    assert served["status"] == "fail"
    message = served["message"]
    assert "mode testing, the spec's is enforce" in message
    assert "mx: old.example.net, which the spec does not list" in message
    assert "max_age 86400, the spec's is 604800" in message
    assert "DNS already announces the spec's id=" in message
    assert "do not fetch it again until the id changes" in message
    assert served["fix"].startswith("run `mailzone mta-sts write DIR` and copy DIR/example.org/")


def test_a_missing_mx_line_is_named(rig: Rig) -> None:
    rig.site.body = rig.site.body.replace(f"mx: {MX}\r\n".encode(), b"mx: *.example.net\r\n")

    served = _by_subject(rig.check(), URL)

    assert served["status"] == "fail"
    assert f"no mx: {MX}" in served["message"]


@pytest.mark.parametrize(
    ("status", "headers", "body", "said"),
    [
        (
            302,
            {"Location": "https://www.example.org/mta-sts.txt"},
            b"",
            "HTTP 302 redirect to https://www.example.org/mta-sts.txt, and senders follow no "
            "redirect",
        ),
        (200, {"Content-Type": "text/html"}, None, "Content-Type text/html, not text/plain"),
        (200, {"Content-Type": "text/plain; charset=utf-8"}, b"x" * 70_000, "larger than 64 KiB"),
        (404, {"Content-Type": "text/plain"}, b"gone", "HTTP 404 Not Found"),
        (200, {"Content-Type": "text/plain"}, b"<html>oops</html>\n", "not a valid policy"),
    ],
    ids=["redirect", "html", "oversize", "missing", "garbage"],
)
def test_a_policy_senders_cannot_use_fails_and_says_why(
    rig: Rig, status: int, headers: dict[str, str], body: bytes | None, said: str
) -> None:
    rig.site.status, rig.site.headers = status, headers
    if body is not None:
        rig.site.body = body

    run = rig.check()

    served = _by_subject(run, URL)
    assert served["status"] == "fail", served
    assert said in served["message"], served["message"]
    assert "deliver as if the domain had no MTA-STS" in served["message"]
    assert run.code == 3
    assert rig.site.paths == ["/.well-known/mta-sts.txt"]  # asked once, no redirect followed


def test_charset_parameter_is_fine(rig: Rig) -> None:
    rig.site.headers = {"Content-Type": "text/plain; charset=utf-8"}

    assert _by_subject(rig.check(), URL)["status"] == "pass"


def test_a_web_certificate_for_another_name_fails(
    tmp_path: Path, bind_server: BindServer, ca: trustme.CA
) -> None:
    with _rig(tmp_path, bind_server, ca, "enforce", "www.example.org", MX) as rig:
        run = rig.check()

        served = _by_subject(run, URL)
        assert served["status"] == "fail"
        assert f"{WEB}:443: the certificate does not verify" in served["message"]
        assert "deliver as if the domain had no MTA-STS" in served["message"]
        assert rig.site.paths == []
        assert run.code == 3


def test_port_443_closed_is_inconclusive(rig: Rig) -> None:
    run = rig.check(web_port=free_port())

    served = _by_subject(run, URL)
    assert served["status"] == "unknown"
    assert "connection refused: the policy cannot be fetched from here" in served["message"]
    assert run.code == 4


def test_an_mx_the_policy_does_not_cover_fails_in_enforce(rig: Rig) -> None:
    # given a second MX added to the zone by hand, which the spec (and so the policy) lacks
    nsupdate(rig.bind, "example.org.", [("add", "example.org.", "MX", ["20 backup.example.net."])])

    run = rig.check()

    finding = _by_subject(run, "MTA-STS MX backup.example.net")
    assert finding["status"] == "fail"
    assert finding["message"] == (
        f"MX backup.example.net matches no mx: line of the served policy ({MX}): senders that "
        "apply the policy do not deliver to it"
    )
    assert "mta_sts.mx" in finding["fix"]
    assert _by_subject(run, f"MTA-STS MX {MX}")["status"] == "pass"
    assert run.code == 3


@pytest.mark.parametrize(("mode", "status"), [("enforce", "fail"), ("testing", "warn")])
def test_an_mx_certificate_without_its_name_fails_in_enforce_and_warns_in_testing(
    tmp_path: Path, bind_server: BindServer, ca: trustme.CA, mode: str, status: str
) -> None:
    with _rig(tmp_path, bind_server, ca, mode, WEB, "other.example.org") as rig:
        run = rig.check()

        finding = _by_subject(run, f"MTA-STS MX {MX}")
        assert finding["status"] == status
        assert "presents a certificate that does not verify for its name" in finding["message"]
        assert f"install a certificate for {MX}" in finding["fix"]
        assert _by_subject(run, URL)["status"] == "pass"
        assert len(rig.sink.peers) == 1


def test_skipping_smtp_leaves_the_mx_certificate_unchecked(rig: Rig) -> None:
    run = rig.check("--skip", "smtp")

    assert _by_subject(run, f"MTA-STS MX {MX}")["message"].endswith(
        "its certificate was not checked (--skip smtp)"
    )
    assert rig.sink.peers == set()
    assert run.code == 0


def test_a_web_server_that_never_answers_is_bounded_and_inconclusive(rig: Rig) -> None:
    listener = socket.create_server((LOOPBACK, 0))  # accepts (backlog), never speaks TLS
    try:
        run = rig.check("--smtp-timeout", "1", web_port=listener.getsockname()[1])
    finally:
        listener.close()

    served = _by_subject(run, URL)
    assert served["status"] == "unknown"
    assert "timed out: the policy cannot be fetched from here" in served["message"]
    assert run.code == 4
