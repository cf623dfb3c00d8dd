"""`state/<domain>.yaml`: what mailzone decided (DKIM selectors, their keys and phases).

Written by mailzone only, committed to git; a hand edit that makes the state impossible is
refused with a clear error. Writes are atomic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mailzone.dkim import keys
from mailzone.spec.types import DomainName, Selector
from mailzone.spec.yamlfile import YamlDoc, load_yaml, validate
from mailzone.util.files import write_atomic

Phase = Literal["pending", "active", "retiring", "revoked", "tombstone"]
PUBLISHED_PHASES = ("pending", "active", "retiring")
HEADER = "# Written by mailzone. Do not edit by hand: commit it as it is.\n"


class SelectorState(BaseModel):
    """One DKIM selector mailzone manages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    selector: Selector
    algorithm: keys.Algorithm
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
        cls, selector: str, key: keys.PublicKey, phase: Phase, created: datetime, **times: object
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

    def key(self) -> keys.PublicKey:
        """The parsed public key."""
        return keys.parse_public_key(self.public_key)

    @model_validator(mode="after")
    def _key_matches(self) -> SelectorState:
        try:
            key = keys.parse_public_key(self.public_key)
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


def state_path(root: Path, domain: str) -> Path:
    """Where a domain's state lives."""
    return root / "state" / f"{domain}.yaml"


def load_state(root: Path, domain: str) -> DomainState:
    """The domain's state, or an empty one when there is no file yet."""
    path = state_path(root, domain)
    if not path.exists():
        return DomainState(domain=domain)
    doc: YamlDoc = load_yaml(path)
    state = validate(DomainState, doc)
    if state.domain != domain:
        from mailzone.errors import SpecError

        raise SpecError(
            f"domain: '{state.domain}' does not match the file name", doc.where(("domain",))
        )
    return state


def record_publication(
    root: Path,
    state: DomainState,
    zone: str,
    provider: str,
    dmarc_policy: str | None = None,
    now: datetime | None = None,
) -> None:
    """Remember where a domain is published (so a removed spec can still be found in DNS) and
    since when its DMARC policy is live."""
    update: dict[str, object] = {}
    if (state.zone, state.provider) != (zone, provider):
        update.update(zone=zone, provider=provider)
    if dmarc_policy is None and state.dmarc is not None:
        update["dmarc"] = None
    elif dmarc_policy is not None and (state.dmarc is None or state.dmarc.policy != dmarc_policy):
        when = (now or datetime.now(UTC)).replace(microsecond=0)
        update["dmarc"] = DmarcState(policy=dmarc_policy, since=when)
    if state_path(root, state.domain).exists() and not update:
        return
    # every apply writes this again, so it need not survive a power cut: skip the fsyncs
    save_state(root, state.model_copy(update=update), durable=False)


def stale_states(root: Path, known: set[str]) -> list[DomainState]:
    """States whose spec is gone (their records may still be in DNS)."""
    folder = root / "state"
    if not folder.is_dir():
        return []
    names = sorted(p.name[: -len(".yaml")] for p in folder.glob("*.yaml"))
    return [load_state(root, n) for n in names if n not in known]


def save_state(root: Path, state: DomainState, durable: bool = True) -> Path:
    """Write the state atomically (temp file, fsync, rename)."""
    path = state_path(root, state.domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = state.model_dump(mode="json", exclude_none=True)
    for entry in data["selectors"]:  # keep entries short: drop flags at their usual value
        for flag, usual in (("mta_done", True), ("urgent", False)):
            if entry.get(flag) == usual:
                del entry[flag]
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's is several times faster
    text = HEADER + yaml.dump(
        data, Dumper=dumper, sort_keys=False, default_flow_style=False, width=1000
    )
    write_atomic(path, text, durable=durable)
    return path
