"""The DANE key rollover as pure functions of the state's TLSA keys, the time and DNS: staging a
key (`mailzone tlsa current|add-next`), noting when every nameserver serves a staged key's TLSA,
and deciding whether certbot's new certificate may go live (`mailzone tlsa deploy-hook`).

The rule is rotation's: a new key is used only once its record has been served by every
authoritative nameserver long enough for every cache to hold it, here 2 × TTL (RFC 7671
section 8.1): a resolver that cached the old TLSA set just before the new key appeared has
dropped it by then."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mailzone.errors import MailzoneError
from mailzone.spec.duration import format_duration
from mailzone.spec.state import TlsaKey, TlsaRole

SAFE_TTLS = 2  # how many TTLs a next key's TLSA is served before its certificate goes live


def short(spki: str) -> str:
    """A hash as people read it: its first 16 hex digits."""
    return f"{spki[:16]}…"


def safe_wait(record_ttl: int, negative_ttl: int) -> timedelta:
    """How long a staged key's TLSA must be served everywhere: 2 × the longer of the record's
    TTL and the zone's negative TTL (a cached "no such record" counts too)."""
    return timedelta(seconds=SAFE_TTLS * max(record_ttl, negative_ttl, 0))


def of_host(keys: Sequence[TlsaKey], host: str) -> dict[str, TlsaKey]:
    """The host's keys by role."""
    return {k.role: k for k in keys if k.host == host}


def stage(
    keys: Sequence[TlsaKey],
    host: str,
    role: TlsaRole,
    spki: str,
    now: datetime,
    replace: bool = False,
) -> list[TlsaKey]:
    """The keys with `spki` as the host's `role` key (the same list when it already is).
    A current key that differs is replaced only with `replace` (the MX serves the new one
    already); a next key needs a current one, may not equal it, and a different staged next is
    replaced only with `replace`. MailzoneError says why not and what to do."""
    mine = of_host(keys, host)
    if mine.get(role) is not None and mine[role].spki_sha256 == spki:
        return list(keys)
    current, staged = mine.get("current"), mine.get("next")
    if role == "next":
        if current is None:
            raise MailzoneError(
                f"{host} has no current key yet: record the key its MX serves now first "
                f"(mailzone tlsa current {host} --cert FILE)"
            )
        if current.spki_sha256 == spki:
            raise MailzoneError(
                f"this is the current key of {host} ({short(spki)}), not a next one: stage the "
                "key of the next certificate"
            )
        if staged is not None and not replace:
            raise MailzoneError(
                f"{host} already has a next key ({short(staged.spki_sha256)}, added "
                f"{staged.added:%Y-%m-%d}); --replace to stage this one instead"
            )
    elif current is not None and not replace:
        raise MailzoneError(
            f"{host} already has a current key ({short(current.spki_sha256)}); a new key goes "
            "through add-next and the deploy hook, or --replace if the MX serves this key already"
        )
    new = TlsaKey(host=host, role=role, spki_sha256=spki, added=now)
    # the replaced key of that role goes, and so does a next key equal to a new current
    kept = [k for k in keys if k.host != host or (k.role != role and k.spki_sha256 != spki)]
    return sorted([*kept, new], key=_order)


def _order(key: TlsaKey) -> tuple[str, int]:
    return key.host, 0 if key.role == "current" else 1


def note_visible(
    keys: Sequence[TlsaKey], served: Mapping[tuple[str, str], bool], now: datetime
) -> list[TlsaKey]:
    """The next keys with `visible_since` set when every nameserver serves their TLSA
    (`served`: (host, hash) → whether they all do; keys not in it are unchanged), and reset
    when one stops."""
    out = []
    for key in keys:
        ok = served.get((key.host, key.spki_sha256))
        if key.role == "next" and ok is not None:
            since = (key.visible_since or now) if ok else None
            if since != key.visible_since:
                key = key.model_copy(update={"visible_since": since})
        out.append(key)
    return out


def promote(keys: Sequence[TlsaKey], host: str, spki: str, now: datetime) -> list[TlsaKey]:
    """The MX serves `spki` now: it becomes the host's current key (its next key if it was the
    staged one); the old current key goes, so the next apply removes its TLSA."""
    mine = of_host(keys, host)
    staged = mine.get("next")
    if staged is not None and staged.spki_sha256 == spki:
        new = staged.model_copy(update={"role": "current"})
    else:
        new = TlsaKey(host=host, role="current", spki_sha256=spki, added=now)
    kept = [k for k in keys if k.host != host or (k.role == "next" and k.spki_sha256 != spki)]
    return sorted([*kept, new], key=_order)


Action = Literal["install", "promote", "wait", "refuse"]


@dataclass(frozen=True)
class Verdict:
    """What the deploy hook does with a new certificate: `install` it (the key is the current
    one, or `--force`), install it and `promote` its key to current, `wait` until `ready`, or
    `refuse` it. `reason` is one line for people."""

    action: Action
    reason: str
    ready: datetime | None = None

    @property
    def installs(self) -> bool:
        """Whether the certificate goes live now."""
        return self.action in ("install", "promote")


def decide(
    keys: Sequence[TlsaKey],
    host: str,
    spki: str,
    now: datetime,
    wait: timedelta,
    force: bool = False,
) -> Verdict:
    """May a certificate with key `spki` go live on `host` at `now`? Yes if its key is the
    current one, or the staged next one whose TLSA every nameserver has served for `wait`
    (`safe_wait`); otherwise receivers that validate DANE would refuse the MX. `force` installs
    it all the same (and makes it the current key)."""
    mine = of_host(keys, host)
    current, staged = mine.get("current"), mine.get("next")
    if current is not None and current.spki_sha256 == spki:
        return Verdict("install", f"the key of {host} is unchanged ({short(spki)}): its TLSA stays")
    if staged is not None and staged.spki_sha256 == spki:
        since = staged.visible_since
        if since is not None and now >= since + wait:
            return Verdict(
                "promote",
                f"the next key of {host} ({short(spki)}) is served by every nameserver since "
                f"{since:%Y-%m-%d %H:%M} UTC, longer than {format_duration(wait)} (2 × TTL)",
            )
        if force:
            return Verdict("promote", f"--force: the TLSA of {short(spki)} may not be cached yet")
        if since is None:
            return Verdict(
                "wait",
                f"the TLSA of the next key of {host} ({short(spki)}) is not served by every "
                "nameserver yet: run mailzone apply, then the hook again",
            )
        ready = since + wait
        return Verdict(
            "wait",
            f"the TLSA of the next key of {host} ({short(spki)}) is served since "
            f"{since:%Y-%m-%d %H:%M} UTC; caches may still hold the old set: wait "
            f"{format_duration(ready - now)} more (until {ready:%Y-%m-%d %H:%M} UTC), "
            "or pass --wait",
            ready,
        )
    if force:
        return Verdict("promote", f"--force: {short(spki)} has no TLSA until mailzone apply")
    known = ", ".join(f"{r} {short(k.spki_sha256)}" for r, k in sorted(mine.items())) or "none"
    return Verdict(
        "refuse",
        f"the new key of {host} ({short(spki)}) has no TLSA (the state has: {known}); "
        "receivers that check DANE would refuse the MX: stage it with mailzone tlsa add-next "
        "and apply, or --force",
    )
