"""Find the ways a Debian Exim4 set up for mailzone's DKIM keys sends mail unsigned, silently.

Each `Finding` says what is wrong and how to fix it. Checked (see the module docstring of
`mailzone.mta.exim` for the layout):

* `dc_eximconfig_configtype` smarthost/satellite: `remote_smtp_smarthost` has no DKIM options;
* `dc_use_split_config='true'`: exim4.conf.localmacros is not read, the block belongs in
  conf.d/main/; without the block nothing is signed;
* /etc/exim4/exim4.conf exists: Exim reads it instead of the generated config;
* exim4.conf.localmacros without a final newline: the last macro is glued to the template's
  first comment line;
* the block names another key directory or lookup file than the one mailzone writes;
* the lookup file lacks a domain or selector, a key file is missing (the key expands to `0`,
  which Exim takes as "do not sign", even with DKIM_STRICT), or the Exim user cannot read a key,
  the lookup file, or traverse a directory above them;
* the host config's `key_group` is a group the Exim user is not in (it could not read the keys
  mailzone writes), or a key every user can read (warning: anyone on the host can sign);
* DKIM_STRICT not set: every other failure is silent (warning).

Only reads files; all paths and the Exim user/group are parameters so tests use temp dirs.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mailzone.mta.exim import BEGIN_MARKER, END_MARKER, SPLIT_CONFIG_FILE
from mailzone.mta.signing import Signing

DEBIAN_EXIM = "Debian-exim"
_MACRO = re.compile(r"^\s*([A-Z][A-Za-z0-9_]*)\s*=", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    """One problem: `fail` means mail leaves unsigned (or not at all); `warn` is a risk."""

    level: Literal["fail", "warn"]
    message: str
    fix: str


@dataclass(frozen=True)
class _Reader:
    """Who Exim's transport runs as: a uid (None: unknown, judge by group/other bits) and gids."""

    uid: int | None
    gids: frozenset[int]
    name: str


def check_exim(
    etc_dir: Path = Path("/etc/exim4"),
    *,
    key_dir: Path,
    lookup_file: Path,
    signing: list[Signing],
    exim_user: str | None = DEBIAN_EXIM,
    exim_group: str = DEBIAN_EXIM,
    key_group: str | None = None,
) -> list[Finding]:
    """Every problem found, fails first; an empty list means the setup should sign.

    `key_group`: the host config's group for the keys; each fix gives keys that group (else
    the Exim user's), so no fix leaves a key Exim cannot read."""
    findings: list[Finding] = []
    settings = _debconf(etc_dir / "update-exim4.conf.conf")
    configtype = settings.get("dc_eximconfig_configtype", "")
    if configtype in ("smarthost", "satellite"):
        findings.append(
            Finding(
                "fail",
                f"{etc_dir / 'update-exim4.conf.conf'}: dc_eximconfig_configtype='{configtype}' "
                "routes mail through remote_smtp_smarthost, which has no DKIM options: mail "
                "leaves unsigned",
                "add the dkim_domain/dkim_selector/dkim_private_key/dkim_canon/dkim_strict = "
                "DKIM_* lines to the remote_smtp_smarthost transport, or use configtype "
                "'internet'; then run update-exim4.conf",
            )
        )
    override = etc_dir / "exim4.conf"
    if override.exists():
        findings.append(
            Finding(
                "fail",
                f"{override} exists: Exim reads it instead of the config update-exim4.conf "
                "generates, so the DKIM macros may never be used",
                f"move {override} away, or put the DKIM settings into it yourself",
            )
        )
    block = _macro_block(etc_dir, settings, findings)
    if block is not None:
        findings += _block_findings(block, key_dir, lookup_file)
    reader = _reader(exim_user, exim_group, findings)
    if reader is not None:
        findings += _key_group_findings(key_group, reader)
        findings += _file_findings(key_dir, lookup_file, signing, reader, key_group or reader.name)
    return sorted(findings, key=lambda f: f.level != "fail")


