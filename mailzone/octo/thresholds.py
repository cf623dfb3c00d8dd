"""octoDNS's change thresholds, counted over DNS records instead of mailzone's bookkeeping.

octoDNS refuses a plan that updates, or deletes, more than a share of the zone's existing record
sets (`update_pcent_threshold`, `delete_pcent_threshold`; only in zones of 10 record sets or
more; creates never count). Two things make its defaults wrong for mail zones:

- mailzone's `_mailzone` registry is one record set that nearly every apply rewrites (it lists
  what mailzone created), so it would count as a change to the zone the user never made. It is
  left out of both the changes counted and the zone's size.
- A one-domain mail zone has about 10 record sets: renaming the mail host deletes 3 and updates
  the MX and the SPF value, which is already 30 %. mailzone's defaults are therefore 50 % (a
  change to more than half of the zone's record sets stops), set per provider like octoDNS's:

      # providers/powerdns.yaml
      update_pcent_threshold: 0.3
      delete_pcent_threshold: 0.3

The mail guards (`guards.py`) protect what matters whatever the zone's size."""

from __future__ import annotations

from octodns.provider.plan import Plan
from octodns.zone import Zone

from mailzone.octo.registry import is_registry

UPDATE_PCENT_THRESHOLD = 0.5
DELETE_PCENT_THRESHOLD = 0.5
DEFAULTS = {
    "update_pcent_threshold": UPDATE_PCENT_THRESHOLD,
    "delete_pcent_threshold": DELETE_PCENT_THRESHOLD,
}


def _without_registry(zone: Zone) -> Zone:
    out = zone.copy()
    for record in [r for r in zone.records if is_registry(r)]:
        out.remove_record(record)
    return out


class RecordPlan(Plan):
    """An octoDNS plan whose safety check (`raise_if_unsafe`) counts changes to records, not
    to mailzone's registry; everything else (apply, outputs) is octoDNS's plan as it was."""

    @classmethod
    def of(cls, plan: Plan | None) -> RecordPlan | None:
        """The same plan (None when nothing changes), with this safety check."""
        if plan is None or isinstance(plan, cls):
            return plan
        return cls(
            plan.existing,
            plan.desired,
            plan.changes,
            plan.exists,
            update_pcent_threshold=plan.update_pcent_threshold,
            delete_pcent_threshold=plan.delete_pcent_threshold,
            meta=plan.meta,
        )

    def raise_if_unsafe(self) -> None:
        """octoDNS's own check (thresholds, root NS), run over the plan without the registry."""
        existing = _without_registry(self.existing) if self.existing is not None else None
        Plan(
            existing,
            self.desired,
            [c for c in self.changes if not is_registry(c.record)],
            self.exists,
            update_pcent_threshold=self.update_pcent_threshold,
            delete_pcent_threshold=self.delete_pcent_threshold,
            meta=self.meta,
        ).raise_if_unsafe()
