"""dkim_key.parse_public_key reads plain RSA SubjectPublicKeyInfo without cryptography: it must
give exactly what cryptography gives, and leave every other input to cryptography. That it does
so without importing cryptography needs a fresh interpreter: tests/cli/test_lazy_imports.py."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailzone.dkim import keys
from mailzone.spec import dkim_key
from tests.helpers import rsa_key


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _len(len(value)) + value


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _spki(n: int, e: int) -> bytes:
    rsa_pub = _tlv(0x30, _int(n) + _int(e))
    return _tlv(0x30, dkim_key._RSA_ALGORITHM + _tlv(0x03, b"\0" + rsa_pub))


def _by_cryptography(der: bytes) -> dkim_key.PublicKey | str:
    """What parse_public_key gave before the DER reader: cryptography's reading, or the error."""
    if len(der) == 32:
        return dkim_key.PublicKey("ed25519", 256, base64.b64encode(der).decode())
    try:
        key = serialization.load_der_public_key(der)
    except ValueError:
        return "ValueError"
    except Exception as err:  # e.g. UnsupportedAlgorithm, raised through parse_public_key too
        return type(err).__name__
    try:
        return dkim_key.from_cryptography(key)
    except ValueError:
        return "ValueError"


def _parsed(der: bytes) -> dkim_key.PublicKey | str:
    dkim_key.parse_public_key.cache_clear()
    try:
        return dkim_key.parse_public_key(base64.b64encode(der).decode())
    except Exception as err:
        return type(err).__name__


@pytest.mark.parametrize("bits", [1024, 2048, 3072, 4096])
def test_real_keys_take_the_der_reader_and_match_cryptography(bits: int) -> None:
    der = (
        rsa_key(bits)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert dkim_key._rsa_spki_bits(der) == bits
    assert _parsed(der) == _by_cryptography(der)


def _variants() -> list[bytes]:
    rng = random.Random(7)
    n = (1 << 2047) | rng.getrandbits(2047) | 1
    good = _spki(n, 65537)
    out = [
        good,
        _spki(n, 65536),  # even e: cryptography refuses
        _spki(n, 1),  # e < 3
        _spki(n, n + 2),  # e >= n
        _spki(n - 1, 65537),  # even n: cryptography takes it, the DER reader leaves it
        _spki((1 << 511) | 1, 3),  # 512 bits: left to cryptography
        _spki(15, 3),
        good + b"\0",  # trailing data
        good[:-1],  # truncated
        good.replace(b"\x05\x00", b"", 1),  # no NULL parameters
    ]
    # non-minimal lengths and integers
    out.append(b"\x30\x82\x00" + good[1:2] + good[2:] if good[1] < 0x80 else good)
    rsa_pub = _tlv(0x30, b"\x02" + _len(len(n.to_bytes(257, "big")) + 1) + b"\0" + _int(n)[2:])
    out.append(_tlv(0x30, dkim_key._RSA_ALGORITHM + _tlv(0x03, b"\0" + rsa_pub + _int(65537))))
    # every single-byte corruption of the header and around the exponent
    for i in [*range(0, 40), *range(len(good) - 8, len(good))]:
        for delta in (1, 0x80):
            bad = bytearray(good)
            bad[i] ^= delta
            out.append(bytes(bad))
    ed = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    out.append(ed)
    return out


def test_every_variant_reads_as_cryptography_reads_it() -> None:
    for der in _variants():
        assert _parsed(der) == _by_cryptography(der), der.hex()


def test_der_reader_takes_only_canonical_ordinary_keys() -> None:
    rng = random.Random(3)
    n = (1 << 2047) | rng.getrandbits(2047) | 1
    assert dkim_key._rsa_spki_bits(_spki(n, 65537)) == 2048
    assert dkim_key._rsa_spki_bits(_spki(n - 1, 65537)) is None
    assert dkim_key._rsa_spki_bits(_spki(n, 65536)) is None
    assert dkim_key._rsa_spki_bits(_spki((1 << 511) | 1, 3)) is None
    assert dkim_key._rsa_spki_bits(_spki(n, 65537) + b"\0") is None


def test_private_key_alias_still_works_at_runtime() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert isinstance(private, keys.PrivateKey)
    from mailzone.dkim.keys import PrivateKey

    assert PrivateKey is keys.PrivateKey
    with pytest.raises(AttributeError):
        keys.NoSuchName  # noqa: B018
