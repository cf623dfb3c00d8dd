"""DKIM private keys on disk, laid out the way Exim and OpenDKIM read them.

One flat directory, one file per key: `<domain>.<selector>.pem` (unencrypted PKCS#8 PEM). That is
exactly the name Exim's taint-safe lookup needs:

    DKIM_PRIVATE_KEY = ${lookup{${dkim_domain}.${dkim_selector}.pem}dsearch,ret=full{DIR}{$value}{0}}

Without a group, keys are 0600 and the directory 0700 (the signer runs as the key's owner). With a
group (Debian's Exim: `Debian-exim`), keys are 0640 and the directory 0750, both chgrp'd to it.
Keys are written atomically and never overwritten; reads refuse files that others could read or
change. Key material never appears in a message, a repr or a log line.

`rotate` notes the fingerprints of the keys it is about to write in `.new-keys` in the same
directory (`note_new`), until a state names them: a run that crashed in between takes its own key
back, and any other file at a new selector's path is refused, never adopted.

File names are ambiguous: selectors may contain dots (RFC 6376 3.1), so `a.example.s1.2024.pem` may be
domain `a.example` with selector `s1.2024` or domain `a.example.s1` with selector `2024`. Callers
that know the domain use `selectors_of(domain)`; `list()` guesses that the selector is one label.
"""

from __future__ import annotations

import builtins
import contextlib
import grp
import os
import pwd
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mailzone.dkim.keys import public_key_of
from mailzone.errors import MailzoneError
from mailzone.spec.dkim_key import GOOD_RSA_BITS, PublicKey
from mailzone.spec.yamlfile import display_path
from mailzone.util.files import fsync_dir, synced_temp, write_atomic

if TYPE_CHECKING:
    from mailzone.dkim.keys import PrivateKey
    from mailzone.spec.host import HostConfig

_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")  # no empty label, no '/', no leading '.'
_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")
SUFFIX = ".pem"
NEW_KEYS = ".new-keys"  # keys rotate wrote that no state names yet (a dot file: not a key)


@dataclass(frozen=True)
class KeyProblem:
    """What is wrong with a key file, and the command that fixes it (None: no command can)."""

    message: str
    fix: str | None = None

    def __str__(self) -> str:
        return self.stops("")

    def stops(self, what: str) -> str:
        """The message, then what the problem stops (if anything), then the fix."""
        stopped = f"; {what}" if what else ""
        return f"{self.message}{stopped}; run: {self.fix}" if self.fix else self.message + stopped


