"""DMARC (RFC 7489, DMARCbis aware): one `v=DMARC1` record, valid tags, and every external
report address authorised by `<domain>._report._dmarc.<destination>` (RFC 7489 section 7.1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

from mailzone.check.env import CheckEnv, Question, lookup_failed
from mailzone.check.model import Finding
from mailzone.dns.query import txt_values
from mailzone.octo.registry import REGISTRY_NAME, decode_notes, parse_dmarc_note
from mailzone.repo.project import Domain

POLICIES = ("none", "quarantine", "reject")
VALID: dict[str, re.Pattern[str]] = {
    "p": re.compile(r"none|quarantine|reject", re.I),
    "sp": re.compile(r"none|quarantine|reject", re.I),
    "np": re.compile(r"none|quarantine|reject", re.I),
    "adkim": re.compile(r"[rs]", re.I),
    "aspf": re.compile(r"[rs]", re.I),
    "fo": re.compile(r"[01ds](:[01ds])*", re.I),
    "t": re.compile(r"[yn]", re.I),
    "psd": re.compile(r"[ynu]", re.I),
    "rua": re.compile(r".+"),
    "ruf": re.compile(r".+"),
}
REMOVED = {"pct": "pct", "rf": "rf", "ri": "ri"}  # removed by DMARCbis; receivers may ignore them
_VERSION = re.compile(r"\s*v\s*=\s*dmarc1", re.I)  # RFC 7489 ABNF: "v" *WSP "=" *WSP "DMARC1"
_MAILTO = re.compile(r"mailto:([^@\s,!]+)@([^\s,!]+?)(?:![0-9]+[kmgt]?)?$", re.I)


def parse_tags(record: str) -> list[tuple[str, str]]:
    """`v=DMARC1; p=none` → [('v', 'DMARC1'), ('p', 'none')]; ValueError on a malformed tag."""
    tags = []
    for part in record.split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"'{part}' is not tag=value")
        tag, value = part.split("=", 1)
        tags.append((tag.strip().lower(), value.strip()))
    return tags


def ahead_dmarc(domain: Domain, env: CheckEnv) -> list[Question]:
    """The record at `_dmarc.<domain>`, the zone's registry for p=none, and each report
    destination's authorisation outside the zone."""
    asks: list[Question] = [(None, f"_dmarc.{domain.name}", "TXT")]
    want = domain.spec.dmarc
    if want is None:
        return asks
    if want.policy == "none":
        asks.append((None, f"{REGISTRY_NAME}.{domain.zone}", "TXT"))
    for uri in [*want.rua, *want.ruf]:
        dest = _outside(domain, str(uri))
        if dest is not None:
            asks.append((None, f"{domain.name}._report._dmarc.{dest}", "TXT"))
    return asks


def _outside(domain: Domain, uri: str) -> str | None:
    """The destination domain of a mailto: URI when it lies outside the domain's zone."""
    match = _MAILTO.match(uri)
    if not match:
        return None
    dest = match.group(2).rstrip(".").lower()
    zone = domain.zone
    return None if dest == zone or dest.endswith("." + zone) else dest


