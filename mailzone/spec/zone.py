"""The zone spec (`zones/<domain>.yaml`): the pydantic models people write against.

These models are the single source of truth for the spec: the JSON Schema (`mailzone schema`),
the README's field table and the validation errors all come from them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from mailzone.dkim import keys
from mailzone.spec.duration import Duration, format_duration
from mailzone.spec.types import (
    DomainName,
    HostName,
    IPv4,
    IPv4Net,
    IPv6,
    IPv6Net,
    MailtoUri,
    Selector,
)
from mailzone.spf import evaluate

Policy = Literal["none", "quarantine", "reject"]
Alignment = Literal["relaxed", "strict"]


class Strict(BaseModel):
    """Unknown keys are errors; values are checked, not coerced across types."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Host(Strict):
    """A mail server of the domain."""

    name: HostName = Field(
        description="Relative to the domain (`mail`), or absolute with a trailing dot "
        "(`mx.example.net.`: then no A/AAAA is created for it)."
    )
    ipv4: list[IPv4] = Field(
        default_factory=list, description="IPv4 addresses (A records, SPF ip4:)."
    )
    ipv6: list[IPv6] = Field(
        default_factory=list, description="IPv6 addresses (AAAA records, SPF ip6:)."
    )
    roles: list[Literal["mx", "send"]] = Field(
        default_factory=lambda: ["mx", "send"],  # type: ignore[arg-type]
        description="mx: an MX target; send: an outbound sender allowed by SPF.",
    )
    mx_priority: int = Field(
        10, ge=0, le=65535, description="MX preference (lower is tried first)."
    )

    @property
    def absolute(self) -> bool:
        """Whether the host lies outside what mailzone creates (written with a trailing dot)."""
        return self.name.endswith(".")

    @model_validator(mode="after")
    def _addresses(self) -> Host:
        if not self.roles:
            raise ValueError(f"host '{self.name}' has no roles: give mx, send or both")
        if len(set(self.roles)) != len(self.roles):
            raise ValueError(f"host '{self.name}': a role is listed twice")
        if not self.absolute and not (self.ipv4 or self.ipv6):
            raise ValueError(
                f"host '{self.name}' needs ipv4 or ipv6: mailzone creates its A/AAAA records"
            )
        if "send" in self.roles and not (self.ipv4 or self.ipv6):
            raise ValueError(f"host '{self.name}' sends mail but has no addresses for SPF")
        for family in (self.ipv4, self.ipv6):
            if len(set(family)) != len(family):
                raise ValueError(f"host '{self.name}': an address is listed twice")
        return self


class Apex(Strict):
    """Optional A/AAAA records for the domain name itself (e.g. a web site)."""

    ipv4: list[IPv4] = Field(default_factory=list, description="A records for the domain.")
    ipv6: list[IPv6] = Field(default_factory=list, description="AAAA records for the domain.")


class Spf(Strict):
    """The domain's SPF record: built from the sending hosts' addresses plus these."""

    all: Literal["fail", "softfail", "neutral"] = Field(
        "softfail",
        description="What receivers do with other senders: fail (-all), softfail (~all), neutral (?all).",
    )
    include: list[DomainName] = Field(
        default_factory=list, description="Other senders' SPF records (include:)."
    )
    ip4: list[IPv4Net] = Field(
        default_factory=list, description="Extra IPv4 addresses or networks."
    )
    ip6: list[IPv6Net] = Field(
        default_factory=list, description="Extra IPv6 addresses or networks."
    )
    terms: list[str] = Field(
        default_factory=list,
        description="Extra raw SPF terms (e.g. `exists:%{i}._spf.example.net`), checked.",
    )

    @field_validator("terms")
    @classmethod
    def _terms(cls, terms: list[str]) -> list[str]:
        for term in terms:
            parsed = evaluate.parse_term(term)
            if parsed.name == "all" and not parsed.modifier:
                raise ValueError(f"'{term}': set spf.all instead of an 'all' term")
            if parsed.modifier and parsed.name == "redirect":
                raise ValueError(
                    f"'{term}': redirect= would ignore this record's own terms; use include:"
                )
        return terms


class DkimImport(Strict):
    """An existing selector published as it is (its private key stays on the mail host)."""

    selector: Selector = Field(description="The selector's DNS label(s), e.g. `20200803`.")
    public_key: str | None = Field(
        None, description="The public key: base64, PEM, or a DKIM TXT value."
    )
    public_key_file: str | None = Field(
        None, description="A file holding the public key, relative to the spec."
    )

    @model_validator(mode="after")
    def _one_source(self) -> DkimImport:
        if (self.public_key is None) == (self.public_key_file is None):
            raise ValueError(
                f"selector '{self.selector}': give exactly one of public_key or public_key_file"
            )
        return self


