"""MTA-STS (RFC 8461) as senders meet it. DNS: exactly one `v=STSv1` TXT at
`_mta-sts.<domain>`, a valid id equal to the spec's policy id, and an `mta-sts.<domain>` host
that resolves to an address (through its CNAME, if it is one). HTTPS: the policy fetched as
RFC 8461 section 3.3 says (a certificate for `mta-sts.<domain>`, HTTP 200 without redirects,
`text/plain`, bounded in time and size), parsed, and meaning what the spec's policy means. Each
MX host DNS serves matches an `mx:` line of the served policy and presents a certificate valid
for its name (STARTTLS, read from the probe the `smtp` check makes: port 25 is dialled once).

Domains without `mta_sts:` in the spec get no finding."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
from dataclasses import dataclass

from mailzone.check.env import CheckEnv, Question, lookup_failed
from mailzone.check.model import Finding, Status
from mailzone.check.tls import MxTls, context, reason, starttls, target
from mailzone.dns.query import txt_values
from mailzone.records.mta_sts import POLICY_PATH, mx_covered, policy_id, policy_text
from mailzone.repo.project import Domain

_VERSION = re.compile(r"\s*v\s*=\s*STSv1\s*(;|$)")
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
APPLY = "run `mailzone apply`"
MAX_POLICY_BYTES = 64 * 1024
MAX_AGE_LIMIT = 31557600  # RFC 8461 section 3.2: about a year
MODES = ("enforce", "testing", "none")
# RFC 8461 sections 3.3 and 5: a policy that cannot be fetched is no policy
NO_POLICY = (
    "senders cannot use the policy: those that cached it keep it until its max_age runs out, "
    "the others deliver as if the domain had no MTA-STS"
)


def check_mta_sts(domain: Domain, env: CheckEnv) -> list[Finding]:
    """The `_mta-sts` record and the policy host's addresses; the served policy against the
    spec and DNS; each MX host against the served policy."""
    if domain.spec.mta_sts is None:
        return []
    record, served_id = _record(domain, env)
    findings = [record, _host(domain, env)]
    fetched = _fetch(domain.name, env)
    if isinstance(fetched, Finding):
        return [*findings, fetched]
    if fetched is None:  # no address: _host says so
        return findings
    served = _served(domain, fetched)
    findings.append(served if isinstance(served, Finding) else _compare(domain, served, served_id))
    if isinstance(served, Policy) and served.mode != "none":
        findings += _mx_hosts(domain, env, served)
    return findings


def ahead_mta_sts(domain: Domain, env: CheckEnv) -> list[Question]:
    """The `_mta-sts` record and the policy host's addresses, when the spec has MTA-STS."""
    if domain.spec.mta_sts is None:
        return []
    host = f"mta-sts.{domain.name}"
    return [(None, f"_mta-sts.{domain.name}", "TXT"), (None, host, "A"), (None, host, "AAAA")]


def _record(domain: Domain, env: CheckEnv) -> tuple[Finding, str | None]:
    """The `_mta-sts` finding, and the id DNS serves (None without one valid record)."""
    name = f"_mta-sts.{domain.name}"
    answer = env.txt(name)
    if answer.error is not None:
        return lookup_failed("mta_sts", name, f"TXT {name}", answer), None
    records = [v for v in txt_values(answer) if _VERSION.match(v)]
    if len(records) != 1:
        what = "no v=STSv1 record" if not records else f"{len(records)} v=STSv1 records"
        return Finding(
            "mta_sts",
            name,
            "fail",
            f"{what} at {name}: senders ignore the policy",
            f"{APPLY} (it publishes exactly one)",
        ), None
    tags = dict(
        (key.strip(), value.strip())
        for key, _, value in (p.partition("=") for p in records[0].split(";") if p.strip())
    )
    served = tags.get("id", "")
    if not _ID.fullmatch(served):
        return Finding(
            "mta_sts",
            name,
            "fail",
            f"{name}: id={served!r} is not 1 to 32 letters and digits",
            APPLY,
        ), None
    wanted = policy_id(domain.spec)
    if served != wanted:
        return Finding(
            "mta_sts",
            name,
            "fail",
            f"{name} serves id={served}, the spec's policy has id={wanted}: senders keep "
            "the policy they cached",
            f"{APPLY}, and `mailzone mta-sts write` for the web server",
        ), served
    return Finding("mta_sts", name, "pass", f"id={served} matches the spec's policy"), served


