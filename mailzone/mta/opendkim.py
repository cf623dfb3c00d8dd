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
from typing import TYPE_CHECKING

from mailzone.errors import MailzoneError
from mailzone.mta.renderer import BEGIN_MARKER, END_MARKER, MtaFile
from mailzone.mta.signing import ALGORITHMS, Algorithm, Signing, resolve_keys, safe_path

if TYPE_CHECKING:
    from mailzone.spec.host import HostConfig

__all__ = ["OpenDkimFiles", "Signing", "render", "render_opendkim"]

SIGNATURE_ALGORITHM: dict[Algorithm, str] = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}
TABLE_DIR = Path("/etc/opendkim")

# characters that would split a KeyTable value (domain:selector:path) or an opendkim.conf line
_UNSAFE_PATH = re.compile(r"[\s\x00-\x1f\x7f:#\"'\\$]")


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
    key_table_path = safe_path(
        key_table_file or default_key_table(algorithm), "KeyTable file", "OpenDKIM", _UNSAFE_PATH
    )
    signing_table_path = safe_path(
        signing_table_file or default_signing_table(algorithm),
        "SigningTable file",
        "OpenDKIM",
        _UNSAFE_PATH,
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


def default_key_table(algorithm: Algorithm) -> Path:
    """Where the KeyTable goes unless the host config says otherwise (one per algorithm)."""
    return TABLE_DIR / f"mailzone-{algorithm}.key.table"


def default_signing_table(algorithm: Algorithm) -> Path:
    """Where the SigningTable goes unless the host config says otherwise."""
    return TABLE_DIR / f"mailzone-{algorithm}.signing.table"


def render(
    signing: list[Signing], algorithms: Mapping[str, str], host: HostConfig
) -> list[MtaFile]:
    """The `opendkim` kind (a `Renderer`): the two tables of the instance signing
    `mta.algorithm`, and with `mta.config_file` the block merged into opendkim.conf."""
    mta = host.mta
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
        host.key_path,
        mta.algorithm,
        algorithms,
        key_table_file=key_table,
        signing_table_file=signing_table,
    )
    out = [
        MtaFile(key_table or default_key_table(mta.algorithm), rendered.key_table),
        MtaFile(signing_table or default_signing_table(mta.algorithm), rendered.signing_table),
    ]
    if mta.config_file:
        out.append(MtaFile(host.path(mta.config_file), rendered.config_snippet, block=True))
    return out
