"""The state models: what mailzone decided for a domain (DKIM selectors, their keys and phases,
the DMARC policy last published). Read and written by `repo.state`; a hand edit that makes the
state impossible is refused by the validators here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from mailzone.spec import dkim_key
from mailzone.spec.types import DomainName, ProviderName, Selector

Phase = Literal["pending", "active", "retiring", "revoked", "tombstone"]
PUBLISHED_PHASES = ("pending", "active", "retiring")


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # written in UTC


UtcTime = Annotated[datetime, AfterValidator(_as_utc)]


class SelectorLifecycle(BaseModel):
    """A DKIM selector as the rotation lifecycle sees it: its phase and when each step happened.

    `mailzone.dkim.lifecycle` works on this type: it moves entries on with `model_copy`, which
    keeps a `SelectorState` one, and proposes new selectors as plain `SelectorLifecycle` entries
    that `mailzone.dkim.rotate` completes with their key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # times that cannot be before `created` (a subclass adds its own)
    _LATER_TIMES: ClassVar[tuple[str, ...]] = ("visible_since", "switched", "revoked")

    selector: Selector
    algorithm: dkim_key.Algorithm
    phase: Phase
    created: UtcTime
    visible_since: UtcTime | None = Field(
        None, description="Since when every authoritative nameserver serves it (pending)."
    )
    switched: UtcTime | None = Field(
        None, description="When the MTA switched to it (active) or away from it (later phases)."
    )
    revoked: UtcTime | None = Field(None, description="When its record was revoked or removed.")
    mta_done: bool = Field(
        True, description="False while the MTA switch to this active selector is incomplete."
    )
    urgent: bool = Field(False, description="Published by `rotate --emergency`.")

    @model_validator(mode="after")
    def _possible(self) -> Self:
        self._check()
        return self

    def _check(self) -> None:
        """Raise ValueError when the entry is impossible (runs after every validation)."""
        name = f"selector '{self.selector}'"
        if self.phase == "pending" and (self.switched or self.revoked):
            raise ValueError(f"{name}: a pending selector cannot have been switched or revoked")
        for label in self._LATER_TIMES:
            when = getattr(self, label)
            if when is not None and when < self.created:
                raise ValueError(f"{name}: {label} is before created")
        if self.revoked and self.switched and self.revoked < self.switched:
            raise ValueError(f"{name}: revoked is before switched")
        if self.phase in ("retiring", "revoked", "tombstone") and self.switched is None:
            raise ValueError(
                f"{name}: a {self.phase} selector needs switched (when it stopped signing)"
            )


