"""DKIM public keys as values: parse what people paste (PEM, DKIM TXT, base64 with line breaks),
the `p=` value to publish, fingerprints. Pure; private keys live in `mailzone.dkim.keys`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

# cryptography (~15 ms to import) is imported where a key is generated, serialized or read in a
# form the small DER reader below leaves to it: a plan of imported RSA keys never needs it.
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


def revoked_txt_value(algorithm: Algorithm) -> str:
    """The DKIM key record of a revoked key: an empty `p=` (RFC 6376 section 3.6.1)."""
    return f"v=DKIM1; k={algorithm}; p="


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
        from cryptography.hazmat.primitives import serialization

        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as err:
            raise ValueError(f"cannot read the PEM public key: {err}") from None
        return from_cryptography(key)
    if "p=" in text and ("v=DKIM1" in text or "k=" in text or text.startswith("p=")):
        text = _p_tag(text)
    raw = _b64(text)
    if len(raw) == 32:
        return PublicKey("ed25519", 256, base64.b64encode(raw).decode())
    bits = _rsa_spki_bits(raw)
    if bits is not None:  # what cryptography would read and write back byte for byte
        return PublicKey("rsa", bits, base64.b64encode(raw).decode())
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_der_public_key(raw)
    except ValueError:
        raise ValueError(
            "the key is base64 but not a DER SubjectPublicKeyInfo (RSA) or a raw 32-byte Ed25519 key"
        ) from None
    return from_cryptography(key)


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


_RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")  # rsaEncryption, NULL


def _der(data: bytes, pos: int, tag: int) -> tuple[int, int] | None:
    """(start, end) of the value of the DER element at `pos` with `tag`; None unless the
    length is in its one minimal DER form."""
    if pos + 2 > len(data) or data[pos] != tag:
        return None
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if not 1 <= count <= 3 or pos + count > len(data) or data[pos] == 0:
            return None
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80:
            return None
        pos += count
    end = pos + length
    return (pos, end) if end <= len(data) else None


def _der_uint(data: bytes, pos: int) -> tuple[int, int] | None:
    """(value, end) of a minimal, positive DER INTEGER at `pos`."""
    span = _der(data, pos, 0x02)
    if span is None:
        return None
    start, end = span
    if end == start or data[start] & 0x80:
        return None  # empty or negative
    if data[start] == 0 and (end - start == 1 or not data[start + 1] & 0x80):
        return None  # zero, or a needless leading zero octet
    return int.from_bytes(data[start:end], "big"), end


def _rsa_spki_bits(der: bytes) -> int | None:
    """The size of the RSA key in `der` when it is a plain, canonical SubjectPublicKeyInfo
    (rsaEncryption with NULL parameters, minimal DER, nothing after it) with an ordinary key:
    n odd and 1024 to 16384 bits, e odd with 3 <= e < n. cryptography reads such a key and
    writes it back unchanged, so the `p=` is `der` itself. Anything else (None) is left to
    cryptography, which accepts or rejects it with its own reasons."""
    outer = _der(der, 0, 0x30)
    if outer is None or outer[1] != len(der):
        return None
    pos = outer[0]
    if der[pos : pos + len(_RSA_ALGORITHM)] != _RSA_ALGORITHM:
        return None
    bit_string = _der(der, pos + len(_RSA_ALGORITHM), 0x03)
    if bit_string is None or bit_string[1] != len(der) or der[bit_string[0]] != 0:
        return None
    inner = _der(der, bit_string[0] + 1, 0x30)
    if inner is None or inner[1] != len(der):
        return None
    n = _der_uint(der, inner[0])
    e = _der_uint(der, n[1]) if n is not None else None
    if n is None or e is None or e[1] != len(der):
        return None
    modulus, exponent = n[0], e[0]
    bits = modulus.bit_length()
    if not (modulus & 1 and exponent & 1 and 3 <= exponent < modulus and 1024 <= bits <= 16384):
        return None
    return bits


def from_cryptography(key: object) -> PublicKey:
    """The published form of a cryptography RSA or Ed25519 public key object."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    if isinstance(key, rsa.RSAPublicKey):
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return PublicKey("rsa", key.key_size, base64.b64encode(der).decode())
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PublicKey("ed25519", 256, base64.b64encode(raw).decode())
    raise ValueError(f"unsupported key type {type(key).__name__}: DKIM uses RSA or Ed25519")
