"""What an MTA signs, the input of every renderer: domains and their selectors (`Signing`),
checked once for all of them, and each selector's algorithm and key path (`resolve_keys`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mailzone.errors import MailzoneError

LABELS = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")  # also what KeyStore accepts

Algorithm = Literal["rsa", "ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("rsa", "ed25519")
_BY_NAME: dict[str, Algorithm] = {name: name for name in ALGORITHMS}


@dataclass(frozen=True)
class Signing:
    """Sign mail whose From: domain is `domain` with each of `selectors` (one, or two for dual
    RSA + Ed25519 signing); the keys are `<key_dir>/<domain>.<selector>.pem`."""

    domain: str
    selectors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KeyRef:
    """One signing key: `selector` of algorithm `algorithm`, stored at `path`."""

    selector: str
    algorithm: Algorithm
    path: Path


@dataclass(frozen=True)
class DomainKeys:
    """A normalised signing domain (lower case, no trailing dot) and its keys, in given order."""

    domain: str
    keys: tuple[KeyRef, ...]


def checked(signing: list[Signing], mta: str) -> dict[str, list[str]]:
    """Normalised domain (lower case, no trailing dot) → selectors; MailzoneError on a bad or
    repeated domain, no selector, or a bad or repeated selector."""
    out: dict[str, list[str]] = {}
    for entry in signing:
        domain = entry.domain.strip().rstrip(".").lower()
        if not LABELS.fullmatch(domain):
            raise MailzoneError(f"{entry.domain!r} is not a domain name {mta} can sign for")
        if domain in out:
            raise MailzoneError(f"{domain}: listed twice for {mta} DKIM signing; merge the entries")
        if not entry.selectors:
            raise MailzoneError(f"{domain}: no selector to sign with for {mta}")
        for selector in entry.selectors:
            if not LABELS.fullmatch(selector):
                raise MailzoneError(
                    f"{domain}: selector {selector!r} must be dot-separated labels of letters, "
                    "digits, '-' and '_'"
                )
        if len(set(entry.selectors)) != len(entry.selectors):
            repeated = next(s for s in entry.selectors if entry.selectors.count(s) > 1)
            raise MailzoneError(f"{domain}: selector {repeated!r} given twice")
        out[domain] = list(entry.selectors)
    return out


def resolve_keys(
    signing: list[Signing],
    key_dir: Path,
    algorithms: Mapping[str, str],
    mta: str,
    unsafe_path: re.Pattern[str],
) -> list[DomainKeys]:
    """Validate `signing` for `mta` and resolve each selector's algorithm and key path.

    Domains are normalised (lower case, trailing dot dropped) and sorted; selectors keep their
    order. MailzoneError on a bad or repeated domain, no selector, a bad or repeated selector, a
    selector missing from `algorithms` or mapped to something other than rsa/ed25519, two
    selectors of one algorithm for a domain, or a key directory that is relative or contains a
    character matched by `unsafe_path`."""
    directory = Path(safe_path(key_dir, "key directory", mta, unsafe_path))
    by_domain: dict[str, DomainKeys] = {}
    for domain, selectors in checked(signing, mta).items():
        keys: list[KeyRef] = []
        for selector in selectors:
            given = algorithms.get(selector)
            if given is None:
                raise MailzoneError(
                    f"{domain}: selector {selector!r} has no algorithm; map it to rsa or ed25519"
                )
            algorithm = _BY_NAME.get(given)
            if algorithm is None:
                raise MailzoneError(
                    f"{domain}: selector {selector!r} has algorithm {given!r}; expected rsa "
                    "or ed25519"
                )
            clash = [key.selector for key in keys if key.algorithm == algorithm]
            if clash:
                raise MailzoneError(
                    f"{domain}: selectors {clash[0]!r} and {selector!r} are both {algorithm}; "
                    "give at most one selector per algorithm (one, or an RSA and an Ed25519 one "
                    "for dual signing)"
                )
            path = directory / f"{domain}.{selector}.pem"
            keys.append(KeyRef(selector, algorithm, path))
        by_domain[domain] = DomainKeys(domain, tuple(keys))
    return [by_domain[d] for d in sorted(by_domain)]


def safe_path(path: Path, what: str, mta: str, unsafe_path: re.Pattern[str]) -> str:
    """`path` as text; MailzoneError unless it is absolute and free of `unsafe_path` characters
    (which `mta` would misread in its configuration)."""
    text = str(path)
    if not Path(path).is_absolute():
        raise MailzoneError(f"{what} {text!r} must be an absolute path for {mta}")
    bad = unsafe_path.search(text)
    if bad:
        raise MailzoneError(
            f"{what} {text!r} contains {bad.group()!r}, which {mta} would misread in its "
            "configuration; choose a plainer path"
        )
    return text
