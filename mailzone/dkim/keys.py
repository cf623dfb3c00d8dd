"""DKIM private keys: generating them (on several cores for a large rotation), PKCS#8 PEM, and
their public half. The private half is never logged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailzone.spec.dkim_key import GOOD_RSA_BITS, Algorithm, PublicKey, from_cryptography

# cryptography (~15 ms to import) is imported where a key is generated or serialized.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

GENERATED_RSA_BITS = (2048, 3072, 4096)  # sizes mailzone generates; 1024 is legal but too weak

if TYPE_CHECKING:
    # The private keys DKIM signs with; narrower than cryptography's PrivateKeyTypes on purpose.
    PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
else:

    def __getattr__(name: str) -> Any:
        # `PrivateKey` is a runtime value too (isinstance checks): built on first use
        if name == "PrivateKey":
            from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

            value = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
            globals()[name] = value
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def generate_private_key(algorithm: Algorithm, bits: int = GOOD_RSA_BITS) -> PrivateKey:
    """A new DKIM signing key: RSA of 2048, 3072 or 4096 bits (e=65537), or Ed25519 (`bits` ignored).

    Raise ValueError for another algorithm or RSA size."""
    _check_spec(algorithm, bits)
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _check_spec(algorithm: str, bits: int) -> None:
    if algorithm not in ("rsa", "ed25519"):
        raise ValueError(f"unknown DKIM key algorithm {algorithm!r}: use rsa or ed25519")
    if algorithm == "rsa" and bits not in GENERATED_RSA_BITS:
        sizes = ", ".join(str(b) for b in GENERATED_RSA_BITS)
        raise ValueError(f"RSA keys are generated with {sizes} bits, not {bits}")


def private_key_pem(key: PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (`BEGIN PRIVATE KEY`), which Exim and OpenDKIM read."""
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_of(private: PrivateKey) -> PublicKey:
    """The public half as published in DNS (RSA: SPKI DER; Ed25519: the raw 32 bytes)."""
    return from_cryptography(private.public_key())


def generate_many(specs: list[tuple[Algorithm, int]], processes: int) -> list[bytes]:
    """PKCS#8 PEM keys for `specs` (algorithm, bits), in order, on `processes` worker processes.

    RSA-2048 takes ~40 ms per key, so a rotation over many domains wants more than one core;
    processes=1 generates inline. Every spec is checked before any work starts (ValueError)."""
    if processes < 1:
        raise ValueError(f"processes must be at least 1, not {processes}")
    for algorithm, bits in specs:
        _check_spec(algorithm, bits)
    if processes == 1 or len(specs) < 2:
        return [_generate_pem(spec) for spec in specs]
    workers = min(processes, len(specs))
    import multiprocessing  # only here: a plan never generates keys

    with multiprocessing.Pool(workers) as pool:
        return pool.map(_generate_pem, specs, chunksize=max(1, len(specs) // (workers * 8)))


def _generate_pem(spec: tuple[Algorithm, int]) -> bytes:
    # module level so that the pool can pickle it
    return private_key_pem(generate_private_key(*spec))
