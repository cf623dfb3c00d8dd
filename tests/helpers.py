"""Shared test helpers: keys generated at run time, spec files written into a temp repo."""

from __future__ import annotations

import base64
import subprocess
import textwrap
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailzone.errors import SpecError
from mailzone.repo.project import Domain, load_domain
from mailzone.repo.state import load_state, save_state
from mailzone.spec.state import TlsaKey


@lru_cache(maxsize=8)
def rsa_key(bits: int = 2048, index: int = 0) -> rsa.RSAPrivateKey:
    """A fresh RSA key (cached per size and index within one test run)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def rsa_public_b64(bits: int = 2048, index: int = 0) -> str:
    """The DKIM `p=` value of rsa_key(bits, index)."""
    der = (
        rsa_key(bits, index)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


def ed25519_public_b64() -> str:
    """A fresh Ed25519 public key, raw, base64."""
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode()


def big_rsa_public_b64(bits: int = 24576) -> str:
    """An RSA public key too big for a DKIM TXT record (not a usable key: only its size matters)."""
    n = (1 << (bits - 1)) | (12345 << 100) | 1
    der = (
        rsa.RSAPublicNumbers(65537, n)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


def write_dedented(path: Path, text: str) -> Path:
    """Write `text` (dedented) to `path`, making its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def write_spec(root: Path, domain: str, body: str) -> Path:
    """Write zones/<domain>.yaml (body is dedented)."""
    path = root / "zones" / f"{domain}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def basic_spec(domain: str = "example.org", provider: str = "local", extra: str = "") -> str:
    """A small valid spec with one mail host, SPF, DMARC."""
    return textwrap.dedent(
        f"""
            domain: {domain}
            provider: {provider}
            ttl: 300
            hosts:
              - name: mail
                ipv4: [192.0.2.25]
                ipv6: ["2001:db8::25"]
            dmarc:
              policy: none
              rua: ["mailto:postmaster@{domain}"]
            """
    ).lstrip() + textwrap.dedent(extra)


def dkim_spec(key: str, host: str = "mail", selector: str = "20200803") -> str:
    """basic_spec for provider `target`, mail host `host`, importing one DKIM public key."""
    spec = basic_spec(provider="target").replace("name: mail", f"name: {host}")
    return spec + f'dkim:\n  import:\n    - {{selector: "{selector}", public_key: "{key}"}}\n'


GIT_ID = ("-c", "user.name=Tester", "-c", "user.email=tester@example.org")


def git(where: Path, *args: str) -> str:
    """Run git in `where` as a test identity; its stdout (the test fails if git does)."""
    done = subprocess.run(
        ["git", "-C", str(where), *GIT_ID, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def commit_all(root: Path, message: str = "specs") -> None:
    """Commit everything in `root` (made a git repository if it is not one yet)."""
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


# an `mta_sts:` block to append to basic_spec (a testing policy and its web server's addresses)
MTA_STS_SPEC = """\
    mta_sts:
      mode: testing
      host:
        ipv4: [192.0.2.80]
        ipv6: ["2001:db8::80"]
    """

# `dnssec` and `dane:` to append to basic_spec
DANE_SPEC = "dnssec: true\ndane: {}\n"


def dane_state(domain: str = "example.org") -> str:
    """state/<domain>.yaml giving mail.<domain> a current and a next TLS key (TLSA 3 1 1)."""
    keys = "".join(
        f"  - {{host: mail.{domain}, role: {role}, spki_sha256: {digit * 64}, "
        'added: "2026-12-01T00:00:00Z"}\n'
        for role, digit in (("current", "a"), ("next", "b"))
    )
    return f"version: 1\ndomain: {domain}\ntlsa:\n{keys}"


def write_tlsa_keys(
    root: Path, domain: str = "example.org", host: str = "mail", **roles: str
) -> None:
    """state/<domain>.yaml with the TLSA keys of `host` (inside `domain`) by role:
    `write_tlsa_keys(root, current=spki_sha256(cert), next=...)`."""
    now = datetime.now(UTC)
    fqdn = f"{host}.{domain}"
    keys = [
        TlsaKey.model_validate({"host": fqdn, "role": role, "spki_sha256": h, "added": now})
        for role, h in roles.items()
    ]
    state = load_state(root, domain)
    kept = [k for k in state.tlsa if k.host != fqdn]
    save_state(root, state.model_copy(update={"tlsa": kept + keys}))


def load_example(root: Path, body: str) -> Domain:
    """zones/example.org.yaml with `body`, loaded as `mailzone` loads it."""
    return load_domain(write_spec(root, "example.org", body), root)


def example_errors(root: Path, body: str) -> list[str]:
    """The error lines loading zones/example.org.yaml with `body` gives (paths from `root`)."""
    try:
        load_example(root, body)
    except SpecError as err:
        return [line.replace(f"{root}/", "") for line in err.details or [str(err)]]
    raise AssertionError("the spec loaded without an error")
