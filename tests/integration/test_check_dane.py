"""`mailzone check`'s DANE families against a BIND zone that named signs and a STARTTLS server
(aiosmtpd) with a test CA's certificate (trustme), reached through `--connect`."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller

from mailzone.check.families import NAMES
from mailzone.records.tlsa import spki_sha256
from tests.cli import mailzone, write_provider
from tests.helpers import DANE_SPEC, basic_spec, write_spec, write_tlsa_keys
from tests.servers import LOOPBACK, BindServer, DnsServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

HOST = "mail.example.org"
SKIPS = [a for name in NAMES if name not in ("dane", "dane_smtp") for a in ("--skip", name)]


class Sink:
    """aiosmtpd's handler: accept everything."""

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def _starttls(cert: trustme.LeafCert) -> Iterator[int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    port = free_port()
    controller = Controller(
        Sink(), hostname=LOOPBACK, port=port, server_hostname=HOST, tls_context=context
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _published(root: Path, server: DnsServer, key: str) -> None:
    write_provider(root, "dns", server.provider_config())
    write_spec(root, "example.org", basic_spec(provider="dns", extra=DANE_SPEC))
    write_tlsa_keys(root, current=key)
    applied = mailzone(root, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err


def _findings(root: Path, server: DnsServer, port: int) -> dict[str, list[dict[str, str]]]:
    run = mailzone(
        root,
        "check",
        "--nameserver",
        f"{LOOPBACK}:{server.port}",
        *SKIPS,
        "--connect",
        f"{HOST}:25=127.0.0.1:{port}",
        "--format",
        "json",
    )
    found: dict[str, list[dict[str, str]]] = {"dane": [], "dane_smtp": []}
    for finding in json.loads(run.out)["domains"][0]["findings"]:
        found[finding["check"]].append(finding)
    return found


def test_signed_tlsa_matching_the_presented_key_passes_and_another_key_fails(
    tmp_path: Path, signed_dns_server: DnsServer
) -> None:
    # given a signed zone whose TLSA is the key of the certificate the MX serves
    ca = trustme.CA()
    served = ca.issue_cert(HOST)
    _published(tmp_path, signed_dns_server, spki_sha256(served.cert_chain_pems[0].bytes()))

    for port in _starttls(served):
        found = _findings(tmp_path, signed_dns_server, port)
        # then every DANE finding passes
        assert [f["status"] for f in found["dane"]] == ["pass", "pass"], found
        assert [f["status"] for f in found["dane_smtp"]] == ["pass"], found

    # when the MX switches to a certificate with a new key before its TLSA is published
    for port in _starttls(ca.issue_cert(HOST)):
        found = _findings(tmp_path, signed_dns_server, port)
        # then the key check fails, saying what DANE senders do
        (smtp,) = found["dane_smtp"]
        assert smtp["status"] == "fail", smtp
        assert smtp["message"].endswith("DANE senders will refuse delivery")


def test_an_unsigned_zone_with_dnssec_true_fails(tmp_path: Path, bind_server: BindServer) -> None:
    ca = trustme.CA()
    served = ca.issue_cert(HOST)
    _published(tmp_path, bind_server, spki_sha256(served.cert_chain_pems[0].bytes()))

    for port in _starttls(served):
        found = _findings(tmp_path, bind_server, port)
        signed, tlsa = found["dane"]
        assert signed["status"] == "fail" and "has no DNSKEY" in signed["message"], signed
        assert "receivers ignore the TLSA" in signed["message"]
        assert tlsa["status"] == "fail" and "carries no RRSIG" in tlsa["message"], tlsa
