"""Render the host's MTA configuration from the states and write it where the host config says.

Only the active selector of each algorithm signs; domains without one are left out (Exim and
rspamd then do not sign them). Files are written atomically and only when their text changes, so
a no-op rotate touches nothing and reloads nothing."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mailzone.errors import MailzoneError
from mailzone.mta.exim import merge_localmacros, render_exim
from mailzone.mta.opendkim import render_opendkim
from mailzone.mta.rspamd import render_rspamd
from mailzone.mta.signing import Signing
from mailzone.spec.host import HostConfig
from mailzone.spec.state import DomainState
from mailzone.util.files import write_atomic

MtaKind = str
RSPAMD_DEFAULT = "/etc/rspamd/local.d/dkim_signing.conf"
RELOAD_TIMEOUT = 120


@dataclass(frozen=True)
class MtaFile:
    """One file of MTA configuration: its full new text, or a marked block merged into it."""

    path: Path
    text: str
    block: bool = False  # `text` is a marked block to merge into whatever the file holds

    def merged(self) -> str:
        """The file's text after the change."""
        if not self.block:
            return self.text
        try:
            existing = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            existing = ""
        except OSError as err:
            raise MailzoneError(f"{self.path}: cannot read: {err.strerror}") from None
        return merge_localmacros(existing, self.text, what=str(self.path))


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


def render_files(kind: MtaKind, states: Iterable[DomainState], host: HostConfig) -> list[MtaFile]:
    """The files `kind` needs for the host's active selectors."""
    signing, algorithms = signing_of(states, host)
    mta = host.mta
    key_dir = host.key_path
    if kind == "exim":
        files = render_exim(signing, key_dir, host.path(mta.lookup_file), strict=mta.strict)
        return [
            MtaFile(files.lookup_file, files.lookup_text),
            MtaFile(host.path(mta.macros_file), files.macros_block, block=True),
        ]
    if kind == "opendkim":
        key_table = host.path(mta.key_table) if mta.key_table else None
        signing_table = host.path(mta.signing_table) if mta.signing_table else None
        # OpenDKIM signs one algorithm per instance: keep each domain's selector of that algorithm
        chosen = [
            Signing(s.domain, [x for x in s.selectors if algorithms[x] == mta.algorithm])
            for s in signing
        ]
        chosen = [s for s in chosen if s.selectors]
        rendered = render_opendkim(
            chosen,
            key_dir,
            mta.algorithm,
            algorithms,
            key_table_file=key_table,
            signing_table_file=signing_table,
        )
        table_base = Path("/etc/opendkim")
        out = [
            MtaFile(
                key_table or table_base / f"mailzone-{mta.algorithm}.key.table", rendered.key_table
            ),
            MtaFile(
                signing_table or table_base / f"mailzone-{mta.algorithm}.signing.table",
                rendered.signing_table,
            ),
        ]
        if mta.config_file:
            out.append(MtaFile(host.path(mta.config_file), rendered.config_snippet, block=True))
        return out
    if kind == "rspamd":
        text = render_rspamd(signing, key_dir, algorithms)
        return [MtaFile(host.path(mta.config_file or RSPAMD_DEFAULT), text)]
    raise MailzoneError(f"unknown MTA {kind!r}: expected exim, opendkim or rspamd")


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
    """Run the reload commands in order; MailzoneError names the first that fails."""
    for argv in host.mta.reload:
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