def _host(domain: Domain, env: CheckEnv) -> Finding:
    name = f"mta-sts.{domain.name}"
    addresses = []
    for rdtype in ("A", "AAAA"):
        answer = env.resolve(name, rdtype)
        if answer.error is not None:
            return lookup_failed("mta_sts", name, f"{rdtype} {name}", answer)
        addresses += answer.records
    if not addresses:
        return Finding(
            "mta_sts",
            name,
            "fail",
            f"{name} has no address: senders cannot fetch the policy",
            f"{APPLY}; with mta_sts.host.cname, give its target an address",
        )
    return Finding("mta_sts", name, "pass", f"resolves to {', '.join(sorted(addresses))}")


@dataclass(frozen=True)
class Policy:
    """What a policy file means to senders (RFC 8461 section 3.2)."""

    mode: str
    mx: frozenset[str]  # the `mx:` patterns, lowercase, without a final dot
    max_age: int


class PolicyError(ValueError):
    """A policy file senders would reject: `line N: what is wrong`."""


_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_MX = re.compile(r"(\*\.)?([a-z0-9_]([a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")


def parse_policy(text: str) -> Policy:
    """The policy `text` means: `key: value` lines (CRLF or LF), `version: STSv1` first, one
    `mode`, one or more `mx` (none needed with mode none), one `max_age` (an integer, at most
    31557600); unknown keys are ignored. Raises PolicyError."""
    single: dict[str, str] = {}
    mx: list[str] = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        key, value = key.lower(), value.strip(" \t")
        if not colon or not _KEY.fullmatch(key):
            raise PolicyError(f"line {number}: {line[:40]!r} is not `key: value`")
        if not single and key != "version":
            raise PolicyError(f"line {number}: the first line must be `version: STSv1`")
        if key == "mx":
            if not _MX.fullmatch(value.lower().rstrip(".")):
                raise PolicyError(f"line {number}: mx: {value!r} is not a host name or *.name")
            mx.append(value.lower().rstrip("."))
        elif key in ("version", "mode", "max_age"):
            if key in single:
                raise PolicyError(f"line {number}: {key} is given twice")
            single[key] = value
    if single.get("version") != "STSv1":
        raise PolicyError(f"version: {single.get('version', '')!r} is not STSv1")
    mode = single.get("mode", "").lower()
    if mode not in MODES:
        raise PolicyError(
            f"mode: {single.get('mode', '(missing)')!r} is not one of {', '.join(MODES)}"
        )
    age = single.get("max_age", "")
    if not re.fullmatch(r"[0-9]{1,10}", age) or int(age) > MAX_AGE_LIMIT:
        raise PolicyError(
            f"max_age: {age or '(missing)'!r} is not a whole number of seconds up to "
            f"{MAX_AGE_LIMIT}"
        )
    if not mx and mode != "none":
        raise PolicyError(f"no mx: line (mode {mode} needs at least one)")
    return Policy(mode, frozenset(mx), int(age))


def _url(domain: str) -> str:
    return f"https://mta-sts.{domain}/{POLICY_PATH}"


def _write_fix(domain: str) -> str:
    return (
        f"run `mailzone mta-sts write DIR` and copy DIR/{domain}/{POLICY_PATH} to the web "
        f"server of mta-sts.{domain}"
    )