class Dkim(Strict):
    """DKIM selectors and rotation policy. Keys generated by mailzone live in state/<domain>.yaml
    (public halves) and in the mail host's key directory (private halves)."""

    algorithms: list[Literal["rsa", "ed25519"]] = Field(
        default_factory=lambda: ["rsa"],  # type: ignore[arg-type]
        description="Keys mailzone generates and rotates: `rsa`, `ed25519`, or both (dual "
        "signing); `[]`: none (imported selectors only).",
    )
    rsa_bits: Literal[2048, 3072, 4096] = Field(2048, description="Size of new RSA keys.")
    rotate_every: Duration = Field(
        timedelta(days=90), description="Start a new selector when the active key is this old."
    )
    max_age: Duration = Field(
        timedelta(days=180),
        description="`rotate` warns when the active key is older (rotation is stuck).",
    )
    activate_delay: Duration = Field(
        timedelta(hours=24),
        description="Wait this long (at least the zone's negative-caching TTL and the record "
        "TTL) after every nameserver serves a new key before the MTA signs with it.",
    )
    revoke_after: Duration = Field(
        timedelta(days=7),
        description="After the switch, retire the old selector (mail in queues still verifies "
        "until then).",
    )
    forget_after: Duration = Field(
        timedelta(days=30),
        description="After the switch, take the old selector out of DNS and the state; its "
        "private key is deleted once no nameserver serves it.",
    )
    retire: Literal["revoke", "remove"] = Field(
        "revoke",
        description="revoke: publish the old selector as `v=DKIM1; p=` until forgotten; "
        "remove: delete its record at once.",
    )
    imports: list[DkimImport] = Field(
        default_factory=list,
        alias="import",
        description="Existing selectors to publish as they are.",
    )

    @model_validator(mode="after")
    def _timeline(self) -> Dkim:
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ValueError("algorithms: each algorithm once")
        if self.rotate_every > self.max_age:
            raise ValueError(
                f"rotate_every ({format_duration(self.rotate_every)}) is longer than max_age "
                f"({format_duration(self.max_age)})"
            )
        if self.activate_delay >= self.rotate_every:
            raise ValueError("activate_delay must be shorter than rotate_every")
        if self.revoke_after >= self.forget_after:
            raise ValueError(
                f"revoke_after ({format_duration(self.revoke_after)}) must be shorter than "
                f"forget_after ({format_duration(self.forget_after)})"
            )
        return self

    @field_validator("imports")
    @classmethod
    def _unique(cls, imports: list[DkimImport]) -> list[DkimImport]:
        seen: set[str] = set()
        for item in imports:
            if item.selector in seen:
                raise ValueError(f"duplicate selector '{item.selector}'")
            seen.add(item.selector)
        return imports


class Dmarc(Strict):
    """The `_dmarc` record (RFC 7489, DMARCbis aware)."""

    policy: Policy = Field(description="p=: what receivers do with failing mail.")
    subdomain_policy: Policy | None = Field(None, description="sp=: policy for subdomains.")
    nonexistent_policy: Policy | None = Field(
        None, description="np=: policy for non-existent subdomains."
    )
    rua: list[MailtoUri] = Field(
        default_factory=list, description="Aggregate report destinations (mailto:)."
    )
    ruf: list[MailtoUri] = Field(
        default_factory=list, description="Failure report destinations (mailto:)."
    )
    dkim_alignment: Alignment | None = Field(None, description="adkim=: relaxed or strict.")
    spf_alignment: Alignment | None = Field(None, description="aspf=: relaxed or strict.")
    failure_options: list[Literal["0", "1", "d", "s"]] = Field(
        default_factory=list, description="fo=: when failure reports are sent."
    )
    testing: bool = Field(
        False, description="t=y (DMARCbis): ask receivers to apply one level less."
    )
    pct: int | None = Field(
        None, ge=0, le=100, description="pct= (removed by DMARCbis; prefer testing)."
    )
    report_format: Literal["afrf"] | None = Field(None, description="rf= (removed by DMARCbis).")
    report_interval: int | None = Field(
        None, ge=1, description="ri= in seconds (removed by DMARCbis)."
    )

    @field_validator("failure_options", mode="before")
    @classmethod
    def _fo_as_text(cls, value: object) -> object:
        if isinstance(value, list):
            return [str(v) for v in value]
        return value