def _macro_block(etc_dir: Path, settings: dict[str, str], findings: list[Finding]) -> str | None:
    """The mailzone block from the file Exim will read (None if absent: a finding is added)."""
    localmacros = etc_dir / "exim4.conf.localmacros"
    if settings.get("dc_use_split_config", "false").lower() == "true":
        where = etc_dir / SPLIT_CONFIG_FILE
        text = _read(where)
        if text is None or BEGIN_MARKER not in text:
            stray = _read(localmacros)
            also = (
                f" ({localmacros} has it, but split config does not read that file)"
                if stray is not None and BEGIN_MARKER in stray
                else ""
            )
            findings.append(
                Finding(
                    "fail",
                    f"dc_use_split_config='true' and {where} has no mailzone DKIM block{also}: "
                    "nothing is signed",
                    f"write the block to {where} and run update-exim4.conf",
                )
            )
            return None
        return _between_markers(text)
    text = _read(localmacros)
    if text is None or BEGIN_MARKER not in text:
        findings.append(
            Finding(
                "fail",
                f"{localmacros} has no mailzone DKIM block: nothing is signed",
                "merge the block into it (merge_localmacros) and run update-exim4.conf",
            )
        )
        return None
    if not text.endswith("\n"):
        findings.append(
            Finding(
                "fail",
                f"{localmacros} does not end with a newline: its last line is glued to the "
                "template's first comment line, so that macro is lost and mail may leave unsigned",
                f"add a final newline to {localmacros} and run update-exim4.conf",
            )
        )
    outside = _MACRO.findall(text.replace(_between_markers(text), ""))
    redefined = sorted({name for name in outside if name.startswith("DKIM_")})
    if redefined:
        findings.append(
            Finding(
                "fail",
                f"{localmacros} also defines {', '.join(redefined)} outside the mailzone block: "
                "Exim refuses to start on a macro defined twice",
                "remove those lines outside the block",
            )
        )
    return _between_markers(text)


def _block_findings(block: str, key_dir: Path, lookup_file: Path) -> list[Finding]:
    findings = []
    macros = set(_MACRO.findall(block))
    if "DKIM_STRICT" not in macros:
        findings.append(
            Finding(
                "warn",
                "DKIM_STRICT is not set: a signing failure sends the message unsigned, silently",
                "render the block with strict=True (DKIM_STRICT = 1) so failures defer instead",
            )
        )
    for path, what in ((key_dir, "key directory"), (lookup_file, "lookup file")):
        if f"{{{path}}}" not in block:
            findings.append(
                Finding(
                    "fail",
                    f"the Exim DKIM block does not use the {what} {path}",
                    "render the block again with the current paths and merge it",
                )
            )
    return findings


def _key_group_findings(key_group: str | None, reader: _Reader) -> list[Finding]:
    if key_group is None or reader.uid == 0:
        return []
    try:
        gid = grp.getgrnam(key_group).gr_gid
    except KeyError:
        return []  # the host config refuses an unknown group
    if gid in reader.gids:
        return []
    return [
        Finding(
            "fail",
            f"key_group {key_group}: {reader.name} is not in this group, so it cannot read the "
            f"keys mailzone writes (0640, group {key_group})",
            f"set key_group: {reader.name} in the host config, or run: adduser {reader.name} "
            f"{key_group}",
        )
    ]


def _file_findings(
    key_dir: Path, lookup_file: Path, signing: list[Signing], reader: _Reader, key_group: str
) -> list[Finding]:
    findings = []
    lookup_text = _read(lookup_file)
    if lookup_text is None:
        findings.append(
            Finding("fail", f"{lookup_file}: missing: nothing is signed", "write the lookup file")
        )
    else:
        findings += _readable(lookup_file, reader, "the DKIM selector lookup file", key_group)
        findings += _lookup_findings(lookup_file, lookup_text, signing)
    for entry in signing:
        domain = entry.domain.strip().rstrip(".").lower()
        for selector in entry.selectors:
            key = key_dir / f"{domain}.{selector}.pem"
            if not key.is_file():
                findings.append(
                    Finding(
                        "fail",
                        f"{key}: no key for selector {selector!r} of {domain}: Exim's key "
                        "lookup yields 0 and the mail leaves without this signature, even "
                        "with DKIM_STRICT",
                        "generate the key, or drop the selector from the lookup file",
                    )
                )
            else:
                findings += _readable(key, reader, "this DKIM key", key_group)
                findings += _exposed(key, domain, key_group)
    return findings


