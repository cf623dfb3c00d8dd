"""Selectors outside the rotation loop: the first key of a new domain, importing an existing
selector with its private key, and listing what a domain has (`mailzone keys ...`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mailzone.dkim import keys
from mailzone.dkim.lifecycle import date_selector
from mailzone.dkim.store import KeyStore
from mailzone.errors import MailzoneError
from mailzone.repo.project import Domain
from mailzone.repo.state import load_state, save_state
from mailzone.spec import dkim_key
from mailzone.spec.host import HostConfig
from mailzone.spec.state import DomainState, Phase, SelectorState
from mailzone.spec.types import idna_name


@dataclass(frozen=True)
class KeyRow:
    """One selector of one domain, as `keys list` shows it."""

    domain: str
    selector: str
    algorithm: str
    bits: int
    phase: str  # a state phase, or `imported` for the spec's dkim.import
    fingerprint: str
    created: datetime | None
    key_file: bool | None  # whether this host holds the private key (None: not applicable)
    key_problem: str | None = None  # why that key file cannot be used as it is (and the fix)


def _entry(selector: str, key: dkim_key.PublicKey, phase: Phase, now: datetime) -> SelectorState:
    switched = now if phase == "active" else None
    return SelectorState.of_key(selector, key, phase, now, changed=now, switched=switched)


def first_keys(
    root: Path,
    domain: str,
    algorithms: list[dkim_key.Algorithm],
    rsa_bits: int,
    host: HostConfig,
    now: datetime,
) -> list[SelectorState]:
    """A new domain's first key per algorithm, as `pending` selectors (rotate activates them once
    DNS serves them). Nothing is done when the state already has selectors."""
    state = load_state(root, domain)
    if state.selectors or not algorithms:
        return []
    store = KeyStore.for_host(host)
    added = []
    for algorithm in algorithms:
        selector = date_selector(algorithm, now)
        private = keys.generate_private_key(algorithm, rsa_bits if algorithm == "rsa" else 256)
        public = keys.public_key_of(private)
        store.write(domain, selector, keys.private_key_pem(private))
        added.append(_entry(selector, public, "pending", now))
    save_state(root, state.model_copy(update={"selectors": added}))
    return added


def import_key(
    root: Path, domain: Domain, selector: str, pem_path: Path, host: HostConfig, created: datetime
) -> SelectorState:
    """Take over an existing selector: copy its private key into the key directory and add it to
    the state as the active selector of its algorithm, so rotation retires it in due course."""
    try:
        selector = idna_name(selector, "DKIM selector")
    except ValueError as err:
        raise MailzoneError(f"SELECTOR: {err}") from None
    try:
        data = pem_path.read_bytes()
    except OSError as err:
        raise MailzoneError(f"{pem_path}: cannot read: {err.strerror}") from None
    private = _load_private(pem_path, data)
    public = keys.public_key_of(private)
    if public.algorithm == "rsa" and public.bits < dkim_key.MIN_RSA_BITS:
        raise MailzoneError(f"{pem_path}: RSA-{public.bits} is too weak to sign with (RFC 8301)")
    state = domain.state
    for item in domain.spec.dkim.imports:
        if item.selector == selector:
            published = domain.imported[item.selector]
            if published.fingerprint != public.fingerprint:
                raise MailzoneError(
                    f"{pem_path}: its public half differs from the key that "
                    f"{domain.doc.path.name} publishes for selector {selector}"
                )
    for entry in state.selectors:
        if entry.selector == selector:
            raise MailzoneError(f"{domain.name}: selector {selector} is already in the state")
        if entry.phase == "active" and entry.algorithm == public.algorithm:
            raise MailzoneError(
                f"{domain.name}: {entry.selector} is already the active {public.algorithm} "
                "selector; import only the selector the MTA signs with today"
            )
    store = KeyStore.for_host(host)
    path = store.path(domain.name, selector)
    if store.exists(domain.name, selector):
        problem = store.problem(domain.name, selector)  # a link, another user's file, ...
        if problem is not None:
            raise MailzoneError(str(problem))
        if keys.public_key_of(store.read(domain.name, selector)).fingerprint != public.fingerprint:
            raise MailzoneError(f"{path} exists and holds another key; move it away first")
    else:
        store.write(domain.name, selector, keys.private_key_pem(private))
    entry = _entry(selector, public, "active", created)
    save_state(root, state.model_copy(update={"selectors": [*state.selectors, entry]}))
    return entry


def _load_private(path: Path, data: bytes) -> keys.PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise MailzoneError(
            f"{path}: the key is encrypted; decrypt it first (openssl pkey)"
        ) from None
    except ValueError:
        raise MailzoneError(f"{path}: not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise MailzoneError(f"{path}: a {type(key).__name__}; DKIM signs with RSA or Ed25519")
    return key


def list_keys(domains: list[Domain], host: HostConfig | None, verify: bool = False) -> list[KeyRow]:
    """Every selector of `domains`: the state's (with whether this host has the key file, and
    what is wrong with it, when a host config is given: a symbolic link, its owner, mode or
    group, or a pending or active key too weak to sign with) and the spec's imports. Reads no private key, unless `verify`: then each key file
    that is otherwise fine is read and its public half compared with the state's fingerprint."""
    store = KeyStore.for_host(host) if host is not None else None
    rows = []
    for domain in domains:
        for item in domain.spec.dkim.imports:
            if any(s.selector == item.selector for s in domain.state.selectors):
                continue
            key = domain.imported[item.selector]
            rows.append(
                KeyRow(
                    domain.name,
                    item.selector,
                    key.algorithm,
                    key.bits,
                    "imported",
                    key.fingerprint,
                    None,
                    None,
                )
            )
        for entry in domain.state.selectors:
            present = store.exists(domain.name, entry.selector) if store else None
            used = entry.key() if entry.phase in ("pending", "active") else None  # strength
            problem = (
                store.problem(domain.name, entry.selector, used) if store and present else None
            )
            if store and present and problem is None and verify:
                problem = store.mismatch(domain.name, entry.selector, entry.fingerprint)
            rows.append(
                KeyRow(
                    domain.name,
                    entry.selector,
                    entry.algorithm,
                    entry.bits,
                    entry.phase,
                    entry.fingerprint,
                    entry.created,
                    present,
                    str(problem) if problem else None,
                )
            )
    return rows


def state_of(root: Path, domain: str) -> DomainState:
    """The domain's state (re-read from disk)."""
    return load_state(root, domain)