class ZoneSpec(Strict):
    """One mail domain: `zones/<domain>.yaml`."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, frozen=True, title="mailzone zone spec"
    )

    domain: DomainName = Field(description="The mail domain (the part after @).")
    zone: DomainName | None = Field(
        None, description="The DNS zone holding it; default: the domain itself."
    )
    provider: str = Field(
        "local", description="Name of a providers/<name>.yaml file, or the built-in `local`."
    )
    ttl: int = Field(3600, ge=60, le=604800, description="TTL of every record mailzone writes.")
    hosts: list[Host] = Field(min_length=1, description="The mail servers.")
    apex: Apex | None = Field(None, description="Optional A/AAAA for the domain itself.")
    spf: Spf = Field(default_factory=Spf, description="The SPF record (see spf.*).")
    dkim: Dkim = Field(default_factory=Dkim, description="DKIM selectors (see dkim.*).")
    dmarc: Dmarc | None = Field(
        None, description="The DMARC policy; omit only if you publish none."
    )

    @property
    def zone_name(self) -> str:
        """The zone, defaulting to the domain."""
        return self.zone or self.domain

    @field_validator("provider")
    @classmethod
    def _provider_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError(
                f"'{value}' is not a provider name (a file name in providers/ without .yaml)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> ZoneSpec:
        zone = self.zone_name
        if self.domain != zone and not self.domain.endswith("." + zone):
            raise ValueError(f"domain '{self.domain}' is not inside zone '{zone}'")
        names = [host_fqdn(self, h) for h in self.hosts]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"host '{name}' is listed twice")
        if not any("mx" in h.roles for h in self.hosts):
            raise ValueError("no host has the mx role: the domain could not receive mail")
        for host in self.hosts:
            if not host.absolute and not _inside(host_fqdn(self, host), zone):
                raise ValueError(f"host '{host.name}' is not inside zone '{zone}'")
        from mailzone.records.spf import spf_value  # the record is built in one place

        lookups = evaluate.count_lookups(spf_value(self))
        if lookups > evaluate.MAX_LOOKUPS:
            raise ValueError(
                f"spf: {lookups} DNS-lookup terms, more than the {evaluate.MAX_LOOKUPS} RFC 7208 allows "
                "(receivers answer permerror); replace includes by ip4:/ip6: terms"
            )
        base = (info.context or {}).get("base_dir")
        for item in self.dkim.imports:
            imported_key(item, base)
        return self


def _inside(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def host_fqdn(spec: ZoneSpec, host: Host) -> str:
    """The host's full name without the trailing dot."""
    if host.absolute:
        return host.name[:-1]
    return f"{host.name}.{spec.domain}"


def imported_key(item: DkimImport, base_dir: Path | None) -> keys.PublicKey:
    """The public key of an imported selector; ValueError names the selector."""
    if item.public_key is not None:
        text = item.public_key
    else:
        assert item.public_key_file is not None
        path = Path(item.public_key_file)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise ValueError(
                f"selector '{item.selector}': cannot read {item.public_key_file}: {reason}"
            ) from None
    try:
        key = keys.parse_public_key(text)
    except ValueError as err:
        raise ValueError(f"selector '{item.selector}': {err}") from None
    if key.algorithm == "rsa" and key.bits < keys.MIN_RSA_BITS:
        raise ValueError(
            f"selector '{item.selector}': RSA key of {key.bits} bits; receivers reject keys under "
            f"{keys.MIN_RSA_BITS} bits (RFC 8301)"
        )
    return key


def spec_warnings(
    spec: ZoneSpec, where: Callable[[tuple[str | int, ...]], str], base_dir: Path | None
) -> list[str]:
    """Things that are valid but deserve a look; `where(loc)` gives `file:line` for a field."""
    out: list[str] = []
    for i, item in enumerate(spec.dkim.imports):
        key = imported_key(item, base_dir)
        if key.algorithm == "rsa" and key.bits < keys.GOOD_RSA_BITS:
            out.append(
                f"{where(('dkim', 'import', i))}: dkim.import[{i}]: selector '{item.selector}' is RSA-{key.bits}; "
                f"accepted for an existing selector, but rotate to {keys.GOOD_RSA_BITS} bits"
            )
    if spec.dmarc is None:
        out.append(
            f"{where(())}: dmarc: no DMARC policy; receivers such as Gmail expect one from bulk senders"
        )
        return out
    for name, tag in (("pct", "pct"), ("report_format", "rf"), ("report_interval", "ri")):
        if getattr(spec.dmarc, name) is not None:
            out.append(
                f"{where(('dmarc', name))}: dmarc.{name}: {tag}= is removed by DMARCbis; receivers may ignore it"
            )
    return out
