"""A private Exim4 built from Debian's own template, a local SMTP sink, and dkimpy against BIND.

`exim_rig()` makes a private root (0755, so Debian-exim can traverse it) with a spool and log
owned by Debian-exim and starts an `SmtpSink`. `EximRig.config_from(localmacros)` builds a config
the way `update-exim4.conf` does in non-split mode (localmacros, then the template with the `dc_*`
macros inserted after its `UPEX4CmacrosUPEX4C` line), plus a private spool/log and a first router
that sends everything to the sink. `EximRig.deliver` submits one message with `exim -C conf -odi`
and returns what the sink received; `verify_each` checks each DKIM-Signature with dkimpy against
what a test BIND serves. Nothing leaves 127.0.0.1 and Exim does no DNS.
"""

from __future__ import annotations

import os
import pwd
import queue
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dkim
import pytest

from tests.servers import LOOPBACK, DnsEndpoint, not_installed, txt_values

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
# update-exim4.conf.conf of the host the config above stands for
UPDATE_EXIM4_CONF = (
    "dc_eximconfig_configtype='internet'\n"
    "dc_other_hostnames=''\n"
    "dc_local_interfaces='127.0.0.1'\n"
    "dc_use_split_config='false'\n"
    "dc_minimaldns='true'\n"
)
SINK_TIMEOUT = 20


def require_exim() -> None:
    """Skip (fail under CI) unless Debian's Exim, its template and root are here."""
    if not (EXIM.exists() and TEMPLATE.exists() and os.geteuid() == 0):
        not_installed(f"{EXIM} and {TEMPLATE} (exim4-daemon-light) and root are needed")


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


class EximRig:
    """A private Exim configuration, its spool and log, and the sink it delivers to."""

    def __init__(self, root: Path, sink: SmtpSink) -> None:
        self.root = root
        self.sink = sink

    def config_from(self, localmacros: str) -> Path:
        """Write the unsplit config for this exim4.conf.localmacros text; return its path."""
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
        text = localmacros + TEMPLATE.read_text()  # as update-exim4.conf does: no separator
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

    def deliver(self, conf: Path, message: bytes) -> bytes:
        """Submit `message` through Exim; what the sink received (the test fails if nothing)."""
        result = self.send(conf, message)
        assert result.returncode == 0, f"{result.stderr.decode()}\n{self.mainlog()}"
        try:
            return self.sink.messages.get(timeout=SINK_TIMEOUT)
        except queue.Empty:
            pytest.fail(f"nothing reached the sink\n{result.stderr.decode()}\n{self.mainlog()}")

    def mainlog(self) -> str:
        path = self.root / "log" / "mainlog"
        return path.read_text() if path.exists() else ""


@contextmanager
def exim_rig(prefix: str = "mailzone-exim-") -> Iterator[EximRig]:
    """A private Exim root in a fresh temp dir (removed afterwards) with a running sink."""
    require_exim()
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # Debian-exim must traverse it to reach spool, keys and lookup file
    exim_user = pwd.getpwnam(EXIM_USER)
    for name in ("spool", "log"):
        (root / name).mkdir()
        os.chown(root / name, exim_user.pw_uid, exim_user.pw_gid)
        (root / name).chmod(0o750)
    sink = SmtpSink()
    try:
        yield EximRig(root, sink)
    finally:
        sink.close()
        shutil.rmtree(root, ignore_errors=True)


def message(subject: str) -> bytes:
    """A small message from SENDER (so example.org signs it)."""
    return (
        f"From: Sender <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{re.sub(r'[^A-Za-z0-9]', '-', subject)}@example.org>\r\n\r\n"
        "Hello from mailzone's Exim test.\r\n"
    ).encode()


def dnsfunc_for(server: DnsEndpoint) -> Callable[..., bytes | None]:
    """A dkimpy `dnsfunc` answering from the test BIND (never the system resolver)."""

    def dnsfunc(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        values = txt_values(server, text)
        return values[0].encode() if values else None

    return dnsfunc


def signatures(received: bytes) -> int:
    """How many DKIM-Signature headers the message has."""
    return sum(1 for line in received.split(b"\n") if line.lower().startswith(b"dkim-signature:"))


def signing_selectors(received: bytes) -> list[str]:
    """The s= of each DKIM-Signature header, in header order."""
    verifier = dkim.DKIM(received)
    found = []
    for name, value in verifier.headers:
        if name.lower() == b"dkim-signature":
            tags = dkim.util.parse_tag_value(re.sub(rb"\s+", b"", value))
            found.append(tags[b"s"].decode())
    return found


def verify_each(received: bytes, server: DnsEndpoint) -> list[bool]:
    """dkimpy's verdict on each DKIM-Signature, with keys from `server`."""
    verifier = dkim.DKIM(received)
    return [
        bool(verifier.verify(idx=i, dnsfunc=dnsfunc_for(server)))
        for i in range(signatures(received))
    ]
