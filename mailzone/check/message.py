"""The verdict a receiver reaches on one message (the mail-tester score, offline): SPF for the
sending IP and the envelope domain, each DKIM signature verified by dkimpy against live DNS,
and DMARC alignment and disposition, each with its fix.

The policy and the organisational domains come from the DMARCbis DNS tree walk (`_dmarc` records
up the name, `psd=` tags), not from a public-suffix list."""

from __future__ import annotations

import email.parser
import email.utils
import logging

import dkim

from mailzone.check.dmarc import parse_tags
from mailzone.check.env import CheckEnv
from mailzone.check.model import DomainReport, Finding
from mailzone.dns.query import txt_values
from mailzone.spf.evaluate import check_host


class _Collect(logging.Handler):
    """Keeps dkimpy's log lines: its only account of why a signature failed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().rstrip(".").lower()


MAX_WALK = 8  # DMARCbis: at most 8 queries up the tree


def _walk(domain: str) -> list[str]:
    """The names the DMARCbis tree walk asks: the domain, then its ancestors down to two labels
    (a name of more than 8 labels skips to its last 7)."""
    labels = domain.split(".")
    names = [domain]
    start = max(1, len(labels) - 7) if len(labels) > MAX_WALK else 1
    names += [".".join(labels[i:]) for i in range(start, len(labels) - 1)]
    return names


class _Dmarc:
    """DMARC records found by the tree walk (one run's answers are cached by the resolver)."""

    def __init__(self, env: CheckEnv) -> None:
        self.env = env

    def record(self, name: str) -> dict[str, str] | None:
        """The tags of the one valid DMARC record at `_dmarc.<name>`, else None."""
        values = [
            v
            for v in txt_values(self.env.txt(f"_dmarc.{name}"))
            if v.lower().startswith("v=dmarc1")
        ]
        if len(values) != 1:
            return None
        try:
            return dict(parse_tags(values[0]))
        except ValueError:
            return None

    def policy(self, domain: str) -> tuple[str, dict[str, str]] | None:
        """Where the policy for `domain` is published, and its tags: the first record up the tree."""
        for name in _walk(domain):
            tags = self.record(name)
            if tags is not None:
                return name, tags
        return None

    def org(self, domain: str) -> str:
        """The organisational domain (DMARCbis 4.10.2): the record with psd=n, one label below a
        record with psd=y, else the topmost name with a record; the domain itself if none."""
        names = _walk(domain)
        found = None
        for i, name in enumerate(names):
            tags = self.record(name)
            if tags is None:
                continue
            psd = tags.get("psd", "").lower()
            if psd == "n":
                return name
            if psd == "y":
                return names[i - 1] if i > 0 else name
            found = name
        return found or domain

    def aligned(self, a: str, b: str, mode: str) -> bool:
        """Strict: the same name; relaxed: the same organisational domain."""
        return a == b if mode == "s" else a == b or self.org(a) == self.org(b)


def message_verdict(
    raw: bytes, sender_ip: str, env: CheckEnv, mail_from: str | None = None, helo: str = ""
) -> DomainReport:
    """Findings for SPF, every DKIM signature and DMARC, as a receiver at `sender_ip` sees it."""
    headers = email.parser.BytesHeaderParser().parsebytes(raw)
    from_header = headers.get_all("From") or []
    if len(from_header) != 1:
        report = DomainReport("(message)")
        report.findings.append(
            Finding(
                "dmarc",
                "From",
                "fail",
                f"{len(from_header)} From: headers (DMARC needs exactly one)",
                "send with one From: header",
            )
        )
        return report
    from_domain = _domain_of(email.utils.parseaddr(str(from_header[0]))[1])
    report = DomainReport(from_domain or "(message)")
    envelope = mail_from or email.utils.parseaddr(str(headers.get("Return-Path", "")))[1]
    envelope = envelope or email.utils.parseaddr(str(from_header[0]))[1]
    env_domain = _domain_of(envelope)
    spf = check_host(env.spf_lookup, sender_ip, env_domain, envelope, helo)
    spf_fix = f"list {sender_ip} in {env_domain}'s SPF (its spec's hosts with role send) and apply"
    report.findings.append(
        Finding(
            "spf",
            f"MAIL FROM {envelope}",
            "pass" if spf.result == "pass" else "unknown" if spf.result == "temperror" else "fail",
            f"SPF {spf.result} for {sender_ip} sending as {env_domain}: {spf.reason}",
            "" if spf.result == "pass" else spf_fix,
        )
    )
    passing_d: list[str] = []
    count = len(headers.get_all("DKIM-Signature") or [])
    if not count:
        report.findings.append(
            Finding(
                "dkim",
                "signatures",
                "fail",
                "the message has no DKIM-Signature",
                "configure DKIM signing: `mailzone mta exim` and `mailzone mta exim --check`",
            )
        )
    for index in range(count):
        report.findings.append(_signature(raw, index, env, passing_d))
    report.findings.append(_dmarc(from_domain, env, spf.result == "pass", env_domain, passing_d))
    return report


def _signature(raw: bytes, index: int, env: CheckEnv, passing: list[str]) -> Finding:
    logger = logging.getLogger(f"mailzone.check.dkim.{index}")
    logger.propagate = False
    collect = _Collect()
    logger.addHandler(collect)

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        values = txt_values(env.txt(name.decode("ascii", "replace").rstrip(".")))
        return values[0].encode() if values else None

    verifier = dkim.DKIM(raw, logger=logger)
    try:
        ok = verifier.verify(idx=index, dnsfunc=dnsfunc)
    except dkim.DKIMException as err:
        ok = False
        collect.lines.append(str(err))
    finally:
        logger.removeHandler(collect)
    domain = (verifier.domain or b"?").decode(errors="replace").lower()
    selector = (verifier.selector or b"?").decode(errors="replace")
    subject = f"d={domain} s={selector}"
    if ok:
        passing.append(domain)
        return Finding(
            "dkim", subject, "pass", f"signature {index + 1} (d={domain}, s={selector}) verifies"
        )
    why = collect.lines[-1] if collect.lines else "the signature does not verify"
    return Finding(
        "dkim",
        subject,
        "fail",
        f"signature {index + 1} (d={domain}, s={selector}) fails: {why}",
        f"check that {selector}._domainkey.{domain} serves the key the MTA signs with (`mailzone check {domain}`), and that nothing rewrites the message after signing",
    )


def _dmarc(
    from_domain: str, env: CheckEnv, spf_pass: bool, env_domain: str, passing_d: list[str]
) -> Finding:
    dmarc = _Dmarc(env)
    found = dmarc.policy(from_domain)
    if found is None:
        return Finding(
            "dmarc",
            from_domain,
            "fail",
            f"no usable DMARC record for {from_domain} or above it",
            "set `dmarc:` in the spec and apply",
        )
    record_domain, tags = found
    adkim = tags.get("adkim", "r").lower()
    aspf = tags.get("aspf", "r").lower()
    dkim_ok = [d for d in passing_d if dmarc.aligned(d, from_domain, adkim)]
    spf_ok = spf_pass and dmarc.aligned(env_domain, from_domain, aspf)
    if dkim_ok or spf_ok:
        how = " and ".join(
            x
            for x in (
                f"DKIM d={dkim_ok[0]}" if dkim_ok else "",
                f"SPF {env_domain}" if spf_ok else "",
            )
            if x
        )
        return Finding(
            "dmarc", from_domain, "pass", f"DMARC pass for {from_domain} (aligned {how})"
        )
    policy = tags.get("p", "none")
    if record_domain != from_domain and "sp" in tags:
        policy = tags["sp"]
    return Finding(
        "dmarc",
        from_domain,
        "fail",
        f"DMARC fail for {from_domain}: no aligned SPF or DKIM pass; receivers apply p={policy}",
        f"sign with a key of d={from_domain} (mailzone rotate + mta), or send with an envelope sender in {from_domain} from an address its SPF lists",
    )
