"""DANE for SMTP (RFC 7672): `_25._tcp.<MX host>` TLSA `3 1 1` for each key the state records
for the host (the current one and the staged next one), and the SHA-256 of a key's
SubjectPublicKeyInfo, read from a certificate or a key in PEM.

Only DANE-EE with the SPKI and SHA-256 (`3 1 1`) is generated: it survives certificate renewals
that keep the key, and RFC 7672 section 3.1.3 advises against usages 0 and 1 for SMTP."""

from __future__ import annotations

import hashlib

from mailzone.records.model import DesiredRecord, DomainInput, relative_name
from mailzone.spec.zone import ZoneSpec, host_fqdn

PORT = 25
USAGE, SELECTOR, MATCHING = 3, 1, 1  # DANE-EE, SubjectPublicKeyInfo, SHA-256
# Receivers give up on long TLSA sets (some process about a dozen); current + next is two.
MAX_TLSA = 8


def tlsa_name(host: str) -> str:
    """`_25._tcp.<host>` (no trailing dot)."""
    return f"_{PORT}._tcp.{host.rstrip('.')}"


def tlsa_rdata(spki_sha256: str) -> str:
    """`3 1 1 <hex>`."""
    return f"{USAGE} {SELECTOR} {MATCHING} {spki_sha256.lower()}"


def spki_sha256(pem: bytes) -> str:
    """The SHA-256 (hex) of the SubjectPublicKeyInfo of the first certificate, public key or
    private key in `pem`. Raises ValueError when there is none."""
    from cryptography import x509  # ~40 ms of imports that plan and check rarely need
    from cryptography.hazmat.primitives import serialization

    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if b"-----BEGIN CERTIFICATE-----" in pem:
        data = x509.load_pem_x509_certificate(pem).public_key().public_bytes(der, spki)
    elif b"PUBLIC KEY-----" in pem and b"PRIVATE KEY-----" not in pem:
        data = serialization.load_pem_public_key(pem).public_bytes(der, spki)
    elif b"PRIVATE KEY-----" in pem:
        private = serialization.load_pem_private_key(pem, password=None)
        data = private.public_key().public_bytes(der, spki)
    else:
        raise ValueError("no PEM certificate or key in it")
    return hashlib.sha256(data).hexdigest()


def dane_hosts(spec: ZoneSpec) -> list[str]:
    """The full names of the hosts that get TLSA: `dane.hosts`, else every MX host inside the
    zone (a host outside it is another zone's to publish)."""
    if spec.dane is None:
        return []
    if spec.dane.hosts:
        wanted = set(spec.dane.hosts)
        return [host_fqdn(spec, h) for h in spec.hosts if h.name in wanted]
    return [host_fqdn(spec, h) for h in spec.hosts if "mx" in h.roles and not h.absolute]


def expand_tlsa(given: DomainInput) -> list[DesiredRecord]:
    """A TLSA set per DANE host with keys in the state (a host with none yet gets no record:
    `mailzone tlsa` records its key first)."""
    spec = given.spec
    out = []
    for host in dane_hosts(spec):
        keys = sorted(k.spki_sha256 for k in given.state.tlsa if k.host == host)
        if keys:
            name = relative_name(tlsa_name(host), spec.zone_name)
            values = tuple(tlsa_rdata(k) for k in keys)
            out.append(DesiredRecord(name, "TLSA", spec.ttl, values, origin=("dane",)))
    return out
