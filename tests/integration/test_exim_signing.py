"""A private Exim4 built from Debian's own template signs with mailzone's keys and macros.

Each test writes keys with `KeyStore(group="Debian-exim")`, renders the lookup file and the macro
block, builds a config the way `update-exim4.conf` does in non-split mode (localmacros, then the
template with the `dc_*` macros inserted after its `UPEX4CmacrosUPEX4C` line), adds a private
spool/log and a first router that sends everything to a local SMTP sink, submits one message
with `exim -C conf -odi`, and verifies what the sink received with dkimpy against the DKIM keys
published through octoDNS in a real BIND. Nothing leaves 127.0.0.1 and Exim does no DNS.
"""

from __future__ import annotations

import os
import pwd
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dkim
import pytest
from octodns.record import Record
from octodns.zone import Zone

from mailzone.files import write_atomic
from mailzone.keys import Algorithm, generate_private_key, private_key_pem, public_key_of
from mailzone.keystore import KeyStore
from mailzone.mta.exim import Signing, merge_localmacros, render_exim
from tests.conftest import _in_ci
from tests.servers import LOOPBACK, BindServer, make_provider, txt_values

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

EXIM = Path("/usr/sbin/exim4")
TEMPLATE = Path("/etc/exim4/exim4.conf.template")
EXIM_USER = "Debian-exim"
SENDER = "sender@example.org"
RECIPIENT = "rcpt@example.net"
USER_LOCALMACROS = "# the admin's own settings\nMAIN_HARDCODE_PRIMARY_HOSTNAME = mail.example.org"
# What update-exim4.conf seeds for dc_eximconfig_configtype='internet' (see its seed_macro calls).
DC_MACROS = {
    "MAIN_PACKAGE_VERSION": "mailzone-test",
    "MAIN_LOCAL_DOMAINS": "@:localhost",
    "MAIN_RELAY_TO_DOMAINS": "",
    "ETC_MAILNAME": "mail.example.org",
    "LOCAL_DELIVERY": "mail_spool",
    "MAIN_RELAY_NETS": "",
    "DCreadhost": "",
    "DCsmarthost": "",
    "DC_eximconfig_configtype": "internet",
    "DCconfig_internet": "1",
    "DC_minimaldns": "1",  # no host_lookup for incoming SMTP
}


def _exim_available() -> None:
    if EXIM.exists() and TEMPLATE.exists() and os.geteuid() == 0:
        return
    message = f"{EXIM} and {TEMPLATE} (exim4-daemon-light) and root are needed"
    if _in_ci():
        pytest.fail(f"{message}; CI is set, so this is an error, not a skip")
    pytest.skip(message)


class SmtpSink:
    """A minimal SMTP server on 127.0.0.1 that accepts every message into `messages`."""

    def __init__(self) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self.messages: queue.Queue[bytes] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as reader:
                self._session(conn, reader)

    def _session(self, conn: socket.socket, reader: object) -> None:
        assert hasattr(reader, "readline")
        conn.sendall(b"220 sink ESMTP\r\n")
        while line := reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-sink\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                data = []
                while (body_line := reader.readline()) != b".\r\n":
                    if not body_line:
                        return  # the client gave up mid-message: nothing was delivered
                    data.append(body_line[1:] if body_line.startswith(b"..") else body_line)
                self.messages.put(b"".join(data))
                conn.sendall(b"250 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")


@dataclass
class EximRig:
    """A private Exim configuration and the directories it uses."""

    root: Path
    keys: KeyStore
    lookup_file: Path
    sink: SmtpSink

    def configure(self, signing: list[Signing]) -> Path:
        files = render_exim(signing, self.keys.directory, self.lookup_file)
        write_atomic(self.lookup_file, files.lookup_text, mode=0o644)
        localmacros = merge_localmacros(USER_LOCALMACROS, files.macros_block)
        conf = self.root / "exim4.conf"
        conf.write_text(self._unsplit_config(localmacros))
        conf.chmod(0o644)
        return conf

    def _unsplit_config(self, localmacros: str) -> str:
        macros = "".join(f"{name} = {value}\n" for name, value in DC_MACROS.items())
        macros += f"SPOOLDIR = {self.root}/spool\n"
        macros += f"log_file_path = {self.root}/log/%slog\n"
        router = (
            "mailzone_test_sink:\n"
            "  driver = manualroute\n"
            "  domains = ! +local_domains\n"
            "  transport = remote_smtp\n"
            f"  route_list = * {LOOPBACK}::{self.sink.port} byname\n"
            "  self = send\n"
            "  no_more\n\n"
        )
        text = localmacros + TEMPLATE.read_text()
        text = text.replace("\nUPEX4CmacrosUPEX4C = 1\n", f"\nUPEX4CmacrosUPEX4C = 1\n{macros}", 1)
        return text.replace("\nbegin routers\n", f"\nbegin routers\n\n{router}", 1)

    def send(self, conf: Path, message: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(EXIM), "-C", str(conf), "-odi", "-f", SENDER, RECIPIENT],
            input=message,
            capture_output=True,
            timeout=30,
            check=False,
        )

    def mainlog(self) -> str:
        path = self.root / "log" / "mainlog"
        return path.read_text() if path.exists() else ""


