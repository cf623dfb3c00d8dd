"""DKIM key records as verifiers read them: one TXT per selector that parses (dkimpy's
`evaluate_pk`), the algorithm and size the state declares, no whitespace inside `p=`, the active
selector not revoked, and (on the mail host) the served key matching the private key."""

from __future__ import annotations

import re

from mailzone.check.env import CheckEnv, Question, lookup_failed
from mailzone.check.model import Finding
from mailzone.dkim.store import KeyStore
from mailzone.dns.query import txt_values
from mailzone.errors import MailzoneError
from mailzone.repo.project import Domain
from mailzone.spec import dkim_key
from mailzone.spec.state import PUBLISHED_PHASES

_P_TAG = re.compile(r"(?:^|;)\s*p\s*=([^;]*)", re.IGNORECASE)


def check_dkim(domain: Domain, env: CheckEnv) -> list[Finding]:
    """One finding per selector the spec imports or the state publishes or revoked."""
    wanted = _wanted(domain)
    if not wanted:
        return [
            Finding(
                "dkim",
                domain.name,
                "fail",
                "no DKIM selector: receivers see unsigned mail",
                "`mailzone rotate` on the mail host makes one (or `mailzone keys import`)",
            )
        ]
    store = env.keys
    findings = [
        _selector(domain, s, fingerprint, phase, env, store)
        for s, (fingerprint, phase) in sorted(wanted.items())
    ]
    active = [s for s, (_, phase) in wanted.items() if phase in ("active", "imported")]
    if not active:
        findings.append(
            Finding(
                "dkim",
                domain.name,
                "warn",
                "no active selector yet: the MTA does not sign this domain's mail",
                "`mailzone rotate` activates the pending one once every nameserver serves it",
            )
        )
    return findings


def _wanted(domain: Domain) -> dict[str, tuple[str | None, str]]:
    """selector → (the key's fingerprint, None when revoked; phase); the state's fingerprint
    was checked against its key when the state was loaded."""
    wanted: dict[str, tuple[str | None, str]] = {}
    for item in domain.spec.dkim.imports:
        wanted[item.selector] = (domain.imported[item.selector].fingerprint, "imported")
    for entry in domain.state.selectors:
        if entry.phase in PUBLISHED_PHASES:
            wanted[entry.selector] = (entry.fingerprint, entry.phase)
        elif entry.phase == "revoked":
            wanted[entry.selector] = (None, "revoked")
    return wanted


def ahead_dkim(domain: Domain, env: CheckEnv) -> list[Question]:
    """Each selector's TXT."""
    return [(None, f"{s}._domainkey.{domain.name}", "TXT") for s in _wanted(domain)]


def _selector(
    domain: Domain,
    selector: str,
    fingerprint: str | None,
    phase: str,
    env: CheckEnv,
    store: KeyStore | None,
) -> Finding:
    name = f"{selector}._domainkey.{domain.name}"
    subject = f"{selector} ({phase})"
    answer = env.txt(name)
    if answer.error is not None:
        return lookup_failed("dkim", subject, f"TXT {name}", answer)
    values = txt_values(answer)
    if not values:
        return Finding("dkim", subject, "fail", f"{name}: no TXT record", "run `mailzone apply`")
    if len(values) > 1:
        return Finding(
            "dkim",
            subject,
            "fail",
            f"{name}: {len(values)} TXT records (verifiers need one)",
            "delete every TXT record there but the one mailzone publishes",
        )
    value = values[0]
    p_match = _P_TAG.search(value)
    p_value = p_match.group(1) if p_match else None
    if fingerprint is None:  # revoked: an empty p= tells verifiers the key is withdrawn
        if p_value is not None and not p_value.strip():
            return Finding("dkim", subject, "pass", f"{name}: revoked (empty p=)")
        return Finding(
            "dkim",
            subject,
            "fail",
            f"{name}: still publishes a key although revoked",
            "run `mailzone apply`",
        )
    if p_value is None or not p_value.strip():
        fix = (
            "`mailzone rotate --emergency` if the key was revoked on purpose, else `mailzone apply`"
        )
        return Finding(
            "dkim", subject, "fail", f"{name}: the {phase} selector is revoked (empty p=)", fix
        )
    # RFC 6376 lets verifiers ignore whitespace in p=, but a key pasted with line breaks is a
    # sign of a hand-made record, and not every verifier is that forgiving
    spaced = bool(re.search(r"\S\s+\S", p_value.strip()))
    try:
        import dkim  # dkimpy pulls in dns.resolver and its DNS-over-HTTPS clients: load late

        dkim.evaluate_pk(name.encode(), value.encode())
    except dkim.DKIMException as err:
        return Finding(
            "dkim",
            subject,
            "fail",
            f"{name}: verifiers reject the record: {err}",
            "run `mailzone apply`",
        )
    try:
        served = dkim_key.parse_public_key(value)
    except ValueError as err:
        return Finding("dkim", subject, "fail", f"{name}: {err}", "run `mailzone apply`")
    if served.fingerprint != fingerprint:
        return Finding(
            "dkim",
            subject,
            "fail",
            f"{name}: serves another key than the {'spec' if phase == 'imported' else 'state'} declares",
            "run `mailzone apply`",
        )
    if store is not None and phase == "active" and store.path(domain.name, selector).exists():
        problem = store.problem(domain.name, selector)
        if problem is not None:
            fix = f"run `{problem.fix}`" if problem.fix else "replace it with the key file itself"
            return Finding("dkim", subject, "fail", problem.message, fix)
        try:
            matches = store.fingerprint_matches(domain.name, selector, fingerprint)
        except MailzoneError as err:
            return Finding("dkim", subject, "fail", str(err), "fix the key file's mode or content")
        if not matches:
            return Finding(
                "dkim",
                subject,
                "fail",
                f"{name}: the private key in {store.directory} does not match the published key: every signature fails",
                "restore the right key file, or `mailzone rotate --emergency` to replace it",
            )
    size = f"{served.algorithm}-{served.bits}"
    if spaced:
        return Finding(
            "dkim",
            subject,
            "warn",
            f"{name}: whitespace inside p= (a key pasted with line breaks)",
            "publish the key as one unbroken base64 string (`mailzone apply` does)",
        )
    if served.algorithm == "rsa" and served.bits < dkim_key.GOOD_RSA_BITS:
        return Finding(
            "dkim",
            subject,
            "warn",
            f"{name}: {size}, weaker than {dkim_key.GOOD_RSA_BITS} bits",
            "rotate to a 2048-bit key",
        )
    return Finding("dkim", subject, "pass", f"{name}: {size} as declared")
