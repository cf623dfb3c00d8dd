"""A private rspamd on 127.0.0.1 that signs with the dkim_signing.conf mailzone wrote.

`rspamd_root()` makes a 0755 temp dir. `Rspamd(root)` uses Debian's own /etc/rspamd/rspamd.conf
with `--var=LOCAL_CONFDIR=root/local` (so `local.d/dkim_signing.conf`, where the host config
points mailzone, is the file rspamd reads) and private DBDIR, RUNDIR and LOGDIR owned by
_rspamd. The rig's own `override.d/` keeps it on loopback and off the network: one normal worker
on a free 127.0.0.1 port, no controller or proxy, every module but dkim_signing disabled (so no
map is fetched, no update checked, no RBL or fuzzy server asked), DNS pointed at a closed
loopback port. rspamd drops to _rspamd, so the keys must be readable by that group.

`start()` waits until a scan answers (about 20 s on 2 idle cores); `sign()` submits one message
with `rspamc --mime` as an authenticated user (or not) and returns the message rspamd wrote
back. `reload_command()` is what the host config's `mta.reload` runs: SIGHUP to the main
process, as `systemctl reload rspamd` does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import LOOPBACK, find_binary, free_port, not_installed

USER = "_rspamd"
CONFDIR = Path("/etc/rspamd")
START_TIMEOUT = 180.0  # ~20 s idle; a loaded machine takes longer
SCAN_TIMEOUT = 30
KEEP_MODULES = ("dkim_signing", "redis")  # redis: settings only; no server is configured


def require_rspamd() -> None:
    """Skip (fail under CI) unless rspamd, rspamc, its config, its user and root are here."""
    missing = [name for name in ("rspamd", "rspamc") if find_binary(name) is None]
    try:
        pwd.getpwnam(USER)
    except KeyError:
        missing.append(f"user {USER}")
    if missing or not (CONFDIR / "rspamd.conf").exists() or os.geteuid() != 0:
        not_installed("rspamd (package rspamd), its /etc/rspamd and root are needed")


@contextmanager
def rspamd_root(prefix: str = "mailzone-rspamd-") -> Iterator[Path]:
    """A fresh 0755 temp dir (removed afterwards): _rspamd traverses it to reach the keys."""
    require_rspamd()
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Rspamd:
    """One private rspamd under `root`; `local_confdir / "local.d"` is mailzone's to write."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.local_confdir = root / "local"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._dirs = {name: root / name for name in ("db", "run", "log")}

    @property
    def dkim_signing_conf(self) -> Path:
        return self.local_confdir / "local.d" / "dkim_signing.conf"

    def reload_command(self) -> list[str]:
        """SIGHUP to the main process (`rspamd -f` writes no pid file: start() first)."""
        assert self._process is not None, "start rspamd before asking how to reload it"
        return ["kill", "-HUP", str(self._process.pid)]

    def _write_config(self) -> None:
        override = self.local_confdir / "override.d"
        override.mkdir(parents=True, exist_ok=True)
        (self.local_confdir / "local.d").mkdir(exist_ok=True)
        for path in self._dirs.values():
            path.mkdir(exist_ok=True)
            shutil.chown(path, USER, USER)
        for module in sorted(CONFDIR.glob("modules.d/*.conf")):
            if module.stem not in KEEP_MODULES:
                (override / module.name).write_text("enabled = false;\n")
        (override / "worker-normal.inc").write_text(
            f'bind_socket = "{LOOPBACK}:{self.port}";\ncount = 1;\n'
        )
        for worker in ("controller", "proxy", "fuzzy"):
            (override / f"worker-{worker}.inc").write_text("enabled = false;\n")
        dead = free_port()  # nothing listens: every DNS question fails on loopback
        (override / "options.inc").write_text(
            f'dns {{\n  nameserver = ["{LOOPBACK}:{dead}"];\n  timeout = 1s;\n  retransmits = 1;\n}}\n'
        )

    def _argv(self) -> list[str]:
        binary = find_binary("rspamd")
        assert binary is not None
        return [
            binary,
            "-f",
            *("-u", USER, "-g", USER),
            *("-c", str(CONFDIR / "rspamd.conf")),
            f"--var=LOCAL_CONFDIR={self.local_confdir}",
            f"--var=DBDIR={self._dirs['db']}",
            f"--var=RUNDIR={self._dirs['run']}",
            f"--var=LOGDIR={self._dirs['log']}",
        ]

    def start(self) -> Rspamd:
        """Start on a free loopback port; return once a scan answers."""
        self.port = free_port()
        self._write_config()
        out = (self.root / "rspamd.out").open("wb")
        self._process = subprocess.Popen(self._argv(), stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"rspamd exited {self._process.returncode}: {self.log()}")
            if self._scan(b"Subject: ping\r\n\r\nping\r\n", []).returncode == 0:
                return self
            time.sleep(0.5)
        self.stop()
        raise AssertionError(f"rspamd did not answer within {START_TIMEOUT} s: {self.log()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None

    def log(self) -> str:
        text = ""
        for path in (self.root / "rspamd.out", self._dirs["log"] / "rspamd.log"):
            if path.exists():
                text += "\n".join(path.read_text(errors="replace").splitlines()[-40:]) + "\n"
        return text

    def _scan(self, message: bytes, options: list[str]) -> subprocess.CompletedProcess[bytes]:
        binary = find_binary("rspamc")
        assert binary is not None
        return subprocess.run(
            [binary, "-h", f"{LOOPBACK}:{self.port}", "-t", "10", *options],
            input=message,
            capture_output=True,
            timeout=SCAN_TIMEOUT,
            check=False,
        )

    def sign(self, message: bytes, sender: str, user: str | None) -> bytes:
        """The message as rspamd hands it back (`rspamc --mime`), CR LF line ends, submitted
        from 192.0.2.1 (not a local address) by `user` (None: unauthenticated)."""
        options = ["--mime", "--ip", "192.0.2.1", "--from", sender]
        if user is not None:
            options += ["--user", user]
        done = self._scan(message, options)
        assert done.returncode == 0, f"{done.stdout!r}\n{done.stderr!r}\n{self.log()}"
        return done.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
