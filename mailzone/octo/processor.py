"""mailzone's octoDNS processor: ownership rules and mail guards for plain `octodns-sync`.

    processors:
      mailzone:
        class: mailzone.octo.processor.MailzoneProcessor
        # adopt: false         # replace live records mailzone did not create (once, reviewed)
        # force: false         # let a plan delete the last MX, SPF, DMARC or a DKIM key in use
        # keep_unowned: true   # false when another source owns the rest of the zone

mailzone's own `plan`/`apply` use the same class. DNSSEC records (`DNSSEC_TYPES`) are left to
whoever signs the zone: the processor drops them from both sides, so no plan creates, changes or
deletes one, whatever a source or `keep_unowned` says."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from octodns.processor.base import BaseProcessor
from octodns.provider.plan import UnsafePlan

from mailzone.octo.guards import GuardHit, guard_violations
from mailzone.octo.ownership import ZoneReport, reconcile
from mailzone.octo.scope import hold_outside
from mailzone.octo.thresholds import RecordPlan

# What the signer of a zone makes: its keys (DNSKEY, CDS, CDNSKEY, DS of signed children), the
# signatures and denial-of-existence chain. octoDNS reads DS only; the rest are listed in case a
# provider learns them.
DNSSEC_TYPES = frozenset({"DNSKEY", "CDS", "CDNSKEY", "DS", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM"})


def drop_dnssec(zone: Any) -> None:
    """Remove every DNSSEC record set from an octoDNS zone."""
    for record in [r for r in zone.records if r._type in DNSSEC_TYPES]:
        zone.remove_record(record)


class MailGuardUnsafe(UnsafePlan):
    """A plan that would break mail; octodns-sync stops on it like on its own thresholds."""

    def __init__(self, zone: str, violations: list[GuardHit]) -> None:
        self.violations = violations
        super().__init__(
            f"{zone}: "
            + "; ".join(map(str, violations))
            + " (set force: true on the mailzone processor)"
        )


@dataclass(frozen=True)
class ZoneOptions:
    """Per-zone settings mailzone's runner passes in (plain octoDNS uses the defaults)."""

    protected: frozenset[str] = frozenset()  # DKIM selector names the state still has
    release: frozenset[str] = frozenset()  # domains to drop from the registry, records kept
    scope: frozenset[str] | None = None  # change only these names (rotate --apply), hold the rest
    # forget --delete-records: per forgotten domain, the registry entries it may delete
    deletable: Mapping[str, frozenset[str]] = field(default_factory=dict)


class MailzoneProcessor(BaseProcessor):
    """Keeps every record mailzone did not create and guards mail-critical deletions."""

    def __init__(
        self,
        name: str,
        adopt: bool = False,
        force: bool = False,
        keep_unowned: bool = True,
        **kwargs: Any,
    ) -> None:
        self.log = logging.getLogger(f"MailzoneProcessor[{name}]")
        super().__init__(name, **kwargs)
        self.adopt = adopt
        self.force = force
        self.keep_unowned = keep_unowned
        self.reports: dict[str, ZoneReport] = {}
        self.zone_options: dict[str, ZoneOptions] = {}

    def process_source_and_target_zones(
        self, desired: Any, existing: Any, target: Any, lenient: bool = False
    ) -> tuple[Any, Any]:
        """Carry unowned live records into the desired zone; merge the apex TXT; hold adoptions;
        leave DNSSEC records out of both zones."""
        drop_dnssec(desired)
        drop_dnssec(existing)
        options = self.zone_options.get(desired.name, ZoneOptions())
        report = reconcile(
            desired,
            existing,
            self.adopt,
            options.release,
            self.keep_unowned,
            options.deletable,
        )
        if options.scope is not None:
            hold_outside(desired, existing, options.scope, target, report)
        self.reports[desired.name] = report
        for adoption in report.pending_adoptions:
            self.log.warning(
                "%s %s %s exists and was not created by mailzone: left as is (set adopt: true to replace it)",
                desired.decoded_name,
                adoption.name or "@",
                adoption.type,
            )
        for warning in report.warnings:
            self.log.warning("%s", warning)
        return desired, existing

    def violations(self, plan: Any) -> list[GuardHit]:
        """The mail guards this plan trips."""
        report = self.reports.get(plan.desired.name, ZoneReport())
        options = self.zone_options.get(plan.desired.name, ZoneOptions())
        return guard_violations(plan.changes, report.live_registry, options.protected)

    def process_plan(
        self, plan: Any, sources: Any = None, target: Any = None, lenient: bool = False
    ) -> Any:
        """Stop octodns-sync on a plan that breaks mail, unless `force`; octoDNS's thresholds
        then count record changes, not the registry (`thresholds.RecordPlan`)."""
        if plan is None:
            return plan
        violations = [] if self.force else self.violations(plan)
        if violations:
            raise MailGuardUnsafe(plan.desired.decoded_name, violations)
        return RecordPlan.of(plan)
