"""octoDNS's thresholds count changes to records, never mailzone's `_mailzone` registry."""

from __future__ import annotations

import pytest
from octodns.provider.plan import Plan, TooMuchChange
from octodns.record import Record, Update
from octodns.zone import Zone

from mailzone.octo.thresholds import RecordPlan

ZONE = "example.org."


def zone_of(count: int, registry: str) -> Zone:
    """`count` A record sets h0..h{count-1} plus the registry."""
    zone = Zone(ZONE, [])
    for i in range(count):
        zone.add_record(Record.new(zone, f"h{i}", {"type": "A", "ttl": 300, "value": "192.0.2.1"}))
    zone.add_record(Record.new(zone, "_mailzone", {"type": "TXT", "ttl": 300, "value": registry}))
    return zone


def updated_plan(updates: int, threshold: float = 0.3) -> Plan:
    """A plan over 10 record sets + registry: `updates` A sets and the registry updated."""
    existing, desired = (
        zone_of(10, "mailzone:1 example.org a"),
        zone_of(10, "mailzone:1 example.org b"),
    )
    changes = []
    for i in range(updates):
        old = existing.get_type(f"h{i}", "A")
        new = old.copy(value="192.0.2.2")
        changes.append(Update(old, new))
    old, new = existing.get_type("_mailzone", "TXT"), desired.get_type("_mailzone", "TXT")
    changes.append(Update(old, new))
    return Plan(existing, desired, changes, True, threshold, threshold)


def test_the_registry_update_is_not_a_change_octodns_counts() -> None:
    plan = updated_plan(3)
    with pytest.raises(TooMuchChange, match=r"\(4/11\)"):
        plan.raise_if_unsafe()  # octoDNS's own count: 3 records + the registry
    checked = RecordPlan.of(plan)
    assert checked is not None
    checked.raise_if_unsafe()  # 3 of 10 record sets: 30 %, not over
    assert checked.changes == plan.changes  # apply gets the same changes, registry included


def test_more_record_changes_than_the_threshold_still_stop() -> None:
    checked = RecordPlan.of(updated_plan(4))
    assert checked is not None
    with pytest.raises(TooMuchChange, match=r"40.00% is over 30.00% \(4/10\)"):
        checked.raise_if_unsafe()


def test_no_plan_stays_no_plan() -> None:
    assert RecordPlan.of(None) is None
