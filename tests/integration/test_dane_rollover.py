"""A whole DANE key rollover on a real BIND and a real STARTTLS server (aiosmtpd, certificates
from a trustme CA): key A current and served, key B staged and published beside it, certbot's
deploy hook refused before B's TLSA has been served for 2 × TTL (injected time), then B installed
and promoted, and A's TLSA removed. At every step the key the server presents over STARTTLS is in
the TLSA set BIND serves.

The MTA's "reload" is `kill -USR1 <this process>`: the test's signal handler makes the server load
the installed certificate and key files, as `systemctl reload exim4` makes Exim."""

from __future__ import annotations

import os
import signal
import smtplib
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import trustme
import yaml
from aiosmtpd.controller import Controller

from mailzone.records.tlsa import spki_sha256
from mailzone.repo.state import load_state
from tests.cli import Run, mailzone, refused, write_provider
from tests.helpers import basic_spec, write_spec
from tests.servers import LOOPBACK, BindServer, free_port, query

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

HOST = "mail.example.org"
TLSA_NAME = f"_25._tcp.{HOST}."


class Sink:
    """aiosmtpd's handler: accept everything."""

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


class Mta:
    """A STARTTLS server that serves the certificate and key in `cert`/`key`, loaded again on
    SIGUSR1 (its reload)."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert, self.key = cert, key
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.port = free_port()
        self.controller = Controller(
            Sink(),
            hostname=LOOPBACK,
            port=self.port,
            server_hostname=HOST,
            tls_context=self.context,
        )

    def reload(self, signum: int, frame: FrameType | None) -> None:
        self.context.load_cert_chain(self.cert, self.key)

    def presented(self) -> str:
        """The SPKI SHA-256 of the certificate the server presents after STARTTLS."""
        client = ssl.create_default_context()
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP(LOOPBACK, self.port, timeout=10) as smtp:
            smtp.starttls(context=client)
            sock: Any = smtp.sock
            der = sock.getpeercert(binary_form=True)
        return spki_sha256(ssl.DER_cert_to_PEM_cert(der).encode())


@pytest.fixture
def mta(tmp_path: Path) -> Iterator[Mta]:
    ca = trustme.CA()
    folder = tmp_path / "mta"
    folder.mkdir()
    first = ca.issue_cert(HOST)
    first.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    first.private_key_pem.write_to_path(str(folder / "key.pem"))
    server = Mta(folder / "cert.pem", folder / "key.pem")
    lineage = tmp_path / "letsencrypt" / "live" / HOST  # certbot's new certificate, key B
    lineage.mkdir(parents=True)
    renewed = ca.issue_cert(HOST)
    renewed.cert_chain_pems[0].write_to_path(str(lineage / "cert.pem"))
    (lineage / "fullchain.pem").write_bytes(b"".join(p.bytes() for p in renewed.cert_chain_pems))
    renewed.private_key_pem.write_to_path(str(lineage / "privkey.pem"))
    before = signal.signal(signal.SIGUSR1, server.reload)
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()
        signal.signal(signal.SIGUSR1, before)


def served(server: BindServer) -> set[str]:
    """The SPKI hashes of the TLSA 3 1 1 records BIND serves for the MX."""
    out = set()
    for text in query(server, TLSA_NAME, "TLSA"):
        usage, selector, matching, data = text.split(maxsplit=3)
        assert (usage, selector, matching) == ("3", "1", "1")
        out.add(data.replace(" ", "").lower())
    return out


def test_a_key_rollover_never_leaves_the_presented_key_without_its_tlsa(
    tmp_path: Path, bind_server: BindServer, mta: Mta
) -> None:
    root = tmp_path / "repo"
    config = bind_server.provider_config()
    config["mailzone"] = {"nameservers": [f"{bind_server.host}:{bind_server.port}"]}
    write_provider(root, "target", config)
    write_spec(root, "example.org", basic_spec(provider="target", extra="dnssec: true\ndane: {}\n"))
    host = tmp_path / "host.yaml"
    reload = ["kill", "-USR1", str(os.getpid())]
    tls = {"cert": str(mta.cert), "key": str(mta.key), "reload": [reload]}
    host.write_text(yaml.safe_dump({"key_dir": str(tmp_path / "keys"), "tls": tls}))
    lineage = tmp_path / "letsencrypt" / "live" / HOST
    a, b = mta.presented(), spki_sha256((lineage / "cert.pem").read_bytes())
    t0 = datetime.now(UTC).replace(microsecond=0)

    def run(*args: str) -> Run:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("RENEWED_LINEAGE", str(lineage))
            env.setenv("RENEWED_DOMAINS", HOST)
            return mailzone(root, *args, env={"MAILZONE_HOST_CONFIG": str(host)})

    def ok(*args: str) -> Run:
        done = run(*args)
        assert done.code == 0, done.out + done.err
        return done

    def hook_at(when: datetime) -> Run:
        return run("tlsa", "deploy-hook", "--now", when.isoformat())

    # given key A recorded from the certificate the MX serves, and published
    ok("tlsa", "current", HOST, "--cert", str(mta.cert))
    ok("apply", "--yes")
    assert served(bind_server) == {a}
    assert mta.presented() == a

    # when the pre-generated next key B is staged and published
    ok("tlsa", "add-next", HOST, "--key", str(lineage / "privkey.pem"))
    ok("apply", "--yes")
    assert served(bind_server) == {a, b}
    ok("rotate", "--now", t0.isoformat())  # notes that every nameserver serves B's TLSA
    assert [k.visible_since for k in load_state(root, "example.org").tlsa] == [None, t0]

    # then certbot's renewal with key B is refused before 2 × TTL: A stays live
    early = hook_at(t0 + timedelta(minutes=9))
    assert "wait 1m more" in refused(early)
    assert mta.presented() == a and a in served(bind_server)

    # and goes live once B's TLSA has been served for 2 × TTL, B then the current key
    done = hook_at(t0 + timedelta(minutes=10))
    assert done.code == 0, done.out + done.err
    assert mta.presented() == b and b in served(bind_server)
    state = load_state(root, "example.org")
    assert [(k.role, k.spki_sha256) for k in state.tlsa] == [("current", b)]

    # and the next apply removes A's TLSA
    ok("apply", "--yes")
    assert served(bind_server) == {b}
    assert mta.presented() == b
