"""The state models: what mailzone decided for a domain (DKIM selectors, their keys and phases,
the DMARC policy last published). Read and written by `repo.state`; a hand edit that makes the
state impossible is refused by the validators here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mailzone.spec import dkim_key
from mailzone.spec.types import DomainName, Selector

Phase = Literal["pending", "active", "retiring", "revoked", "tombstone"]
PUBLISHED_PHASES = ("pending", "active", "retiring")


class SelectorState(BaseModel):
    """One DKIM selector mailzone manages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    selector: Selector
    algorithm: dkim_key.Algorithm
    bits: int = Field(ge=256)
    public_key: str
    fingerprint: str
    phase: Phase
    created: datetime
    changed: datetime | None = Field(None, description="Last phase change.")
    visible_since: datetime | None = Field(
        None, description="Since when every authoritative nameserver serves it (pending)."
    )
    switched: datetime | None = Field(
        None, description="When the MTA switched to it (active) or away from it (later phases)."
    )
    revoked: datetime | None = Field(None, description="When its record was revoked or removed.")
    mta_done: bool = Field(
        True, description="False while the MTA switch to this active selector is incomplete."
    )
    urgent: bool = Field(False, description="Published by `rotate --emergency`.")

    @field_validator("created", "changed", "visible_since", "switched", "revoked")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # the state is written in UTC
        return value

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

    def key(self) -> dkim_key.PublicKey:
        """The parsed public key."""
        return dkim_key.parse_public_key(self.public_key)

    @model_validator(mode="after")
    def _key_matches(self) -> SelectorState:
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
        self._timeline()
        return self

    def _timeline(self) -> None:
        name = f"selector '{self.selector}'"
        if self.phase == "pending" and (self.switched or self.revoked):
            raise ValueError(f"{name}: a pending selector cannot have been switched or revoked")
        for label in ("changed", "visible_since", "switched", "revoked"):
            when = getattr(self, label)
            if when is not None and when < self.created:
                raise ValueError(f"{name}: {label} is before created")
        if self.revoked and self.switched and self.revoked < self.switched:
            raise ValueError(f"{name}: revoked is before switched")
        if self.phase in ("retiring", "revoked", "tombstone") and self.switched is None:
            raise ValueError(
                f"{name}: a {self.phase} selector needs switched (when it stopped signing)"
            )


class DmarcState(BaseModel):
    """The DMARC policy last published, and since when (to warn about a long p=none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Literal["none", "quarantine", "reject"]
    since: datetime

    @field_validator("since")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class DomainState(BaseModel):
    """Everything mailzone decided for one domain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    domain: DomainName
    zone: DomainName | None = Field(None, description="Where the domain was last published.")
    provider: str | None = Field(None, description="Which provider published it.")
    dmarc: DmarcState | None = Field(None, description="The DMARC policy live since when.")
    selectors: list[SelectorState] = Field(default_factory=list)

    @model_validator(mode="after")
    def _possible(self) -> DomainState:
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
