"""The verdict a receiver reaches on one message (the mail-tester score, offline): SPF for the
sending IP and the envelope domain, each DKIM signature verified by dkimpy against live DNS,
and DMARC alignment and disposition, each with its fix.

The organisational domain is approximated by the last two labels (no public-suffix list), so
relaxed alignment under multi-label public suffixes such as co.uk is judged strictly."""

from __future__ import annotations

import email.parser
import email.utils
import logging

import dkim

from mailzone.check.dmarc import parse_tags
from mailzone.check.env import CheckEnv
from mailzone.check.model import DomainReport, Finding
from mailzone.dnsq import txt_values
from mailzone.spf_eval import check_host


class _Collect(logging.Handler):
    """Keeps dkimpy's log lines: its only account of why a signature failed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().rstrip(".").lower()


def _org(domain: str) -> str:
    return ".".join(domain.split(".")[-2:])


def _aligned(a: str, b: str, mode: str) -> bool:
    return a == b if mode == "s" else _org(a) == _org(b)


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
    record_domain = from_domain
    values = [
        v for v in txt_values(env.txt(f"_dmarc.{from_domain}")) if v.lower().startswith("v=dmarc1")
    ]
    if not values and _org(from_domain) != from_domain:
        record_domain = _org(from_domain)
        values = [
            v
            for v in txt_values(env.txt(f"_dmarc.{record_domain}"))
            if v.lower().startswith("v=dmarc1")
        ]
    if len(values) != 1:
        return Finding(
            "dmarc",
            from_domain,
            "fail",
            f"no usable DMARC record for {from_domain}",
            "set `dmarc:` in the spec and apply",
        )
    try:
        tags = dict(parse_tags(values[0]))
    except ValueError as err:
        return Finding("dmarc", from_domain, "fail", f"DMARC record: {err}", "run `mailzone apply`")
    adkim = tags.get("adkim", "r").lower()
    aspf = tags.get("aspf", "r").lower()
    dkim_ok = [d for d in passing_d if _aligned(d, from_domain, adkim)]
    spf_ok = spf_pass and _aligned(env_domain, from_domain, aspf)
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
