"""DKIM public keys: parse what people paste (PEM, DKIM TXT, base64 with line breaks),
the `p=` value to publish, and fingerprints."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

Algorithm = Literal["rsa", "ed25519"]
MIN_RSA_BITS = 1024  # RFC 8301: verifiers must reject smaller keys
GOOD_RSA_BITS = 2048


@dataclass(frozen=True)
class PublicKey:
    """A DKIM public key as published: algorithm, size and the `p=` value."""

    algorithm: Algorithm
    bits: int
    p: str

    @property
    def fingerprint(self) -> str:
        """`sha256:<hex>` of the published key bytes (SPKI DER for RSA, raw for Ed25519)."""
        return fingerprint_of(self.p)

    def txt_value(self) -> str:
        """The DKIM key record (RFC 6376 section 3.6.1), unchunked."""
        return f"v=DKIM1; k={self.algorithm}; p={self.p}"


def fingerprint_of(p: str) -> str:
    """Fingerprint of a base64 `p=` value."""
    return "sha256:" + hashlib.sha256(base64.b64decode(p)).hexdigest()


@lru_cache(maxsize=4096)
def parse_public_key(text: str) -> PublicKey:
    """Read a DKIM public key in any common form; raise ValueError saying what is wrong."""
    text = text.strip()
    if not text:
        raise ValueError("the public key is empty")
    if "-----BEGIN" in text:
        if "PRIVATE KEY" in text:
            raise ValueError(
                "this is a PRIVATE key: give the public half (never put a private key in the spec)"
            )
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as err:
            raise ValueError(f"cannot read the PEM public key: {err}") from None
        return _from_key(key)
    if "p=" in text and ("v=DKIM1" in text or "k=" in text or text.startswith("p=")):
        text = _p_tag(text)
    raw = _b64(text)
    if len(raw) == 32:
        return PublicKey("ed25519", 256, base64.b64encode(raw).decode())
    try:
        key = serialization.load_der_public_key(raw)
    except ValueError:
        raise ValueError(
            "the key is base64 but not a DER SubjectPublicKeyInfo (RSA) or a raw 32-byte Ed25519 key"
        ) from None
    return _from_key(key)


def _p_tag(record: str) -> str:
    # a DKIM TXT record, maybe pasted as zone-file chunks: "v=DKIM1; k=rsa; " "p=MIIB..."
    joined = "".join(re.findall(r'"([^"]*)"', record)) if '"' in record else record
    tags = {}
    for part in joined.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip()] = value
    if "p" not in tags:
        raise ValueError("the DKIM record has no p= tag")
    if not re.sub(r"\s", "", tags["p"]):
        raise ValueError("the DKIM record has an empty p= (a revoked key)")
    return tags["p"]


def _b64(text: str) -> bytes:
    cleaned = re.sub(r"\s+", "", text)  # keys pasted with line breaks are the classic mistake
    if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", cleaned):
        bad = sorted(set(re.sub(r"[A-Za-z0-9+/=]", "", cleaned)))
        raise ValueError(f"the key is not base64 (unexpected characters: {' '.join(bad)})")
    try:
        return base64.b64decode(cleaned, validate=True)
    except binascii.Error as err:
        raise ValueError(f"the key is not valid base64: {err}") from None


def _from_key(key: object) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return PublicKey("rsa", key.key_size, base64.b64encode(der).decode())
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PublicKey("ed25519", 256, base64.b64encode(raw).decode())
    raise ValueError(f"unsupported key type {type(key).__name__}: DKIM uses RSA or Ed25519")
