"""A private OpenDKIM on 127.0.0.1, with `miltertest` playing the MTA.

`opendkim_root()` makes a root-owned 0755 temp dir under /run: OpenDKIM (RequireSafeKeys, on by
default and left on) refuses a key under any world-writable directory such as /tmp, so keys
mailzone wrote there would never sign. `OpenDkim(root).write_config()` writes the instance's own
opendkim.conf (user, pid file, no syslog, signing only); mailzone merges its marked block into
that file and writes the KeyTable and SigningTable the block names. `start()` runs
`opendkim -f -x CONF -p inet:PORT@127.0.0.1` on a free port; `sign()` hands it one message
through a generated miltertest script and returns the message with the DKIM-Signature it
inserted on top (`SigningFailed` when there is none). `reload_command()` is what the host
config's `mta.reload` runs: SIGUSR1, as `systemctl reload opendkim` sends.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import LOOPBACK, find_binary, free_port, not_installed

USER = "opendkim"
SAFE_BASE = Path("/run")  # root-owned 0755: no world-writable directory above the keys
START_TIMEOUT = 30.0
MILTER_TIMEOUT = 30


class SigningFailed(AssertionError):
    """OpenDKIM returned no DKIM-Signature for the message; carries miltertest's output."""


def require_opendkim() -> None:
    """Skip (fail under CI) unless opendkim, miltertest, the opendkim user and root are here."""
    missing = [name for name in ("opendkim", "miltertest") if find_binary(name) is None]
    if missing or os.geteuid() != 0 or not _user_exists(USER):
        not_installed("opendkim and miltertest (packages opendkim, miltertest) and root are needed")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextmanager
def opendkim_root(prefix: str = "mailzone-opendkim-") -> Iterator[Path]:
    """A fresh root-owned 0755 directory outside any world-writable tree (removed afterwards)."""
    require_opendkim()
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=SAFE_BASE))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


class OpenDkim:
    """One private OpenDKIM instance under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "opendkim.conf"
        self.run_dir = root / "run"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "opendkim.pid"

    def write_config(self) -> Path:
        """The instance's own settings; mailzone's block is merged into this file later."""
        self.run_dir.mkdir(exist_ok=True)
        shutil.chown(self.run_dir, USER, USER)
        self.conf.write_text(
            "# the admin's own settings (private test instance)\n"
            f"UserID {USER}\n"
            f"PidFile {self.pid_file}\n"
            "Syslog no\n"
            "Mode s\n"  # sign only: no verification, so no DNS lookup
        )
        return self.conf

    def reload_command(self) -> list[str]:
        return ["sh", "-c", f"kill -USR1 $(cat {self.pid_file})"]

    def start(self) -> OpenDkim:
        """Start on a free loopback port; return once it accepts connections."""
        self.port = free_port()
        binary = find_binary("opendkim")
        assert binary is not None
        log = (self.root / "opendkim.out").open("wb")
        self._process = subprocess.Popen(
            [binary, "-f", "-x", str(self.conf), "-p", f"inet:{self.port}@{LOOPBACK}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"opendkim exited {self._process.returncode}: {self.output()}")
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"opendkim did not listen within {START_TIMEOUT} s: {self.output()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None

    def output(self) -> str:
        path = self.root / "opendkim.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def sign(self, headers: list[tuple[str, str]], body: str) -> bytes:
        """Play one SMTP transaction from 127.0.0.1 (an internal host: OpenDKIM signs it);
        the message as it would leave, with the inserted DKIM-Signature first."""
        script = self.root / "sign.lua"
        script.write_text(_script(headers, body))
        done = subprocess.run(
            ["miltertest", "-s", str(script)],
            env={**os.environ, "MILTER": f"inet:{self.port}@{LOOPBACK}"},
            capture_output=True,
            timeout=MILTER_TIMEOUT,
            check=False,
        )
        out = done.stdout.decode(errors="replace")
        if done.returncode != 0 or "DKIM-Signature:" not in out:
            raise SigningFailed(
                f"miltertest exited {done.returncode}\n{out}\n{done.stderr.decode()}\n"
                f"{self.output()}"
            )
        value = out.split("DKIM-Signature:", 1)[1].rstrip("\n")
        signature = "DKIM-Signature:" + value.replace("\r\n", "\n").replace("\n", "\r\n")
        message = "".join(f"{name}: {text}\r\n" for name, text in headers) + "\r\n" + body
        return (signature + "\r\n" + message).encode()


def _lua(text: str) -> str:
    """A Lua string literal holding `text` exactly (long brackets would turn CR LF into LF)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "\\r").replace("\n", "\\n") + '"'


def _script(headers: list[tuple[str, str]], body: str) -> str:
    lines = [
        'conn = mt.connect(os.getenv("MILTER"), 40, 0.25)',
        'if conn == nil then error("cannot connect to the milter") end',
        'mt.macro(conn, SMFIC_CONNECT, "j", "mail.example.org")',
        'if mt.conninfo(conn, "localhost", "127.0.0.1") ~= nil then error("conninfo") end',
        'mt.macro(conn, SMFIC_MAIL, "i", "MAILZONETEST")',
        'if mt.mailfrom(conn, "<sender@example.org>") ~= nil then error("mailfrom") end',
        'if mt.rcptto(conn, "<rcpt@example.net>") ~= nil then error("rcptto") end',
    ]
    lines += [f"mt.header(conn, {_lua(name)}, {_lua(text)})" for name, text in headers]
    lines += [
        'if mt.eoh(conn) ~= nil then error("eoh") end',
        "-- a milter that gives up on the message (tempfail) answers nothing more: stop here",
        "if mt.getreply(conn) ~= SMFIR_CONTINUE then",
        '  io.write("end of headers: not continued (reply " .. mt.getreply(conn) .. ")\\n")',
        "  mt.disconnect(conn)",
        "  return",
        "end",
        f"mt.bodystring(conn, {_lua(body)})",
        'if mt.eom(conn) ~= nil then error("eom") end',
        'local signature = mt.getheader(conn, "DKIM-Signature", 0)',
        'if signature ~= nil then io.write("DKIM-Signature:" .. signature .. "\\n") end',
        "mt.disconnect(conn)",
    ]
    return "\n".join(lines) + "\n"
