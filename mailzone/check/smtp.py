"""SMTP and TLS as a sending server meets them: each MX answers on port 25 with a banner, EHLO
and STARTTLS; the certificate chain verifies and names the host; days to expiry. HTTPS on each
mail host's name should present a valid certificate too. Port 25 blocked from where check runs
(most clouds and CI runners) is `unknown`, not a failure. Every connection is bounded."""

from __future__ import annotations

import contextlib
import ipaddress
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mailzone.check.env import CheckEnv
from mailzone.check.model import Finding
from mailzone.repo.project import Domain
from mailzone.spec.zone import host_fqdn

EXPIRY_WARN_DAYS = 14
BLOCKED = (
    "port 25 is unreachable from here; most clouds and CI runners block outbound port 25, so "
    "run check from a host that may send mail"
)


@dataclass(frozen=True)
class Target:
    """Where to connect for `host:port`: the address (possibly overridden by --connect)."""

    host: str
    address: str
    port: int


def _target(env: CheckEnv, host: str, port: int) -> Target | str | None:
    """Where to dial; a reason (str) when the address is not one to dial; None if none."""
    override = env.connect.get(f"{host}:{port}") or env.connect.get(host)
    if override is not None:
        return Target(host, override[0], override[1])
    errors = []
    for rdtype in ("A", "AAAA"):
        answer = env.resolve(host, rdtype)
        if answer.error is not None:
            errors.append(f"{rdtype}: {answer.error}")
        elif answer.records:
            address = answer.records[0]
            if not ipaddress.ip_address(address).is_global:
                # documentation, private or loopback space: the public internet cannot reach it
                return (
                    f"{host} resolves to {address}, which is not a public address: senders "
                    "cannot reach it (give --connect HOST:PORT=ADDR:PORT to test it anyway)"
                )
            return Target(host, address, port)
    return f"cannot resolve {host} ({'; '.join(errors)})" if errors else None


def _context(env: CheckEnv) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(env.ca_file) if env.ca_file else None)
    context.check_hostname = True
    return context


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
    target = _target(env, name, 25)
    if target is None:
        return Finding(
            "smtp", subject, "fail", f"{name} has no address to connect to", "run `mailzone apply`"
        )
    if isinstance(target, str):
        return Finding("smtp", subject, "unknown", target, "check the MX's public address")
    where = f"{target.address}:{target.port}"
    client = smtplib.SMTP(timeout=env.smtp_timeout)
    try:
        client.sock = socket.create_connection((target.address, target.port), env.smtp_timeout)
    except OSError as err:
        return Finding(
            "smtp",
            subject,
            "unknown",
            f"{name} ({where}): {_reason(err)}; {BLOCKED}",
            "check from another host, or --skip smtp",
        )
    try:
        try:
            code, banner = client.getreply()
        except (OSError, smtplib.SMTPException) as err:
            return Finding(
                "smtp",
                subject,
                "fail",
                f"{name} ({where}) accepted the connection but sent no banner: {_reason(err)}",
                "check that the MTA is running and not overloaded",
            )
        client._host = name  # type: ignore[attr-defined]  # SNI and certificate name: the MX name, not the dialled address
        if code != 220:
            return Finding(
                "smtp",
                subject,
                "fail",
                f"{name}: banner {code} {banner.decode(errors='replace')}",
                "the server refuses mail: check the MTA",
            )
        banner_name = banner.decode(errors="replace").split(" ", 1)[0].rstrip(".").lower()
        client.ehlo("mailzone-check.invalid")
        if not client.has_extn("starttls"):
            return Finding(
                "smtp",
                subject,
                "fail",
                f"{name}: no STARTTLS: mail to it travels in clear text",
                "enable TLS in the MTA (Exim: MAIN_TLS_ENABLE = yes)",
            )
        try:
            client.starttls(context=_context(env))
        except ssl.SSLCertVerificationError as err:
            return Finding(
                "smtp",
                subject,
                "fail",
                f"{name}: the certificate does not verify: {err.verify_message}",
                f"install a certificate for {name} from a public CA (e.g. Let's Encrypt) with its full chain",
            )
        except (OSError, smtplib.SMTPException, ssl.SSLError) as err:
            return Finding(
                "smtp",
                subject,
                "fail",
                f"{name}: STARTTLS failed: {_reason(err)}",
                "check the MTA's TLS settings",
            )
        sock = client.sock
        cert = sock.getpeercert() if isinstance(sock, ssl.SSLSocket) else None
        days, date = _expiry(cert or {}, env)
        client.ehlo("mailzone-check.invalid")
        expected = _ptr_names(env, name) or [name]
        note = (
            ""
            if banner_name in expected
            else f"; the banner names {banner_name or 'nothing'}, not {' or '.join(expected)}"
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
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            client.close()


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
    target = _target(env, name, 443)
    if target is None:
        return Finding(
            "https", subject, "warn", f"{name} has no address", "give the host an A record"
        )
    if isinstance(target, str):
        return Finding("https", subject, "unknown", target, "check the host's public address")
    try:
        with (
            socket.create_connection(
                (target.address, target.port), timeout=env.smtp_timeout
            ) as raw,
            _context(env).wrap_socket(raw, server_hostname=name) as tls,
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
            f"{name}:443: {_reason(err)}",
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


def _reason(err: BaseException) -> str:
    if isinstance(err, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    return str(err) or type(err).__name__
