"""`mailzone init`: write a first spec that validates and applies as it is."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailzone.errors import MailzoneError, SpecError
from mailzone.repo.spec_checks import check_spec
from mailzone.repo.state import REPO_LOCK, load_state, record_publication
from mailzone.spec.types import check_ipv4, check_ipv6, idna_name
from mailzone.spec.yamlfile import display_path, load_yaml, validate
from mailzone.spec.zone import ZoneSpec
from mailzone.util.files import write_atomic

TEMPLATE = """\
# Mail DNS for {domain}, applied by mailzone (every field: docs/spec.md in mailzone).
domain: {domain}
provider: {provider}
ttl: 3600
hosts:
  - name: {host}{host_comment}
    ipv4: [{ipv4}]
    ipv6: [{ipv6}]
    roles: [mx, send]       # mx: receives mail for {domain}; send: allowed by SPF
    mx_priority: 10
spf:
  all: softfail             # ~all; use fail (-all) once every sender is listed
  include: []               # e.g. [_spf.google.com] for a third-party sender
dkim:
  import: []                # existing selectors: {{selector: "20200803", public_key_file: keys/20200803.pub}}
dmarc:
  policy: {policy}{policy_comment}
  subdomain_policy: reject
  rua: ["mailto:postmaster@{domain}"]
"""

NEXT_STEPS = """\
Next: `{mailzone} plan {domain}` shows what would change, `{mailzone} apply {domain}` does it.
DMARC starts at p={policy} with aggregate reports to postmaster@{domain}. Read the reports for
two to four weeks; once every legitimate sender passes, set `dmarc.policy: quarantine`, and later
`reject`."""


# what a mailzone repository never commits: build output (zone files, backups) and the lock
IGNORED = ("build/", f"state/{REPO_LOCK}")


@dataclass(frozen=True)
class Scaffold:
    """What init did: the spec's path, whether it was written (False: the file already held
    exactly what these options write, and was left alone), and the lines added to .gitignore."""

    path: Path
    written: bool
    ignored: tuple[str, ...] = ()


def ignore_outputs(root: Path) -> tuple[str, ...]:
    """Append to `.gitignore` whichever of IGNORED it lacks (idempotent); the lines added."""
    return add_to_gitignore(root / ".gitignore", IGNORED)


def add_to_gitignore(path: Path, patterns: Sequence[str]) -> tuple[str, ...]:
    """Append to the `.gitignore` at `path` whichever of `patterns` it lacks (idempotent); the
    lines added."""
    text = path.read_text() if path.exists() else ""
    have = {line.strip().strip("/") for line in text.splitlines()}
    missing = tuple(p for p in patterns if p.strip("/") not in have)
    if missing:
        lead = "" if not text or text.endswith("\n") else "\n"
        write_atomic(path, text + lead + "".join(f"{p}\n" for p in missing))
    return missing


def scaffold(
    root: Path,
    domain: str,
    mail_host: str,
    ipv4: list[str],
    ipv6: list[str],
    provider: str = "local",
    dmarc_policy: str = "none",
    overwrite: bool = False,
    check_provider: Callable[[Path, str], object] | None = None,
) -> Scaffold:
    """Write `zones/<domain>.yaml`; never write a spec that fails validation, and refuse to
    overwrite a spec unless it already holds this text (then leave it) or `overwrite` is set.
    `check_provider(root, name)` raises if the provider cannot be used (octoDNS's side:
    `mailzone.octo.providers.load_provider_def`)."""
    # each option is checked on its own, so an error names the option, not a template line
    checks: list[tuple[str, Callable[[str], object], list[str]]] = [
        ("DOMAIN", idna_name, [domain]),
        ("--mail-host", lambda v: idna_name(v, "host name"), [mail_host]),
        ("--ipv4", check_ipv4, ipv4),
        ("--ipv6", check_ipv6, ipv6),
    ]
    for option, check, values in checks:
        for value in values:
            try:
                check(value)
            except ValueError as err:
                raise MailzoneError(f"{option}: {err}") from None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", provider):
        raise MailzoneError(
            f"--provider: '{provider}' is not a provider name (a file in providers/ without .yaml)"
        )
    if check_provider is not None:
        check_provider(root, provider)
    domain = idna_name(domain)
    host = idna_name(mail_host, "host name")
    ipv4 = [check_ipv4(v) for v in ipv4]
    ipv6 = [check_ipv6(v) for v in ipv6]
    if not ipv4 and not ipv6:
        raise MailzoneError(
            "give the mail host's address: --ipv4 (and --ipv6 if it sends over IPv6)"
        )
    path = root / "zones" / f"{domain}.yaml"
    relative = host[: -len(domain) - 1] if host.endswith("." + domain) else None
    text = TEMPLATE.format(
        domain=domain,
        provider=provider,
        host=relative or f"{host}.",
        host_comment="" if relative else "    # outside the domain: no A/AAAA is created for it",
        ipv4=", ".join(ipv4),
        ipv6=", ".join(f'"{a}"' for a in ipv6),
        policy=dmarc_policy,
        policy_comment="            # monitor first; then quarantine, then reject"
        if dmarc_policy == "none"
        else "",
    )
    try:
        doc = load_yaml(path, text)
        check_spec(validate(ZoneSpec, doc), doc, root)
    except SpecError as err:
        raise MailzoneError(f"init: {err.message}") from None
    if path.exists() and not overwrite:
        if _read(path) == text:  # the same init again (a re-run quickstart): nothing to do
            return Scaffold(path, written=False, ignored=ignore_outputs(root))
        raise MailzoneError(
            f"{display_path(path)} exists and differs from what these options write; edit it, "
            "or replace it with init --force"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    record_publication(root, load_state(root, domain), domain, provider)
    return Scaffold(path, written=True, ignored=ignore_outputs(root))


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
