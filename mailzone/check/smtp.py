"""SMTP and TLS as a sending server meets them: each MX answers on port 25 with a banner, EHLO
and STARTTLS; the certificate chain verifies and names the host; days to expiry. HTTPS on each
mail host's name should present a valid certificate too. Port 25 blocked from where check runs
(most clouds and CI runners) is `unknown`, not a failure. Every connection is bounded; each MX
is probed once per run (`tls.starttls`, which `mta_sts` reads too)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime

from mailzone.check.env import CheckEnv
from mailzone.check.model import Finding
from mailzone.check.tls import context, reason, starttls, target
from mailzone.repo.project import Domain
from mailzone.spec.zone import host_fqdn

EXPIRY_WARN_DAYS = 14
BLOCKED = (
    "port 25 is unreachable from here; most clouds and CI runners block outbound port 25, so "
    "run check from a host that may send mail"
)


def _expiry(cert: Mapping[str, object], env: CheckEnv) -> tuple[int, str]:
    not_after = str(cert.get("notAfter", ""))
    if not not_after:
        return 10**6, "unknown"
    when = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), tz=env.now.tzinfo)
    return (when - env.now).days, when.strftime("%Y-%m-%d")


def check_smtp(domain: Domain, env: CheckEnv) -> list[Finding]:
    """Each MX target of the spec on port 25."""
    findings = []
    for host in domain.spec.hosts:
        if "mx" not in host.roles:
            continue
        findings.append(_smtp(host_fqdn(domain.spec, host), env))
    return findings


def _smtp(name: str, env: CheckEnv) -> Finding:
    subject = f"SMTP {name}"
    seen = starttls(env, name)
    if seen.outcome == "no-address":
        return Finding(
            "smtp", subject, "fail", f"{name} has no address to connect to", "run `mailzone apply`"
        )
    if seen.outcome == "undialable":
        return Finding("smtp", subject, "unknown", seen.detail, "check the MX's public address")
    if seen.outcome == "unreachable":
        return Finding(
            "smtp",
            subject,
            "unknown",
            f"{name} ({seen.where}): {seen.detail}; {BLOCKED}",
            "check from another host, or --skip smtp",
        )
    if seen.outcome != "ok":
        return Finding(
            "smtp", subject, "fail", *_FAILED[seen.outcome](name, seen.where, seen.detail)
        )
    days, date = _expiry(seen.cert or {}, env)
    expected = _ptr_names(env, name) or [name]
    note = (
        ""
        if seen.banner_name in expected
        else f"; the banner names {seen.banner_name or 'nothing'}, not {' or '.join(expected)}"
    )
    if days < EXPIRY_WARN_DAYS:
        return Finding(
            "smtp",
            subject,
            "warn",
            f"{name}: the certificate expires in {days} days ({date}){note}",
            "renew the certificate (is certbot's renewal hook reloading the MTA?)",
        )
    if note:
        return Finding(
            "smtp",
            subject,
            "warn",
            f"{name}: STARTTLS ok{note} (receivers compare it with the PTR)",
            f"make the MTA announce itself as {expected[0]} (Exim: primary_hostname)",
        )
    return Finding(
        "smtp", subject, "pass", f"{name}: STARTTLS with a valid certificate, {days} days left"
    )


# outcome -> (name, where, detail) -> (message, fix)
_FAILED: dict[str, Callable[[str, str, str], tuple[str, str]]] = {
    "no-banner": lambda name, where, why: (
        f"{name} ({where}) accepted the connection but sent no banner: {why}",
        "check that the MTA is running and not overloaded",
    ),
    "refused": lambda name, where, banner: (
        f"{name}: banner {banner}",
        "the server refuses mail: check the MTA",
    ),
    "no-starttls": lambda name, where, _: (
        f"{name}: no STARTTLS: mail to it travels in clear text",
        "enable TLS in the MTA (Exim: MAIN_TLS_ENABLE = yes)",
    ),
    "certificate": lambda name, where, why: (
        f"{name}: the certificate does not verify: {why}",
        f"install a certificate for {name} from a public CA (e.g. Let's Encrypt) with its full "
        "chain",
    ),
    "tls": lambda name, where, why: (
        f"{name}: STARTTLS failed: {why}",
        "check the MTA's TLS settings",
    ),
}


def _ptr_names(env: CheckEnv, host: str) -> list[str]:
    """The PTR names of the host's public address (what receivers see), if it has any."""
    for rdtype in ("A", "AAAA"):
        answer = env.resolve(host, rdtype)
        if answer.error is None and answer.records:
            reverse = ipaddress.ip_address(answer.records[0]).reverse_pointer
            ptr = env.resolve(reverse, "PTR")
            if ptr.error is None:
                return [r.rstrip(".").lower() for r in ptr.records]
            return []
    return []


def check_https(domain: Domain, env: CheckEnv) -> list[Finding]:
    """Each mail host in the zone on port 443 (a warning at most: mail works without it)."""
    findings = []
    for host in domain.spec.hosts:
        if host.absolute:
            continue
        name = host_fqdn(domain.spec, host)
        findings.append(_https(name, env))
    return findings


def _https(name: str, env: CheckEnv) -> Finding:
    subject = f"HTTPS {name}"
    dial = target(env, name, 443)
    if dial is None:
        return Finding(
            "https", subject, "warn", f"{name} has no address", "give the host an A record"
        )
    if isinstance(dial, str):
        return Finding("https", subject, "unknown", dial, "check the host's public address")
    try:
        with (
            socket.create_connection((dial.address, dial.port), timeout=env.smtp_timeout) as raw,
            context(env).wrap_socket(raw, server_hostname=name) as tls,
        ):
            days, date = _expiry(tls.getpeercert() or {}, env)
    except ssl.SSLCertVerificationError as err:
        return Finding(
            "https",
            subject,
            "warn",
            f"{name}:443: the certificate does not verify: {err.verify_message}",
            f"serve a valid certificate for {name} (webmail, autoconfig and MTA-STS clients expect one)",
        )
    except (OSError, ssl.SSLError) as err:
        return Finding(
            "https",
            subject,
            "warn",
            f"{name}:443: {reason(err)}",
            f"serve HTTPS with a valid certificate for {name}",
        )
    if days < EXPIRY_WARN_DAYS:
        return Finding(
            "https",
            subject,
            "warn",
            f"{name}:443: the certificate expires in {days} days ({date})",
            "renew the certificate",
        )
    return Finding("https", subject, "pass", f"{name}:443: valid certificate, {days} days left")