class KeyStore:
    """A directory of DKIM private keys named `<domain>.<selector>.pem`.

    `group`: the group that may read the keys (e.g. `Debian-exim`); resolved now, an unknown name
    is a MailzoneError. Domains are lower-cased (Exim's lookup uses `${lc:...}`); selectors are
    kept as given. Nothing touches the disk until a method is called."""

    def __init__(self, directory: Path, group: str | None = None) -> None:
        self.directory = Path(directory)
        self.group = group
        self._gid: int | None = None
        if group is not None:
            try:
                self._gid = grp.getgrnam(group).gr_gid
            except KeyError:
                raise MailzoneError(
                    f"unknown group {group!r} for DKIM keys: create it or give an existing group"
                ) from None

    @classmethod
    def for_host(cls, host: HostConfig) -> KeyStore:
        """The host config's key directory, with its `key_group`: every command opens the
        store this way, so that all of them judge a key's mode and group alike."""
        return cls(host.key_path, host.key_group)

    def __repr__(self) -> str:
        return f"KeyStore({str(self.directory)!r}, group={self.group!r})"

    @property
    def key_mode(self) -> int:
        """The mode keys are written with: 0640 with a group, else 0600."""
        return 0o640 if self._gid is not None else 0o600

    @property
    def directory_mode(self) -> int:
        """The mode a missing key directory is created with: 0750 with a group, else 0700."""
        return 0o750 if self._gid is not None else 0o700

    def path(self, domain: str, selector: str) -> Path:
        """Where the key for `selector._domainkey.<domain>` lives (it may not exist)."""
        return self.directory / _file_name(domain, selector)

    def write(self, domain: str, selector: str, pem: bytes) -> Path:
        """Store a new key; MailzoneError if this selector already has one (never overwritten).

        The bytes go to a temp file in the same directory that is 0600 from its creation, are
        fsync'd, given the final mode and group, then linked under the final name (which fails if
        the name exists, so a concurrent writer cannot be clobbered) and the directory fsync'd."""
        path = self.path(domain, selector)
        self._ensure_directory(self.directory)
        if os.path.lexists(path):
            raise MailzoneError(
                f"{path}: a key for selector {selector!r} of {_domain(domain)} already exists; "
                "keys are never overwritten: use a new selector, or archive the old key first"
            )
        _publish(path, pem, self.key_mode, self._gid)
        return path

    def read(self, domain: str, selector: str, validate: bool = True) -> PrivateKey:
        """Load a key, refusing a file that anyone but its owner (and the group) can read or change."""
        path, data, st = self._raw(domain, selector)
        self._check_safe(path, st)
        return _load(path, data, validate)

    def _raw(self, domain: str, selector: str) -> tuple[Path, bytes, os.stat_result]:
        """The key file's path, bytes and status, never through a symbolic link."""
        path = self.path(domain, selector)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise MailzoneError(f"{path}: no DKIM key for selector {selector!r}") from None
        except OSError as err:
            raise MailzoneError(f"{path}: cannot open the DKIM key: {err.strerror}") from None
        with os.fdopen(fd, "rb") as fh:
            return path, fh.read(), os.fstat(fh.fileno())

    def fingerprint_matches(self, domain: str, selector: str, fingerprint: str) -> bool:
        """Whether the stored key's public half has this `sha256:<hex>` fingerprint (keys.fingerprint_of)."""
        if not _FINGERPRINT.fullmatch(fingerprint):
            raise MailzoneError(
                f"fingerprint {fingerprint!r} is not of the form sha256:<64 lower-case hex digits>"
            )
        # only the public half is compared: skip RSA's consistency checks (39 ms per key)
        return public_key_of(self.read(domain, selector, validate=False)).fingerprint == fingerprint

    def delete(self, domain: str, selector: str) -> None:
        """Remove a key for good; MailzoneError if there is none."""
        path = self.path(domain, selector)
        try:
            path.unlink()
        except FileNotFoundError:
            raise MailzoneError(f"{path}: no DKIM key for selector {selector!r}") from None
        fsync_dir(path.parent)

    def archive(self, domain: str, selector: str, archive_dir: Path) -> Path:
        """Move a key into `archive_dir` (same name, mode and group), which may be on another disk.

        The copy is written like `write` (never overwriting, never briefly readable by others)
        and the original removed only after it is durable. A missing `archive_dir` is created
        with the store's directory mode."""
        source, data, st = self._raw(domain, selector)
        target = Path(archive_dir) / source.name
        self._ensure_directory(target.parent)
        if target.exists():
            raise MailzoneError(
                f"{target}: the archive already holds a key for selector {selector!r} of "
                f"{_domain(domain)}; move it away or archive into another directory"
            )
        _publish(target, data, stat.S_IMODE(st.st_mode), st.st_gid)
        self.delete(domain, selector)
        return target

    def archived(self, domain: str, selector: str, archive_dir: Path) -> bool:
        """Whether `archive_dir` already holds this very key (a run archived it, then crashed
        before deleting it). Follows no symbolic link on either side."""
        target = Path(archive_dir) / self.path(domain, selector).name
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return False
        with os.fdopen(fd, "rb") as fh:
            copy = fh.read()
        return copy == self._raw(domain, selector)[1]

    def selectors_of(self, domain: str) -> builtins.list[str]:
        """Selectors with a key for `domain`, sorted: files `<domain>.*.pem`.

        Ambiguous when another stored domain extends this one by labels (`example.co` and
        `example.co.uk`): `example.co.uk.s1.pem` is then reported as selector `uk.s1` of
        `example.co`. Check the selectors you expect rather than trusting this list blindly."""
        prefix = _domain(domain) + "."
        return sorted(
            name[len(prefix) : -len(SUFFIX)]
            for name in self._names()
            if name.startswith(prefix) and len(name) > len(prefix) + len(SUFFIX)
        )

    def list(self) -> builtins.list[tuple[str, str]]:
        """(domain, selector) for every key, sorted, GUESSING that the selector is the last label.

        A selector with dots (`s1.2024`) is reported with its leading labels in the domain
        (`a.example.s1`, `2024`); use `selectors_of(domain)` when the domain is known."""
        pairs = []
        for name in self._names():
            domain, dot, selector = name[: -len(SUFFIX)].rpartition(".")
            if dot and domain:
                pairs.append((domain, selector))
        return sorted(pairs)

    def _names(self) -> builtins.list[str]:
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        return [
            e.name
            for e in entries
            if e.name.endswith(SUFFIX)
            and not e.name.startswith(".")  # temp files are dot files
            and e.is_file(follow_symlinks=False)
        ]

    def exists(self, domain: str, selector: str) -> bool:
        """Whether there is anything at the key's path (a symbolic link too, even a broken one
        or a loop: `problem` says what is wrong with it)."""
        return os.path.lexists(self.path(domain, selector))

    def problem(
        self, domain: str, selector: str, key: PublicKey | None = None
    ) -> KeyProblem | None:
        """Why the key file cannot be used as it is: a symbolic link (never followed), owned by
        another user than the one running mailzone or root, unsafe (as `read` refuses it), with a
        group, not readable by that group (the signer could not load it), or, given `key` (the
        public half the state records for it), weaker than mailzone signs with. None when it is
        fine or missing. Looks at the file's metadata only (lstat), never at its content."""
        path = self.path(domain, selector)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as err:
            return KeyProblem(f"{path}: cannot look at the DKIM key: {err.strerror}")
        if stat.S_ISLNK(st.st_mode):
            return KeyProblem(
                f"{path}: a symbolic link{_link_target(path)}; mailzone does not follow links to "
                "DKIM keys: put the key file itself there"
            )
        owner = self._foreign_owner(path, st)
        if owner is not None:
            return owner
        unsafe = self._unsafe(path, st)
        if unsafe is not None:
            return unsafe
        mode = stat.S_IMODE(st.st_mode)
        if self._gid is not None and (st.st_gid != self._gid or not mode & 0o040):
            return KeyProblem(
                f"{path}: group {self.group} cannot read this DKIM private key (mode {mode:04o}, "
                f"group {_group_name(st.st_gid)}): the MTA cannot sign with it",
                self._fix(path, st),
            )
        if key is not None and key.algorithm == "rsa" and key.bits < GOOD_RSA_BITS:
            return KeyProblem(
                f"{path}: an RSA-{key.bits} key, weaker than the {GOOD_RSA_BITS} bits mailzone "
                "signs with: replace it",
                f"mailzone rotate --emergency {_domain(domain)}",
            )
        return None

    def mismatch(self, domain: str, selector: str, fingerprint: str) -> KeyProblem | None:
        """Reads the key: why it is not the key the state publishes for `selector` (its public
        half has another fingerprint, or it cannot be read). None when it matches."""
        path = self.path(domain, selector)
        try:
            if self.fingerprint_matches(domain, selector, fingerprint):
                return None
        except MailzoneError as err:
            return KeyProblem(str(err))
        return KeyProblem(
            f"{path}: its public half does not match the fingerprint of {selector} in "
            f"state/{_domain(domain)}.yaml (the key DNS publishes): mail signed with it fails DKIM"
        )

    def noted_new(self) -> dict[tuple[str, str], str]:
        """(domain, selector) → fingerprint of the keys `note_new` recorded. Empty when there is
        no such note, or when it is not a plain file of the user running mailzone (or root)
        that only its owner can change: then no key file is taken for mailzone's own."""
        try:
            fd = os.open(self.directory / NEW_KEYS, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return {}
        with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_uid not in (os.geteuid(), 0):
                return {}
            if st.st_mode & 0o022:
                return {}
            lines = fh.read().splitlines()
        noted = {}
        for line in lines:
            fields = line.split()
            if not line.startswith("#") and len(fields) == 3 and _FINGERPRINT.fullmatch(fields[2]):
                noted[(fields[0], fields[1])] = fields[2]
        return noted

    def note_new(self, noted: dict[tuple[str, str], str]) -> None:
        """Record (domain, selector) → fingerprint of the keys about to be written, replacing
        the note (an empty one removes it); no-op when the note already says this."""
        noted = {(_domain(d), s): fp for (d, s), fp in noted.items()}
        if noted == self.noted_new():
            return
        path = self.directory / NEW_KEYS
        if not noted:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        self._ensure_directory(self.directory)
        lines = [f"{d} {s} {fp}\n" for (d, s), fp in sorted(noted.items())]
        write_atomic(
            path, "# keys mailzone rotate wrote that no state names yet\n" + "".join(lines), 0o600
        )

    def _foreign_owner(self, path: Path, st: os.stat_result) -> KeyProblem | None:
        """A key owned by another user than the one running mailzone (or root): that user can
        replace it at will, so it is not this host's key."""
        me = os.geteuid()
        if st.st_uid in (me, 0):
            return None
        allowed = f"{_user_name(me)} (who runs mailzone)" + (" or root" if me else "")
        return KeyProblem(
            f"{path}: owned by {_user_name(st.st_uid)}, not by {allowed}: its owner can replace "
            "this DKIM private key",
            f"chown {_user_name(me)} {path}",
        )

    def _check_safe(self, path: Path, st: os.stat_result) -> None:
        unsafe = self._unsafe(path, st)
        if unsafe is not None:
            raise MailzoneError(str(unsafe))

    def _fix(self, path: Path, st: os.stat_result) -> str:
        """The mode (and group) this store writes keys with: readable by the key group only."""
        chmod = f"chmod {self.key_mode:o} {path}"
        if self._gid is not None and st.st_gid != self._gid:
            return f"chgrp {self.group} {path} && {chmod}"
        return chmod

    def _unsafe(self, path: Path, st: os.stat_result) -> KeyProblem | None:
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISREG(st.st_mode):
            return KeyProblem(f"{path}: not a regular file; a DKIM key must be a plain file")
        fix = self._fix(path, st)
        if mode & 0o022:
            return KeyProblem(
                f"{path}: mode {mode:04o} lets others change this DKIM private key", fix
            )
        if mode & 0o004:
            return KeyProblem(
                f"{path}: mode {mode:04o} lets every user read this DKIM private key", fix
            )
        if mode & 0o040:
            if self._gid is None:
                return KeyProblem(
                    f"{path}: mode {mode:04o} lets its group read this DKIM private key and no "
                    "key group is configured",
                    fix,
                )
            if st.st_gid != self._gid:
                return KeyProblem(
                    f"{path}: mode {mode:04o} lets group {_group_name(st.st_gid)} read this DKIM "
                    f"private key, not {self.group}",
                    fix,
                )
        return None

    def _ensure_directory(self, directory: Path) -> None:
        if directory.is_dir():
            return
        directory.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)  # never wider than the final mode, whatever the umask
            if self._gid is not None:
                os.chown(directory, -1, self._gid)
            os.chmod(directory, self.directory_mode)


