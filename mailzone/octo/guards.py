"""Mail-aware guards: plan changes that would break mail, refused without --force.

octoDNS's own thresholds start at 10 record sets and ignore creates; most mail zones are smaller,
so these checks look at what the changes do to mail, whatever the zone's size."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from octodns.record import Delete, Update

from mailzone.octo import registry
from mailzone.octo.ownership import _values, is_spf


@dataclass(frozen=True)
class GuardHit:
    """One change a guard stops: what kind, and the line to show."""

    kind: Literal["mx", "spf", "dmarc", "dkim-delete", "dkim-replace"]
    text: str

    def __str__(self) -> str:
        return self.text


def _dkim_p(values: list[str]) -> str | None:
    for value in values:
        for tag in value.replace("\\;", ";").split(";"):
            name, sep, content = tag.partition("=")
            if sep and name.strip() == "p":
                return "".join(content.split())
    return None


def guard_violations(
    changes: Iterable[object],
    live_registry: registry.Registry,
    protected: frozenset[str] = frozenset(),
) -> list[GuardHit]:
    """One hit per change that deletes the last MX, the SPF value, DMARC, or a DKIM key in use.

    `protected`: names (relative to the zone) of DKIM selectors the state still has."""
    mail_names = {
        registry.split_key(e)[1]
        for entries in live_registry.values()
        for e in entries
        if registry.split_key(e)[0] == "MX"
    }
    out: list[GuardHit] = []
    for change in changes:
        record = change.record  # type: ignore[attr-defined]
        name, rtype, fqdn = record.name, record._type, record.decoded_fqdn
        old = _values(change.existing) if change.existing is not None else []  # type: ignore[attr-defined]
        new = _values(change.new) if change.new is not None else []  # type: ignore[attr-defined]
        deleted = isinstance(change, Delete)
        if rtype == "MX" and deleted and name in mail_names:
            out.append(
                GuardHit(
                    "mx",
                    f"deletes the MX records of {fqdn}: the domain could no longer receive mail",
                )
            )
        if rtype != "TXT":
            continue
        labels = name.split(".")
        if name in mail_names and any(map(is_spf, old)) and not any(map(is_spf, new)):
            out.append(
                GuardHit(
                    "spf",
                    f"removes the SPF record of {fqdn}: receivers would treat its mail as unauthenticated",
                )
            )
        if deleted and labels[0] == "_dmarc" and ".".join(labels[1:]) in mail_names:
            out.append(GuardHit("dmarc", f"deletes the DMARC record {fqdn}"))
        if len(labels) > 1 and "_domainkey" in labels[1:]:
            if deleted and name in protected:
                out.append(
                    GuardHit(
                        "dkim-delete",
                        f"deletes DKIM selector {fqdn}, which the state still has (mail signed with it would fail)",
                    )
                )
            elif isinstance(change, Update):
                before, after = _dkim_p(old), _dkim_p(new)
                if before and after and before != after:
                    out.append(
                        GuardHit(
                            "dkim-replace",
                            f"replaces the key of DKIM selector {fqdn} in place: mail signed with the old key "
                            "fails until caches expire; publish a new selector instead",
                        )
                    )
    return out
