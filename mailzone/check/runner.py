"""Run every check family for many domains at once: threads share one DNS cache, so a question
that several domains need (a shared mail host's PTR, A and blocklist entries) goes out once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from mailzone.check.blocklist import check_blocklists
from mailzone.check.dkim import check_dkim
from mailzone.check.dmarc import check_dmarc
from mailzone.check.drift import check_drift
from mailzone.check.env import CheckEnv
from mailzone.check.model import DomainReport, Finding
from mailzone.check.mx import check_mx, check_rdns
from mailzone.check.smtp import check_https, check_smtp
from mailzone.check.spf import check_spf
from mailzone.errors import MailzoneError
from mailzone.project import Domain

Check = Callable[[Domain, CheckEnv], list[Finding]]
CHECKS: dict[str, Check] = {
    "drift": check_drift,
    "spf": check_spf,
    "dkim": check_dkim,
    "dmarc": check_dmarc,
    "mx": check_mx,
    "rdns": check_rdns,
    "blocklist": check_blocklists,
    "smtp": check_smtp,
    "https": check_https,
}


def check_domain(domain: Domain, env: CheckEnv) -> DomainReport:
    """Every wanted family for one domain; a family that cannot run is one failing finding."""
    report = DomainReport(domain.name)
    for family, check in CHECKS.items():
        if not env.wants(family):
            continue
        try:
            report.findings += check(domain, env)
        except MailzoneError as err:
            report.findings.append(Finding(family, domain.name, "fail", str(err)))
    return report


def check_all(
    domains: Sequence[Domain],
    env: CheckEnv,
    jobs: int = 8,
    progress: Callable[[DomainReport], None] | None = None,
) -> list[DomainReport]:
    """Reports in the order of `domains`; `progress` is called as each domain finishes."""

    def one(domain: Domain) -> DomainReport:
        report = check_domain(domain, env)
        if progress is not None:
            progress(report)
        return report

    if jobs <= 1 or len(domains) <= 1:
        return [one(d) for d in domains]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, domains))