def _fetch(domain: str, env: CheckEnv) -> str | Finding | None:
    """The policy text as senders fetch it; a finding when they cannot; None without an
    address (the host finding says so)."""
    host, url = f"mta-sts.{domain}", _url(domain)
    dial = target(env, host, 443)
    if dial is None:
        return None
    if isinstance(dial, str):
        return Finding("mta_sts", url, "unknown", dial, "check the policy host's public address")
    unreachable = f"{host}:443 ({dial.where}): {{}}: the policy cannot be fetched from here"
    try:
        raw = socket.create_connection((dial.address, dial.port), timeout=env.smtp_timeout)
    except OSError as err:
        return Finding(
            "mta_sts",
            url,
            "unknown",
            unreachable.format(reason(err)),
            f"check that the web server of {host} listens on port 443, then retry",
        )
    try:
        with context(env).wrap_socket(raw, server_hostname=host) as tls:
            return _get(tls, domain, env)
    except ssl.SSLCertVerificationError as err:
        return Finding(
            "mta_sts",
            url,
            "fail",
            f"{host}:443: the certificate does not verify: {err.verify_message}; {NO_POLICY}",
            f"serve a certificate for {host} from a public CA (e.g. Let's Encrypt) with its "
            "full chain",
        )
    except TimeoutError as err:
        return Finding(
            "mta_sts",
            url,
            "unknown",
            unreachable.format(reason(err)),
            "retry, or check the web server",
        )
    except (OSError, ssl.SSLError, http.client.HTTPException) as err:
        return Finding(
            "mta_sts",
            url,
            "fail",
            f"{host}:443: {reason(err)}; {NO_POLICY}",
            f"serve HTTPS for {host} with a valid certificate",
        )
    finally:
        raw.close()


def _get(tls: ssl.SSLSocket, domain: str, env: CheckEnv) -> str | Finding:
    """GET the policy over an established TLS connection: 200, text/plain, at most 64 KiB."""
    url = _url(domain)
    connection = http.client.HTTPSConnection(f"mta-sts.{domain}", timeout=env.smtp_timeout)
    connection.sock = tls  # dialled by _fetch (--connect), verified for mta-sts.<domain>
    connection.request("GET", f"/{POLICY_PATH}", headers={"User-Agent": "mailzone-check"})
    response = connection.getresponse()

    def refused(what: str, fix: str) -> Finding:
        return Finding("mta_sts", url, "fail", f"{url}: {what}; {NO_POLICY}", fix)

    if 300 <= response.status < 400:
        where = response.getheader("Location") or "no Location"
        return refused(
            f"HTTP {response.status} redirect to {where}, and senders follow no redirect",
            f"serve the file itself at {url}",
        )
    if response.status != 200:
        return refused(f"HTTP {response.status} {response.reason}", _write_fix(domain))
    kind = response.getheader("Content-Type") or ""
    if kind.partition(";")[0].strip().lower() != "text/plain":
        return refused(
            f"Content-Type {kind or '(none)'}, not text/plain",
            "serve the file as text/plain (nginx: default_type text/plain in its location)",
        )
    body = response.read(MAX_POLICY_BYTES + 1)
    if len(body) > MAX_POLICY_BYTES:
        return refused(
            "the body is larger than 64 KiB, where a policy is a few short lines and senders "
            "bound what they read",
            _write_fix(domain),
        )
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return refused("the body is not text (UTF-8)", _write_fix(domain))


def _served(domain: Domain, text: str) -> Policy | Finding:
    """The served policy, or a finding saying why senders reject it."""
    try:
        return parse_policy(text)
    except PolicyError as err:
        return Finding(
            "mta_sts",
            _url(domain.name),
            "fail",
            f"{_url(domain.name)}: not a valid policy: {err}; {NO_POLICY}",
            _write_fix(domain.name),
        )