def check_dmarc(domain: Domain, env: CheckEnv) -> list[Finding]:
    """The record at `_dmarc.<domain>`, its tags, and the report destinations."""
    name = f"_dmarc.{domain.name}"
    answer = env.txt(name)
    if answer.error is not None:
        return [lookup_failed("dmarc", name, f"TXT {name}", answer)]
    records = [v for v in txt_values(answer) if _VERSION.match(v)]
    if not records:
        others = txt_values(answer)
        hint = f" (found {others[0][:40]!r}: v=DMARC1 must come first)" if others else ""
        return [
            Finding(
                "dmarc",
                name,
                "fail",
                f"no DMARC record at {name}{hint}",
                "set `dmarc:` in the spec and apply",
            )
        ]
    if len(records) > 1:
        return [
            Finding(
                "dmarc",
                name,
                "fail",
                f"{len(records)} DMARC records: receivers ignore them all",
                "keep only the one mailzone publishes",
            )
        ]
    try:
        tags = parse_tags(records[0])
    except ValueError as err:
        return [
            Finding(
                "dmarc",
                name,
                "fail",
                f"{name}: {err}",
                "fix the record (mailzone apply writes a valid one)",
            )
        ]
    findings: list[Finding] = []
    if tags[0] != ("v", "DMARC1"):
        findings.append(
            Finding(
                "dmarc",
                name,
                "fail",
                f"{name}: must start with exactly 'v=DMARC1'",
                "run `mailzone apply`",
            )
        )
    seen = dict(tags)
    problems = []
    named: set[str] = set()
    for tag, value in tags[1:]:
        if tag in named:
            problems.append(f"tag '{tag}' appears more than once (receivers may take either)")
            continue
        named.add(tag)
        if tag in REMOVED:
            findings.append(
                Finding(
                    "dmarc",
                    f"{name} {tag}=",
                    "warn",
                    f"{tag}= is removed by DMARCbis; receivers may ignore it",
                    f"drop {tag}= from the spec",
                )
            )
        elif tag not in VALID:
            problems.append(f"unknown tag '{tag}' (a typo?)")
        elif not VALID[tag].fullmatch(value):
            problems.append(f"{tag}={value} is not valid")
    if "p" not in seen:
        problems.append("no p= tag")
    if problems:
        findings.append(
            Finding(
                "dmarc",
                name,
                "fail",
                f"{name}: " + "; ".join(problems),
                "fix `dmarc:` in the spec and apply",
            )
        )
    else:
        findings.append(Finding("dmarc", name, "pass", f"{name}: p={seen['p']}"))
        if seen["p"].lower() == "none":
            findings.append(_monitoring(domain, env))
    for tag in ("rua", "ruf"):
        for uri in filter(None, (u.strip() for u in seen.get(tag, "").split(","))):
            findings.append(_destination(domain, env, tag, uri))
    return findings


def _monitoring(domain: Domain, env: CheckEnv) -> Finding:
    """p=none is where to start; staying there leaves spoofed mail delivered."""
    subject = f"_dmarc.{domain.name} policy"
    fix = (
        "once the aggregate reports show every legitimate sender passing, set dmarc.policy: "
        "quarantine, and later reject"
    )
    since = _none_since(domain, env)
    if since is None:
        return Finding(
            "dmarc", subject, "pass", "p=none: monitoring (mailzone has not seen it applied yet)"
        )
    days = (env.now - since).days
    if env.now - since > env.dmarc_none_after:
        return Finding(
            "dmarc",
            subject,
            "warn",
            f"p=none for {days} days (since {since:%Y-%m-%d}): spoofed mail is still delivered",
            fix,
        )
    return Finding(
        "dmarc", subject, "pass", f"p=none: monitoring since {since:%Y-%m-%d} ({days} days)"
    )


def _none_since(domain: Domain, env: CheckEnv) -> datetime | None:
    """Since when apply has published p=none: the `dmarc` note of the domain's value in the
    zone's `_mailzone` registry, else (registries written before the notes) the state's."""
    answer = env.txt(f"{REGISTRY_NAME}.{domain.zone}")
    notes = decode_notes(txt_values(answer)) if answer.error is None else {}
    noted = parse_dmarc_note(notes.get(domain.name, {}).get("dmarc"))
    if noted is not None:
        policy, day = noted
        return datetime.combine(day, time(), UTC) if policy == "none" else None
    old = domain.state.dmarc
    return old.since if old is not None and old.policy == "none" else None


def _destination(domain: Domain, env: CheckEnv, tag: str, uri: str) -> Finding:
    match = _MAILTO.match(uri)
    subject = f"{tag} {uri}"
    if not match:
        return Finding(
            "dmarc",
            subject,
            "fail",
            f"{tag}: '{uri}' is not a mailto: URI",
            "use mailto:address@domain",
        )
    dest = match.group(2).rstrip(".").lower()
    zone = domain.zone
    if dest == zone or dest.endswith("." + zone):
        return Finding("dmarc", subject, "pass", f"{tag}: {dest} is inside {zone}")
    auth = f"{domain.name}._report._dmarc.{dest}"
    answer = env.txt(auth)
    if answer.error is not None:
        return Finding("dmarc", subject, "unknown", f"TXT {auth}: {answer.error}", "retry later")
    if any(_VERSION.match(v) for v in txt_values(answer)):
        return Finding(
            "dmarc", subject, "pass", f"{tag}: {dest} authorises reports for {domain.name}"
        )
    return Finding(
        "dmarc",
        subject,
        "fail",
        f"{tag}: {dest} does not authorise reports for {domain.name}: receivers send none there",
        f'publish TXT "v=DMARC1" at {auth} (mailzone does it when {dest} is in this repository)',
    )
