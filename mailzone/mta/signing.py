"""What an MTA signs: domains and their selectors, checked once for every renderer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailzone.errors import MailzoneError

LABELS = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")  # also what KeyStore accepts


@dataclass(frozen=True)
class Signing:
    """Sign mail whose From: domain is `domain` with each of `selectors` (one, or two for dual
    RSA + Ed25519 signing); the keys are `<key_dir>/<domain>.<selector>.pem`."""

    domain: str
    selectors: list[str] = field(default_factory=list)


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
