"""The check families, registered once: what `mailzone check` runs, in this order, and what
`--skip`, its help and the docs list. Adding a family = a module in this package with a
`check_<name>(domain, env) -> list[Finding]` function and one `Family` line below.

`reach` says what an `unknown` finding of the family means for the exit code: a `dns` family
asks the resolver and the zone's nameservers, so `unknown` there means the run could not verify
what it exists to verify (exit 4 unless `--allow-unknown`); a `network` family needs servers
that CI runners often cannot reach (SMTP, HTTPS, public blocklists), so its `unknown` counts
only with `--require`.

Each entry names its function as `module:function` and is imported on first use: this module
stays light, so the CLI can build its choices without importing DNS and TLS code."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mailzone.check.env import CheckEnv, Question
    from mailzone.check.model import Finding
    from mailzone.repo.project import Domain

    Check = Callable[[Domain, CheckEnv], list[Finding]]
    Ahead = Callable[[Domain, CheckEnv], list[Question]]

Reach = Literal["dns", "network"]


@dataclass(frozen=True)
class Family:
    """One family of checks (`Finding.check` carries its name)."""

    name: str
    target: str  # `module:function` inside mailzone.check
    about: str  # one line: what it verifies
    reach: Reach = "dns"  # dns: `unknown` makes the run inconclusive; network: only if required
    # asks servers the others do not (the zone's own nameservers): runs beside them, so a dead
    # resolver and dead nameservers cost a domain one timeout, not two
    apart: bool = False
    # `module:function` giving the DNS questions the check will ask of a domain whose zone is as
    # its spec wants, asked ahead for many domains at once (`Dns.prefetch`); "" for none
    ahead: str = ""

    def load(self) -> Check:
        """The check function (imported once)."""
        check: Check = _load(self.target)
        return check

    def load_ahead(self) -> Ahead | None:
        """The `ahead` function, or None."""
        ahead: Ahead | None = _load(self.ahead) if self.ahead else None
        return ahead


@functools.cache
def _load(target: str) -> Any:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(f"mailzone.check.{module}"), function)


FAMILIES: tuple[Family, ...] = (
    Family(
        "drift",
        "drift:check_drift",
        "every authoritative nameserver serves what the specs want",
        apart=True,
        ahead="drift:ahead_drift",
    ),
    Family(
        "spf",
        "spf:check_spf",
        "SPF passes for each sending address, within the lookup limits",
        ahead="spf:ahead_spf",
    ),
    Family(
        "dkim",
        "dkim:check_dkim",
        "each selector's key is served, valid and the expected one",
        ahead="dkim:ahead_dkim",
    ),
    Family(
        "dmarc",
        "dmarc:check_dmarc",
        "the DMARC record is valid and its report addresses accept reports",
        ahead="dmarc:ahead_dmarc",
    ),
    Family(
        "tls_rpt",
        "tls_rpt:check_tls_rpt",
        "one valid TLS-RPT record at `_smtp._tls`, the one the spec wants",
        ahead="tls_rpt:ahead_tls_rpt",
    ),
    Family(
        "mta_sts",
        "mta_sts:check_mta_sts",
        "the _mta-sts id and the policy served over HTTPS are the spec's; each MX matches it",
        ahead="mta_sts:ahead_mta_sts",
    ),
    Family(
        "dane",
        "dane:check_dane",
        "each DANE host's TLSA set is the state's 3 1 1 keys, in a signed zone",
    ),
    Family(
        "mx",
        "mx:check_mx",
        "MX targets are names with addresses (no CNAME, no IP)",
        ahead="mx:ahead_mx",
    ),
    Family(
        "rdns",
        "mx:check_rdns",
        "each sending address has a PTR that resolves back to it",
        ahead="mx:ahead_rdns",
    ),
    Family(
        "blocklist",
        "blocklist:check_blocklists",
        "no sending address is on a DNS blocklist",
        "network",
        ahead="blocklist:ahead_blocklists",
    ),
    Family(
        "smtp",
        "smtp:check_smtp",
        "each MX offers STARTTLS with a valid certificate for its name",
        "network",
    ),
    Family(
        "dane_smtp",
        "dane:check_dane_smtp",
        "the key each DANE host presents over STARTTLS matches its TLSA",
        "network",
    ),
    Family(
        "https",
        "smtp:check_https",
        "the mail host's HTTPS certificate is valid (MTA-STS, webmail)",
        "network",
    ),
)
NAMES: tuple[str, ...] = tuple(f.name for f in FAMILIES)
DNS_NAMES: tuple[str, ...] = tuple(f.name for f in FAMILIES if f.reach == "dns")
NETWORK_NAMES: tuple[str, ...] = tuple(f.name for f in FAMILIES if f.reach == "network")
