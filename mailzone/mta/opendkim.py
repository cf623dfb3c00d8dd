"""OpenDKIM DKIM signing for mailzone's keys: pure rendering, no disk access.

Three pieces, all derived from the same `Signing` list plus a selector -> algorithm mapping:

* a KeyTable (`refile:`), one line per signing domain:

      20261124r._domainkey.example.org example.org:20261124r:/etc/dkimkeys/example.org.20261124r.pem

* a SigningTable (`refile:`), mapping each From: domain to its KeyTable entry:

      *@example.org 20261124r._domainkey.example.org

* a marked `opendkim.conf` block pointing at both tables, with `SignatureAlgorithm` and
  `Canonicalization relaxed/relaxed`.

OpenDKIM's `SignatureAlgorithm` is global: one instance signs RSA *or* Ed25519, never both. So a
rendering is for one algorithm and takes, of each domain's selectors, the one of that algorithm.
Dual RSA + Ed25519 signing takes two OpenDKIM instances (each with its own configuration, socket
and tables; render once per algorithm, the default table names differ) chained as two milters.
rspamd (`mailzone.mta.rspamd`) signs with both selectors from one configuration.

Keys are `<key_dir>/<domain>.<selector>.pem` (the `KeyStore` layout). With `RequireSafeKeys`
(default on) OpenDKIM refuses a key that others can read or write, or that sits anywhere under a
world-writable directory (such as /tmp).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mailzone.errors import MailzoneError
from mailzone.mta.signing import Signing, checked

__all__ = [
    "ALGORITHMS",
    "BEGIN_MARKER",
    "END_MARKER",
    "DomainKeys",
    "KeyRef",
    "OpenDkimFiles",
    "Signing",
    "render_opendkim",
    "resolve_keys",
]

Algorithm = Literal["rsa", "ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("rsa", "ed25519")
_BY_NAME: dict[str, Algorithm] = {name: name for name in ALGORITHMS}
SIGNATURE_ALGORITHM: dict[Algorithm, str] = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}

BEGIN_MARKER = "# BEGIN mailzone"
END_MARKER = "# END mailzone"

# characters that would split a KeyTable value (domain:selector:path) or an opendkim.conf line
_UNSAFE_PATH = re.compile(r"[\s\x00-\x1f\x7f:#\"'\\$]")


@dataclass(frozen=True)
class KeyRef:
    """One signing key: `selector` of algorithm `algorithm`, stored at `path`."""

    selector: str
    algorithm: Algorithm
    path: Path


@dataclass(frozen=True)
class DomainKeys:
    """A normalised signing domain (lower case, no trailing dot) and its keys, in given order."""

    domain: str
    keys: tuple[KeyRef, ...]


@dataclass(frozen=True)
class OpenDkimFiles:
    """What to install: `key_table` and `signing_table` at the paths named in `config_snippet`,
    and `config_snippet` (a `# BEGIN mailzone` ... `# END mailzone` block) in opendkim.conf."""

    key_table: str
    signing_table: str
    config_snippet: str


def render_opendkim(
    signing: list[Signing],
    key_dir: Path,
    algorithm: Algorithm,
    algorithms: Mapping[str, str],
    *,
    key_table_file: Path | None = None,
    signing_table_file: Path | None = None,
) -> OpenDkimFiles:
    """The tables and opendkim.conf block for an OpenDKIM instance signing with `algorithm`.

    `algorithms` maps every selector in `signing` to `"rsa"` or `"ed25519"`; of each domain's
    selectors the one of `algorithm` is used. MailzoneError if a domain has none (or more than one)
    of that algorithm, on a name or path OpenDKIM cannot use, or a selector missing from
    `algorithms`. The tables default to `/etc/opendkim/mailzone-<algorithm>.key.table` and
    `.signing.table`, so the RSA and Ed25519 instances of dual signing never share a file. Output
    is sorted by domain."""
    if algorithm not in ALGORITHMS:
        raise MailzoneError(
            f"OpenDKIM signing algorithm {algorithm!r}: expected one of {', '.join(ALGORITHMS)}"
        )
    base = Path("/etc/opendkim")
    key_table_path = _safe_path(
        key_table_file or base / f"mailzone-{algorithm}.key.table", "KeyTable file", "OpenDKIM"
    )
    signing_table_path = _safe_path(
        signing_table_file or base / f"mailzone-{algorithm}.signing.table",
        "SigningTable file",
        "OpenDKIM",
    )
    key_lines: list[str] = []
    signing_lines: list[str] = []
    for entry in resolve_keys(signing, key_dir, algorithms, "OpenDKIM", _UNSAFE_PATH):
        chosen = [key for key in entry.keys if key.algorithm == algorithm]
        if not chosen:
            others = ", ".join(f"{k.selector} ({k.algorithm})" for k in entry.keys)
            raise MailzoneError(
                f"{entry.domain}: no {algorithm} selector (it has {others}); an OpenDKIM instance "
                f"signs with one algorithm only, so sign {entry.domain} from an instance rendered "
                f"for its algorithm (dual RSA + Ed25519 signing takes two OpenDKIM instances), or "
                f"give it a {algorithm} selector"
            )
        key = chosen[0]  # resolve_keys allows at most one selector per algorithm
        name = f"{key.selector}._domainkey.{entry.domain}"
        key_lines.append(f"{name} {entry.domain}:{key.selector}:{key.path}\n")
        signing_lines.append(f"*@{entry.domain} {name}\n")
    return OpenDkimFiles(
        key_table="".join(key_lines),
        signing_table="".join(signing_lines),
        config_snippet=_snippet(algorithm, key_table_path, signing_table_path),
    )


def _snippet(algorithm: Algorithm, key_table: str, signing_table: str) -> str:
    other = "ed25519" if algorithm == "rsa" else "rsa"
    lines = [
        f"{BEGIN_MARKER} (generated: do not edit inside this block)",
        "# DKIM signing with mailzone's keys. Remove any other KeyTable, SigningTable, KeyFile,",
        "# Selector, Domain, SignatureAlgorithm or Canonicalization line from this file.",
        f"# SignatureAlgorithm is global: this instance signs {algorithm} only. Dual signing takes a",
        f"# second instance (own opendkim.conf, Socket and tables) rendered for {other}.",
        f"KeyTable refile:{key_table}",
        f"SigningTable refile:{signing_table}",
        f"SignatureAlgorithm {SIGNATURE_ALGORITHM[algorithm]}",
        "Canonicalization relaxed/relaxed",
        "# RequireSafeKeys is on by default: OpenDKIM refuses a key readable or writable by others,",
        "# or under any world-writable directory (such as /tmp). Keep the key directory and its",
        "# parents writable by root only and the keys 0600/0640, readable by the opendkim user;",
        "# do not switch it off with 'RequireSafeKeys false'.",
        END_MARKER,
    ]
    return "\n".join(lines) + "\n"


def resolve_keys(
    signing: list[Signing],
    key_dir: Path,
    algorithms: Mapping[str, str],
    mta: str,
    unsafe_path: re.Pattern[str],
) -> list[DomainKeys]:
    """Validate `signing` for `mta` and resolve each selector's algorithm and key path.

    Domains are normalised (lower case, trailing dot dropped) and sorted; selectors keep their
    order. MailzoneError on a bad or repeated domain, no selector, a bad or repeated selector, a
    selector missing from `algorithms` or mapped to something other than rsa/ed25519, two
    selectors of one algorithm for a domain, or a key directory that is relative or contains a
    character matched by `unsafe_path`."""
    directory = Path(_safe_path(key_dir, "key directory", mta, unsafe_path))
    by_domain: dict[str, DomainKeys] = {}
    for domain, selectors in checked(signing, mta).items():
        keys: list[KeyRef] = []
        for selector in selectors:
            given = algorithms.get(selector)
            if given is None:
                raise MailzoneError(
                    f"{domain}: selector {selector!r} has no algorithm; map it to rsa or ed25519"
                )
            algorithm = _BY_NAME.get(given)
            if algorithm is None:
                raise MailzoneError(
                    f"{domain}: selector {selector!r} has algorithm {given!r}; expected rsa "
                    "or ed25519"
                )
            clash = [key.selector for key in keys if key.algorithm == algorithm]
            if clash:
                raise MailzoneError(
                    f"{domain}: selectors {clash[0]!r} and {selector!r} are both {algorithm}; "
                    "give at most one selector per algorithm (one, or an RSA and an Ed25519 one "
                    "for dual signing)"
                )
            path = directory / f"{domain}.{selector}.pem"
            keys.append(KeyRef(selector, algorithm, path))
        by_domain[domain] = DomainKeys(domain, tuple(keys))
    return [by_domain[d] for d in sorted(by_domain)]


def _safe_path(path: Path, what: str, mta: str, unsafe_path: re.Pattern[str] = _UNSAFE_PATH) -> str:
    text = str(path)
    if not Path(path).is_absolute():
        raise MailzoneError(f"{what} {text!r} must be an absolute path for {mta}")
    bad = unsafe_path.search(text)
    if bad:
        raise MailzoneError(
            f"{what} {text!r} contains {bad.group()!r}, which {mta} would misread in its "
            "configuration; choose a plainer path"
        )
    return text
