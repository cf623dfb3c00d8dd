"""`mailzone check` against a real STARTTLS SMTP server (aiosmtpd) and an HTTPS server on
loopback, with certificates from a test CA (trustme) or self-signed; `--connect` dials them in
place of the hosts' public addresses, `--ca-file` trusts the test CA. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.cli import Run, mailzone, write_provider
from tests.helpers import basic_spec, write_spec
from tests.servers import LOOPBACK, BindServer, free_port, zone_text
from tests.tls_servers import WebSite, context_for, smtp_server

pytestmark = pytest.mark.integration

HOST = "mail.example.org"
DNS_FAMILIES = ["drift", "spf", "dkim", "dmarc", "tls_rpt", "mta_sts", "mx", "rdns", "blocklist"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def good_smtp(ca: trustme.CA) -> Iterator[int]:
    with smtp_server(context_for(ca.issue_cert(HOST)), HOST) as port:
        yield port


def _check(root: Path, ca_file: Path | None, *args: str) -> Run:
    skips = [a for family in DNS_FAMILIES for a in ("--skip", family)]
    extra = ["--ca-file", str(ca_file)] if ca_file else []
    closed = f"127.0.0.1:{free_port()}"  # no DNS question may leave loopback
    return mailzone(
        root, "check", "--nameserver", closed, *skips, *extra, *args, "--format", "json"
    )


def _findings(run: Run, family: str) -> list[dict[str, str]]:
    data = json.loads(run.stdout)
    return [f for f in data["domains"][0]["findings"] if f["check"] == family]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_spec(tmp_path, "example.org", basic_spec())
    return tmp_path


def _ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def test_starttls_with_a_valid_certificate_passes(
    repo: Path, ca: trustme.CA, good_smtp: int
) -> None:
    run = _check(
        repo, _ca_file(ca, repo), "--skip", "https", "--connect", f"{HOST}:25=127.0.0.1:{good_smtp}"
    )

    (smtp,) = _findings(run, "smtp")
    assert smtp["status"] == "pass", smtp
    assert "valid certificate" in smtp["message"]
    assert run.returncode == 0, run.stdout + run.stderr


def test_self_signed_certificate_fails_with_the_reason(repo: Path, ca: trustme.CA) -> None:
    other = trustme.CA()  # not trusted by the check
    with smtp_server(context_for(other.issue_cert(HOST)), HOST) as port:
        run = _check(
            repo, _ca_file(ca, repo), "--skip", "https", "--connect", f"{HOST}:25=127.0.0.1:{port}"
        )
        (smtp,) = _findings(run, "smtp")
        assert smtp["status"] == "fail"
        assert "does not verify" in smtp["message"]
        assert "certificate" in smtp["fix"]
        assert run.returncode == 3


def test_certificate_for_another_name_fails(repo: Path, ca: trustme.CA) -> None:
    with smtp_server(context_for(ca.issue_cert("other.example.net")), HOST) as port:
        run = _check(
            repo, _ca_file(ca, repo), "--skip", "https", "--connect", f"{HOST}=127.0.0.1:{port}"
        )
        (smtp,) = _findings(run, "smtp")
        assert smtp["status"] == "fail"
        assert "mail.example.org" in smtp["message"] or "match" in smtp["message"]


def test_no_starttls_fails(repo: Path) -> None:
    with smtp_server(None, HOST) as port:
        run = _check(repo, None, "--skip", "https", "--connect", f"{HOST}:25=127.0.0.1:{port}")
        (smtp,) = _findings(run, "smtp")
        assert smtp["status"] == "fail"
        assert "no STARTTLS" in smtp["message"]


def test_refused_port_25_is_unknown_not_a_failure(repo: Path) -> None:
    run = _check(repo, None, "--skip", "https", "--connect", f"{HOST}:25=127.0.0.1:{free_port()}")

    (smtp,) = _findings(run, "smtp")
    assert smtp["status"] == "unknown"
    assert "port 25" in smtp["message"]
    assert run.returncode == 0


def test_a_server_that_never_answers_is_bounded(repo: Path) -> None:
    listener = socket.create_server((LOOPBACK, 0))  # accepts (backlog) but never speaks
    port = listener.getsockname()[1]
    try:
        run = _check(
            repo,
            None,
            "--skip",
            "https",
            "--smtp-timeout",
            "1",
            "--connect",
            f"{HOST}:25=127.0.0.1:{port}",
        )
    finally:
        listener.close()
    (smtp,) = _findings(run, "smtp")
    assert smtp["status"] == "fail"
    assert "no banner" in smtp["message"]


@pytest.mark.zones("example.org.")
def test_documentation_addresses_are_never_dialled(tmp_path: Path, bind_server: BindServer) -> None:
    write_provider(tmp_path, "target", bind_server.provider_config())
    write_spec(tmp_path, "example.org", basic_spec(provider="target"))
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    skips = [a for family in DNS_FAMILIES for a in ("--skip", family)]

    run = mailzone(
        tmp_path,
        "check",
        "--nameserver",
        f"{LOOPBACK}:{bind_server.port}",
        *skips,
        "--format",
        "json",
    )

    for family in ("smtp", "https"):
        (finding,) = _findings(run, family)
        assert finding["status"] == "unknown", finding
        assert "192.0.2.25, which is not a public address" in finding["message"]


def test_https_on_the_mail_host(repo: Path, ca: trustme.CA) -> None:
    ca_file = _ca_file(ca, repo)
    with WebSite(context_for(ca.issue_cert(HOST))) as site:
        good = _check(
            repo, ca_file, "--skip", "smtp", "--connect", f"{HOST}:443=127.0.0.1:{site.port}"
        )
    with WebSite(context_for(trustme.CA().issue_cert(HOST))) as site:
        bad = _check(
            repo, ca_file, "--skip", "smtp", "--connect", f"{HOST}:443=127.0.0.1:{site.port}"
        )

    assert [f["status"] for f in _findings(good, "https")] == ["pass"]
    (finding,) = _findings(bad, "https")
    assert finding["status"] == "warn"  # mail still flows: a warning, not a failure
    assert bad.returncode == 0


def test_connect_option_errors_are_one_line(repo: Path) -> None:
    run = mailzone(repo, "check", "--connect", "mail.example.org=127.0.0.1")

    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "error: --connect: 'mail.example.org=127.0.0.1': give the address and port to dial (ADDR:PORT)"
    ]


@pytest.mark.zones("example.org.")
def test_a_banner_that_is_not_the_ptr_name_is_a_warning(
    tmp_path: Path, bind_server: BindServer, ca: trustme.CA
) -> None:
    write_provider(tmp_path, "target", bind_server.provider_config())
    write_spec(tmp_path, "example.org", basic_spec(provider="target"))
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    # the address's PTR names another host than the one the server announces in its banner
    bind_server.add_zone(
        "2.0.192.in-addr.arpa.",
        zone_text("2.0.192.in-addr.arpa.", ["25 PTR mx-out.example.net."]),
    )
    skips = [a for family in DNS_FAMILIES for a in ("--skip", family)]
    with smtp_server(context_for(ca.issue_cert(HOST)), HOST) as port:
        run = mailzone(
            tmp_path,
            "check",
            "--nameserver",
            f"{LOOPBACK}:{bind_server.port}",
            *skips,
            "--skip",
            "https",
            "--ca-file",
            str(_ca_file(ca, tmp_path)),
            "--connect",
            f"{HOST}:25=127.0.0.1:{port}",
            "--format",
            "json",
        )
        (smtp,) = _findings(run, "smtp")
        assert smtp["status"] == "warn", smtp
        assert "the banner names mail.example.org, not mx-out.example.net" in smtp["message"]
        assert "mx-out.example.net" in smtp["fix"]
