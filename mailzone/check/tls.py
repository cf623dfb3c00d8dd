"""Dialling the servers check talks to: where (`--connect` overrides, else DNS, never a
non-public address), with which trust (`--ca-file`), why a connection failed; and STARTTLS on
an MX's port 25, probed once per run and read by every check that needs it (`smtp`,
`mta_sts`, `dane_smtp`). Every connection is bounded by `CheckEnv.smtp_timeout`."""

from __future__ import annotations

import contextlib
import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Literal

from mailzone.check.env import CheckEnv
from mailzone.records.tlsa import spki_sha256


@dataclass(frozen=True)
class Target:
    """Where to connect for `host:port`: the address (possibly overridden by --connect)."""

    host: str
    address: str
    port: int

    @property
    def where(self) -> str:
        """`address:port`, as messages show it."""
        return f"{self.address}:{self.port}"


def target(env: CheckEnv, host: str, port: int) -> Target | str | None:
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


def context(env: CheckEnv) -> ssl.SSLContext:
    """Verify the chain (the system's CAs, or --ca-file) and the server's name."""
    made = ssl.create_default_context(cafile=str(env.ca_file) if env.ca_file else None)
    made.check_hostname = True
    return made


def reason(err: BaseException) -> str:
    """A connection error as a message says it."""
    if isinstance(err, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    return str(err) or type(err).__name__


Outcome = Literal[
    "no-address",  # the host has no address
    "undialable",  # an address not to dial (detail says why)
    "unreachable",  # no TCP connection (detail: why)
    "no-banner",  # connected, but no greeting (detail: why)
    "refused",  # a greeting other than 220 (detail: the greeting)
    "no-starttls",  # EHLO offers no STARTTLS
    "certificate",  # the chain or the name does not verify (detail: what)
    "tls",  # the handshake failed otherwise (detail: why)
    "ok",  # TLS with a certificate valid for the host's name
]


@dataclass(frozen=True)
class MxTls:
    """What a sending server meets on port 25 of an MX host, and how far STARTTLS got."""

    host: str
    outcome: Outcome
    where: str = ""  # the address:port dialled
    detail: str = ""
    banner_name: str = ""  # the first word of the greeting, lowercased
    cert: dict[str, Any] | None = None  # the peer certificate (`ok` only, when verified)
    spki_sha256: str = ""  # the SHA-256 of the key the certificate carries (`ok` only)


def starttls(env: CheckEnv, host: str, verify: bool = True) -> MxTls:
    """Port 25 of `host` (its MX name: SNI and the certificate's name), probed once per run.
    `verify=False`: take any certificate (DANE-EE authenticates the key alone)."""
    name = host.rstrip(".").lower()
    return env.once(f"starttls {name} {verify}", lambda: _probe(env, name, verify))


def _probe(env: CheckEnv, name: str, verify: bool) -> MxTls:
    dial = target(env, name, 25)
    if dial is None:
        return MxTls(name, "no-address")
    if isinstance(dial, str):
        return MxTls(name, "undialable", detail=dial)
    client = smtplib.SMTP(timeout=env.smtp_timeout)
    try:
        client.sock = socket.create_connection((dial.address, dial.port), env.smtp_timeout)
    except OSError as err:
        return MxTls(name, "unreachable", dial.where, reason(err))
    try:
        return _converse(client, env, name, dial.where, verify)
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            client.close()


def _converse(client: smtplib.SMTP, env: CheckEnv, name: str, where: str, verify: bool) -> MxTls:
    try:
        code, banner = client.getreply()
    except (OSError, smtplib.SMTPException) as err:
        return MxTls(name, "no-banner", where, reason(err))
    client._host = name  # type: ignore[attr-defined]  # SNI and certificate name: the MX name, not the dialled address
    text = banner.decode(errors="replace")
    if code != 220:
        return MxTls(name, "refused", where, f"{code} {text}")
    banner_name = text.split(" ", 1)[0].rstrip(".").lower()
    client.ehlo("mailzone-check.invalid")
    if not client.has_extn("starttls"):
        return MxTls(name, "no-starttls", where, banner_name=banner_name)
    trust = context(env)
    if not verify:
        trust.check_hostname = False
        trust.verify_mode = ssl.CERT_NONE
    try:
        client.starttls(context=trust)
    except ssl.SSLCertVerificationError as err:
        return MxTls(name, "certificate", where, err.verify_message, banner_name)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as err:
        return MxTls(name, "tls", where, reason(err), banner_name)
    sock = client.sock
    cert = sock.getpeercert() if isinstance(sock, ssl.SSLSocket) else None
    der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
    key = spki_sha256(ssl.DER_cert_to_PEM_cert(der).encode()) if der else ""
    client.ehlo("mailzone-check.invalid")
    return MxTls(name, "ok", where, banner_name=banner_name, cert=cert or {}, spki_sha256=key)
