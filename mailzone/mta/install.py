"""Render the host's MTA configuration from the states and write it where the host config says.

Only the active selector of each algorithm signs; domains without one are left out (Exim and
rspamd then do not sign them). Files are written atomically and only when their text changes, so
a no-op rotate touches nothing and reloads nothing."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterable
from pathlib import Path

from mailzone.errors import MailzoneError
from mailzone.mta.kinds import renderer
from mailzone.mta.renderer import MtaFile
from mailzone.mta.signing import Signing
from mailzone.spec.host import HostConfig
from mailzone.spec.state import DomainState
from mailzone.util.files import write_atomic

__all__ = ["MtaFile", "install", "render_files", "run_commands", "run_reload", "signing_of"]

RELOAD_TIMEOUT = 120


def signing_of(
    states: Iterable[DomainState], host: HostConfig
) -> tuple[list[Signing], dict[str, str]]:
    """What the host signs: each domain's active selectors (RSA first), and selector → algorithm."""
    signing: list[Signing] = []
    algorithms: dict[str, str] = {}
    for state in sorted(states, key=lambda s: s.domain):
        if not host.signs_for(state.domain):
            continue
        active = sorted(
            (s for s in state.selectors if s.phase == "active"),
            key=lambda s: s.algorithm != "rsa",
        )
        if active:
            signing.append(Signing(state.domain, [s.selector for s in active]))
            algorithms.update({s.selector: s.algorithm for s in active})
    return signing, algorithms


def render_files(kind: str, states: Iterable[DomainState], host: HostConfig) -> list[MtaFile]:
    """The files `kind` needs for the host's active selectors."""
    render = renderer(kind)
    signing, algorithms = signing_of(states, host)
    return render(signing, algorithms, host)


def install(files: list[MtaFile]) -> list[Path]:
    """Write the files whose text changes (atomically; new files 0644, existing ones keep their
    mode); return the ones written."""
    written = []
    for item in files:
        text = item.merged()
        try:
            current = item.path.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            current = None
        except OSError as err:
            raise MailzoneError(f"{item.path}: cannot read: {err.strerror}") from None
        if current == text:
            continue
        try:
            item.path.parent.mkdir(parents=True, exist_ok=True)
            # an existing file keeps its mode (an admin's 0640 localmacros stays 0640)
            mode = stat.S_IMODE(item.path.stat().st_mode) if current is not None else 0o644
            write_atomic(item.path, text, mode=mode)
        except OSError as err:
            raise MailzoneError(f"{item.path}: cannot write: {err.strerror}") from None
        written.append(item.path)
    return written


def run_reload(host: HostConfig) -> None:
    """Run the MTA's reload commands in order; MailzoneError names the first that fails."""
    run_commands(host.mta.reload)


def run_commands(commands: list[list[str]]) -> None:
    """Run argv lists in order (no shell); MailzoneError names the first that fails."""
    for argv in commands:
        shown = " ".join(argv)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=RELOAD_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise MailzoneError(f"reload command '{shown}' failed: {err}") from None
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise MailzoneError(
                f"reload command '{shown}' exited {done.returncode}: {last[0]}".rstrip(": ")
            )