class SelectorState(SelectorLifecycle):
    """One DKIM selector mailzone manages: its lifecycle and its public key."""

    _LATER_TIMES: ClassVar[tuple[str, ...]] = ("changed", *SelectorLifecycle._LATER_TIMES)
    # the order of the fields in state files (the lifecycle's fields come first in the model)
    _FILE_ORDER: ClassVar[tuple[str, ...]] = (
        "selector",
        "algorithm",
        "bits",
        "public_key",
        "fingerprint",
        "phase",
        "created",
        "changed",
        "visible_since",
        "switched",
        "revoked",
        "mta_done",
        "urgent",
    )

    bits: int = Field(ge=256)
    public_key: str
    fingerprint: str
    changed: UtcTime | None = Field(None, description="Last phase change.")

    @classmethod
    def of_key(
        cls,
        selector: str,
        key: dkim_key.PublicKey,
        phase: Phase,
        created: datetime,
        **times: object,
    ) -> SelectorState:
        """A new entry for `key` (algorithm, size, value and fingerprint taken from it)."""
        return cls(
            selector=selector,
            algorithm=key.algorithm,
            bits=key.bits,
            public_key=key.p,
            fingerprint=key.fingerprint,
            phase=phase,
            created=created,
            **times,
        )

    @classmethod
    def of_lifecycle(
        cls, entry: SelectorLifecycle, key: dkim_key.PublicKey, changed: datetime | None
    ) -> SelectorState:
        """A selector the lifecycle proposed, completed with its key."""
        lifecycle = {name: getattr(entry, name) for name in SelectorLifecycle.model_fields}
        return cls(
            **lifecycle,
            bits=key.bits,
            public_key=key.p,
            fingerprint=key.fingerprint,
            changed=changed,
        )

    def key(self) -> dkim_key.PublicKey:
        """The parsed public key."""
        return dkim_key.parse_public_key(self.public_key)

    @model_serializer(mode="wrap")
    def _in_file_order(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        ordered = {name: data[name] for name in self._FILE_ORDER if name in data}
        ordered.update(data)  # a field missing from _FILE_ORDER goes last, never lost
        return ordered

    def _check(self) -> None:
        try:
            key = dkim_key.parse_public_key(self.public_key)
        except ValueError as err:
            raise ValueError(f"selector '{self.selector}': {err}") from None
        if key.algorithm != self.algorithm or key.bits != self.bits:
            raise ValueError(
                f"selector '{self.selector}': public_key is {key.algorithm}-{key.bits}, "
                f"state says {self.algorithm}-{self.bits}"
            )
        if key.fingerprint != self.fingerprint:
            raise ValueError(
                f"selector '{self.selector}': public_key does not match its fingerprint"
            )
        super()._check()


class DmarcState(BaseModel):
    """The DMARC policy last published, and since when (to warn about a long p=none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Literal["none", "quarantine", "reject"]
    since: datetime

    @field_validator("since")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


TlsaRole = Literal["current", "next"]
_SHA256_HEX = r"^[0-9a-f]{64}$"


class TlsaKey(BaseModel):
    """A TLS server key that DANE publishes as TLSA `3 1 1` (DANE-EE, the SubjectPublicKeyInfo,
    SHA-256): the key the MX serves now (`current`) or the one staged for its next certificate
    (`next`). Only the hash is kept; the key stays on the mail host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: DomainName = Field(description="The MX host (its full name).")
    role: TlsaRole
    spki_sha256: str = Field(pattern=_SHA256_HEX, description="SHA-256 of the key's SPKI, hex.")
    added: UtcTime
    visible_since: UtcTime | None = Field(
        None, description="Since when every authoritative nameserver serves its TLSA."
    )


class DomainState(BaseModel):
    """Everything mailzone decided for one domain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    domain: DomainName
    zone: DomainName | None = Field(None, description="Where the domain was last published.")
    provider: ProviderName | None = Field(None, description="Which provider published it.")
    # written by apply before 0.x; read only: the `_mailzone` registry in DNS holds both now
    dmarc: DmarcState | None = Field(
        None, description="Old files: the DMARC policy live since when (now in DNS)."
    )
    records: list[str] | None = Field(
        None,
        description="Old files: the record sets an apply generated (`MX/@ A/mail ...`): "
        "what `forget --delete-records` may delete once the spec is gone.",
    )
    selectors: list[SelectorState] = Field(default_factory=list)
    tlsa: list[TlsaKey] = Field(
        default_factory=list, description="DANE: the MX hosts' current and next TLS keys."
    )

    @model_validator(mode="after")
    def _possible(self) -> DomainState:
        seen: set[tuple[str, str]] = set()
        for key in self.tlsa:
            for item in ((key.host, key.role), (key.host, key.spki_sha256)):
                if item in seen:
                    raise ValueError(f"tlsa: {item[1]} of host '{key.host}' appears twice")
                seen.add(item)
        names = [s.selector for s in self.selectors]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"selector '{name}' appears twice")
        for algorithm in ("rsa", "ed25519"):
            active = [
                s.selector
                for s in self.selectors
                if s.phase == "active" and s.algorithm == algorithm
            ]
            if len(active) > 1:
                raise ValueError(
                    f"{len(active)} active {algorithm} selectors ({', '.join(active)}); at most one"
                )
        return self