def _compare(domain: Domain, served: Policy, served_id: str | None) -> Finding:
    """The served policy against the spec's, and what DNS's id does with a difference."""
    url = _url(domain.name)
    try:
        wanted = parse_policy(policy_text(domain.spec))
    except PolicyError as err:  # a spec with no MX host and no mta_sts.mx
        return Finding(
            "mta_sts",
            url,
            "fail",
            f"the spec's own policy is not one senders accept: {err}",
            "give the domain an MX host (or mta_sts.mx patterns)",
        )
    differences = []
    if served.mode != wanted.mode:
        differences.append(f"mode {served.mode}, the spec's is {wanted.mode}")
    if missing := sorted(wanted.mx - served.mx):
        differences.append(f"no mx: {', '.join(missing)}")
    if extra := sorted(served.mx - wanted.mx):
        differences.append(f"mx: {', '.join(extra)}, which the spec does not list")
    if served.max_age != wanted.max_age:
        differences.append(f"max_age {served.max_age}, the spec's is {wanted.max_age}")
    if not differences:
        shown = ", ".join(sorted(served.mx)) or "no mx"
        return Finding(
            "mta_sts",
            url,
            "pass",
            f"serves the spec's policy (mode {served.mode}, {shown}, max_age {served.max_age})",
        )
    message = f"{url} is not the spec's policy: {'; '.join(differences)}"
    if served_id is not None and served_id == policy_id(domain.spec):
        message += (
            f". DNS already announces the spec's id={served_id}: senders cache this file under "
            "that id and do not fetch it again until the id changes or max_age runs out"
        )
    return Finding("mta_sts", url, "fail", message, _write_fix(domain.name))


def _mx_hosts(domain: Domain, env: CheckEnv, policy: Policy) -> list[Finding]:
    """Each MX host DNS serves: covered by an `mx:` line of the served policy, with a
    certificate valid for its name. Failing either is a failure in enforce mode (senders that
    apply the policy do not deliver there) and a warning in testing (they deliver and report)."""
    answer = env.resolve(domain.name, "MX")
    if answer.error is not None:
        return []  # the mx check reports it
    hosts = sorted({r.split()[-1].rstrip(".").lower() for r in answer.records} - {""})
    return [_mx_host(host, env, policy) for host in hosts]


def _mx_host(host: str, env: CheckEnv, policy: Policy) -> Finding:
    subject = f"MTA-STS MX {host}"
    problems, fixes = [], []
    pattern = next((p for p in sorted(policy.mx) if mx_covered(host, p)), None)
    if pattern is None:
        problems.append(
            f"matches no mx: line of the served policy ({', '.join(sorted(policy.mx))})"
        )
        fixes.append(
            "list it in mta_sts.mx (or name the MX so a line covers it), then `mailzone apply` "
            "and `mailzone mta-sts write DIR`"
        )
    seen = starttls(env, host) if env.wants("smtp") else None
    tls_problem = _tls_problem(seen)
    if tls_problem:
        problems.append(tls_problem)
        fixes.append(f"install a certificate for {host} from a public CA with its full chain")
    if problems:
        status: Status = "fail" if policy.mode == "enforce" else "warn"
        effect = (
            "senders that apply the policy do not deliver to it"
            if status == "fail"
            else "in testing mode senders deliver anyway and report it"
        )
        return Finding(
            "mta_sts",
            subject,
            status,
            f"MX {host} {' and '.join(problems)}: {effect}",
            "; ".join(fixes),
        )
    if seen is None:
        cert = "its certificate was not checked (--skip smtp)"
    elif seen.outcome == "ok":
        cert = "its certificate is valid for it"
    else:
        cert = f"its certificate was not checked (port 25: {seen.detail or seen.outcome})"
    return Finding("mta_sts", subject, "pass", f"MX {host} matches mx: {pattern}; {cert}")


def _tls_problem(seen: MxTls | None) -> str:
    """What a sender applying MTA-STS holds against the MX's STARTTLS ("" when nothing, or when
    port 25 could not be probed from here: the smtp check reports that)."""
    if seen is None:
        return ""
    if seen.outcome == "certificate":
        return f"presents a certificate that does not verify for its name ({seen.detail})"
    if seen.outcome == "no-starttls":
        return "offers no STARTTLS"
    if seen.outcome == "tls":
        return f"fails STARTTLS ({seen.detail})"
    return ""