def _exposed(key: Path, domain: str, key_group: str) -> list[Finding]:
    """A warning if every user may read or change the key (Exim still signs with it)."""
    mode = stat.S_IMODE(key.stat().st_mode)
    if not mode & 0o007:
        return []
    return [
        Finding(
            "warn",
            f"{key}: mode {mode:04o} lets every user on this host read or change this DKIM "
            f"private key: anyone here can sign mail as {domain}",
            f"chgrp {key_group} {key} && chmod 0640 {key}",
        )
    ]


def _lookup_findings(path: Path, text: str, signing: list[Signing]) -> list[Finding]:
    entries: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            domain, _, selectors = line.partition(":")
            entries[domain.strip().lower()] = [s.strip() for s in selectors.split(":")]
    findings = []
    for entry in signing:
        domain = entry.domain.strip().rstrip(".").lower()
        if entries.get(domain) != list(entry.selectors):
            findings.append(
                Finding(
                    "fail",
                    f"{path}: {domain} has selectors {entries.get(domain)}, expected "
                    f"{list(entry.selectors)}: Exim signs with the file's selectors",
                    "write the lookup file again",
                )
            )
    return findings


def _readable(path: Path, reader: _Reader, what: str, group: str) -> list[Finding]:
    """Findings if `reader` cannot read `path` or traverse a directory above it; the fix gives
    `path` to `group` (one `reader` is in)."""
    findings = []
    st = path.stat()
    if not _allowed(st, reader, 4):
        findings.append(
            Finding(
                "fail",
                f"{path}: {reader.name} cannot read {what} (mode {stat.S_IMODE(st.st_mode):04o}, "
                f"owner {st.st_uid}, group {_group_name(st.st_gid)}): mail leaves unsigned "
                "or is deferred",
                f"chgrp {group} {path} && chmod 0640 {path}",
            )
        )
    for parent in path.absolute().parents:
        pst = parent.stat()
        if not _allowed(pst, reader, 1):
            findings.append(
                Finding(
                    "fail",
                    f"{parent}: {reader.name} cannot traverse this directory (mode "
                    f"{stat.S_IMODE(pst.st_mode):04o}, group {_group_name(pst.st_gid)}), so it "
                    f"cannot reach {path}",
                    f"chgrp {reader.name} {parent} && chmod g+x {parent} (or o+x)",
                )
            )
    return findings


def _allowed(st: os.stat_result, reader: _Reader, bit: int) -> bool:
    mode = stat.S_IMODE(st.st_mode)
    if reader.uid == 0:
        return True
    if reader.uid is not None and st.st_uid == reader.uid:
        return bool(mode & (bit << 6))
    if st.st_gid in reader.gids:
        return bool(mode & (bit << 3))
    return bool(mode & bit)


def _reader(user: str | None, group: str, findings: list[Finding]) -> _Reader | None:
    try:
        gids = {grp.getgrnam(group).gr_gid}
    except KeyError:
        findings.append(
            Finding(
                "warn",
                f"group {group!r} does not exist: key permissions not checked",
                "give the group Exim's transport runs as",
            )
        )
        return None
    uid = None
    if user is not None:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            pass
        else:
            uid = entry.pw_uid
            gids.add(entry.pw_gid)
            gids.update(g.gr_gid for g in grp.getgrall() if user in g.gr_mem)
    return _Reader(uid, frozenset(gids), user or group)


def _debconf(path: Path) -> dict[str, str]:
    """`key='value'` lines of update-exim4.conf.conf (a shell fragment); {} if absent."""
    settings = {}
    for line in (_read(path) or "").splitlines():
        name, eq, value = line.strip().partition("=")
        if eq and name and not name.startswith("#"):
            try:
                words = shlex.split(value, comments=True)
            except ValueError:
                continue
            settings[name.strip()] = words[0] if words else ""
    return settings


def _between_markers(text: str) -> str:
    start = text.index(BEGIN_MARKER)
    end = text.find(END_MARKER, start)
    return text[start : end + len(END_MARKER)] if end >= 0 else text[start:]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