@pytest.fixture
def rig() -> Iterator[EximRig]:
    _exim_available()
    root = Path(tempfile.mkdtemp(prefix="mailzone-exim-"))
    root.chmod(0o755)  # Debian-exim must traverse it to reach spool, keys and lookup file
    exim_user = pwd.getpwnam(EXIM_USER)
    for name in ("spool", "log"):
        (root / name).mkdir()
        os.chown(root / name, exim_user.pw_uid, exim_user.pw_gid)
        (root / name).chmod(0o750)
    sink = SmtpSink()
    try:
        yield EximRig(root, KeyStore(root / "keys", group=EXIM_USER), root / "selectors", sink)
    finally:
        sink.close()
        shutil.rmtree(root, ignore_errors=True)


def publish(server: BindServer, keys: dict[str, str]) -> None:
    """Publish `selector -> DKIM TXT value` under example.org through octoDNS."""
    zone = Zone("example.org.", [])
    for selector, value in keys.items():
        zone.add_record(
            Record.new(
                zone,
                f"{selector}._domainkey",
                {"type": "TXT", "ttl": 300, "value": value.replace(";", "\\;")},
            )
        )
    provider = make_provider(server)
    provider.apply(provider.plan(zone))


def make_key(rig: EximRig, selector: str, algorithm: Algorithm) -> str:
    """Store a new key for example.org; return its DKIM TXT value."""
    key = generate_private_key(algorithm)
    rig.keys.write("example.org", selector, private_key_pem(key))
    return public_key_of(key).txt_value()


def dnsfunc_for(server: BindServer) -> Callable[..., bytes | None]:
    """A dkimpy `dnsfunc` answering from the test BIND (never the system resolver)."""

    def dnsfunc(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        values = txt_values(server, text)
        return values[0].encode() if values else None

    return dnsfunc


def message(subject: str) -> bytes:
    return (
        f"From: Sender <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: {subject}\r\n"
        "Message-ID: <test@example.org>\r\n\r\nHello from mailzone's Exim test.\r\n"
    ).encode()


def deliver(rig: EximRig, signing: list[Signing], subject: str) -> bytes:
    conf = rig.configure(signing)
    result = rig.send(conf, message(subject))
    assert result.returncode == 0, f"{result.stderr.decode()}\n{rig.mainlog()}"
    try:
        return rig.sink.messages.get(timeout=20)
    except queue.Empty:
        pytest.fail(f"nothing reached the sink\n{result.stderr.decode()}\n{rig.mainlog()}")


def signatures(received: bytes) -> int:
    return sum(1 for line in received.split(b"\n") if line.lower().startswith(b"dkim-signature:"))


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_exim_signs_and_the_published_key_verifies(
    rig: EximRig, bind_server: BindServer, algorithm: Algorithm
) -> None:
    selector = f"20261124{algorithm[0]}"
    publish(bind_server, {selector: make_key(rig, selector, algorithm)})

    received = deliver(rig, [Signing("example.org", [selector])], algorithm)

    assert signatures(received) == 1, received.decode()
    assert f"s={selector}".encode() in received
    assert dkim.verify(received, dnsfunc=dnsfunc_for(bind_server))


def test_exim_dual_signs_rsa_and_ed25519_and_both_verify(
    rig: EximRig, bind_server: BindServer
) -> None:
    published = {
        "20261124r": make_key(rig, "20261124r", "rsa"),
        "20261124e": make_key(rig, "20261124e", "ed25519"),
    }
    publish(bind_server, published)

    received = deliver(rig, [Signing("example.org", ["20261124r", "20261124e"])], "dual")

    assert signatures(received) == 2, received.decode()
    verifier = dkim.DKIM(received)
    results = [verifier.verify(idx=i, dnsfunc=dnsfunc_for(bind_server)) for i in range(2)]
    assert results == [True, True]
    assert b"a=rsa-sha256" in received and b"a=ed25519-sha256" in received


def test_signature_with_an_unpublished_key_does_not_verify(
    rig: EximRig, bind_server: BindServer
) -> None:
    publish(bind_server, {"20261124r": make_key(rig, "20261124r", "rsa")})
    make_key(rig, "unpublished", "rsa")

    received = deliver(rig, [Signing("example.org", ["unpublished"])], "negative")

    assert signatures(received) == 1, received.decode()
    assert not dkim.verify(received, dnsfunc=dnsfunc_for(bind_server))


def test_mail_from_a_domain_not_in_the_lookup_file_leaves_unsigned(
    rig: EximRig, bind_server: BindServer
) -> None:
    make_key(rig, "20261124r", "rsa")

    received = deliver(rig, [Signing("example.com", ["20261124r"])], "not ours")

    assert signatures(received) == 0


def test_missing_key_file_sends_unsigned_even_with_dkim_strict(
    rig: EximRig, bind_server: BindServer
) -> None:
    # The dsearch yields "0", which Exim reads as "do not sign": exim_check reports this case.
    make_key(rig, "other", "rsa")

    received = deliver(rig, [Signing("example.org", ["nokey"])], "no key")

    assert signatures(received) == 0


def test_unreadable_key_with_dkim_strict_defers_instead_of_sending_unsigned(
    rig: EximRig, bind_server: BindServer
) -> None:
    make_key(rig, "20261124r", "rsa")
    rig.keys.path("example.org", "20261124r").chmod(0o600)  # Debian-exim can no longer read it
    conf = rig.configure([Signing("example.org", ["20261124r"])])

    rig.send(conf, message("unreadable"))

    with pytest.raises(queue.Empty):
        rig.sink.messages.get(timeout=2)
    log = rig.mainlog()
    assert "dkim_strict is set. Deferring" in log, log
    assert "== rcpt@example.net" in log, log  # "==": delivery deferred