def _publish(path: Path, data: bytes, mode: int, gid: int | None) -> None:
    """Make `path` hold `data` with `mode`/`gid`, atomically, failing if `path` exists."""
    tmp = synced_temp(path, data, mode, gid)
    try:
        # link, not rename: it fails if the name exists, so no key is ever replaced
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise MailzoneError(
                f"{path}: a key with this name appeared while writing; keys are never overwritten"
            ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(path.parent)


def _load(path: Path, data: bytes, validate: bool = True) -> PrivateKey:
    # imported here: `check` reads a key file only on the mail host (~40 ms of imports)
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    # errors name the file only: cryptography's messages are generic, but never pass `data` on
    try:
        key = serialization.load_pem_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=not validate
        )
    except TypeError:
        raise MailzoneError(
            f"{path}: the DKIM key is encrypted; signers need it unencrypted (PKCS#8 PEM)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise MailzoneError(f"{path}: not a readable PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise MailzoneError(
            f"{path}: a {type(key).__name__} key; DKIM signs with RSA or Ed25519 only"
        )
    return key


def _file_name(domain: str, selector: str) -> str:
    domain = _domain(domain)
    if not _NAME.fullmatch(domain):
        raise MailzoneError(f"{domain!r} is not a domain name usable in a key file name")
    if not _NAME.fullmatch(selector):
        raise MailzoneError(
            f"selector {selector!r} must be dot-separated labels of letters, digits, '-' and '_'"
        )
    return f"{domain}.{selector}{SUFFIX}"


def _domain(domain: str) -> str:
    return domain.strip().rstrip(".").lower()


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _link_target(path: Path) -> str:
    try:
        return f" to {os.readlink(path)}"
    except OSError:
        return ""


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def stranded_keys(host: HostConfig) -> str | None:
    """One line when keys are still where they went by default before (`build/keys/`, which
    `rm -rf build` and `git clean -fdx` delete) while the host config does not point there:
    how many, and the command that moves them to the key directory. None otherwise."""
    old = host.legacy_key_path
    if host.key_dir or not old.is_dir() or old.resolve() == host.key_path.resolve():
        return None
    pems = sorted(p.name for p in old.iterdir() if p.suffix == SUFFIX)
    if not pems:
        return None
    store = KeyStore.for_host(host)
    group = f" -g {shlex.quote(host.key_group)}" if host.key_group else ""
    target = shlex.quote(str(host.key_path))
    source = shlex.quote(display_path(old))
    return (
        f"{len(pems)} DKIM private key(s) are still in {display_path(old)}/, which `rm -rf build` "
        f"and `git clean -fdx` delete; the key directory is now {host.key_path}: move them with "
        f"`install -d -m {store.directory_mode:o}{group} {target} && mv -n {source}/*.pem {target}/`"
    )
