"""A TXT value octoDNS's record-level chunking would never finish (`_legacy_chunked_value`
never cuts after a backslash: a value ending in one, or holding 255 in a row) is refused
before the zone is applied, with the value named, instead of hanging the apply; every other
value is cut as octoDNS cuts it."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from octodns.record import Record, Update
from octodns.record.chunked import _legacy_chunked_value
from octodns.zone import Zone
from octodns_bind import Rfc2136Provider

from mailzone.octo import sync
from mailzone.octo.ownership import ZoneReport
from mailzone.octo.sync import ZonePlan, ZoneTask, unsplittable_txt
from mailzone.octo.thresholds import RecordPlan

HANGS = [
    "ends in a backslash \\\\",  # octoDNS never cuts after a backslash: not even at the end
    "a" * 255 + "\\\\",
    "\\\\" * 128,  # 256 backslashes: a whole first string of them
]
ENDS = [
    "a" * 253 + "\\\\" + "c",
    "a" * 254 + "\\\\" + "b",  # the cut moves before the backslash
    "v=spf1 include:_spf.example.net \\; -all " + "x" * 300,
    'quote " inside ' + "q" * 300,
]


def _octodns_ends(value: str) -> bool:
    """Whether octoDNS's own chunking of `value` finishes within 2 s (in a forked process: a
    loop that never ends cannot be stopped in this one)."""
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_legacy_chunked_value, args=(value, str, 255))
    child.start()
    child.join(2)
    if child.is_alive():
        child.kill()
        child.join()
        return False
    return child.exitcode == 0


@pytest.mark.parametrize("value", HANGS + ENDS)
def test_the_values_refused_are_those_octodns_never_finishes(value: str) -> None:
    assert sync._splits(value.replace('"', '\\"'), 255) is _octodns_ends(value)
    assert (value in HANGS) is not sync._splits(value.replace('"', '\\"'), 255)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='ab\\";', min_size=200, max_size=800))
def test_a_value_said_to_split_is_cut_by_octodns(value: str) -> None:
    if sync._splits(value.replace('"', '\\"'), 255):
        chunked = _legacy_chunked_value(value, str, 255)  # ends: said so
        assert chunked.startswith('"') and chunked.endswith('"')


def _txt_update(value: str) -> Any:
    """The apex TXT set's update: the SPF record changes, a foreign `value` is kept."""
    live, wanted = Zone("example.org.", []), Zone("example.org.", [])
    old = Record.new(live, "", {"type": "TXT", "ttl": 300, "values": ["v=spf1 -all", value]})
    new = Record.new(wanted, "", {"type": "TXT", "ttl": 300, "values": ["v=spf1 mx -all", value]})
    live.add_record(old)
    wanted.add_record(new)
    return Update(old, new)


class Bind(Rfc2136Provider):
    """octodns-bind's RFC 2136 target (it writes TXT through `chunked_value`), never applying."""

    def apply(self, plan: Any) -> int:
        raise AssertionError("the provider was asked to apply")


class Whole:
    """A target that takes TXT values whole (PowerDNS, `local`)."""

    def __init__(self) -> None:
        self.applied: list[Any] = []

    def apply(self, plan: Any) -> int:
        self.applied.append(plan)
        return len(plan.changes)


def _apply(provider: Any, value: str, tmp_path: Path) -> Any:
    change = _txt_update(value)
    plan = RecordPlan(change.existing.zone, change.new.zone, [change], True)
    zp = ZonePlan(ZoneTask("example.org", "dns", []), plan=plan, report=ZoneReport())
    cache = SimpleNamespace(get=lambda name: provider)
    return sync.apply_zone(zp, cache, tmp_path, datetime(2026, 12, 6, tzinfo=UTC))  # type: ignore[arg-type]


def test_an_apply_that_would_hang_is_refused_and_names_the_value(tmp_path: Path) -> None:
    outcome = _apply(Bind("bind", host="127.0.0.1"), HANGS[0], tmp_path)

    assert outcome.status == "error"
    assert "TXT example.org. value 'ends in a backslash" in outcome.message
    assert "(22 characters)" in outcome.message and "not applied" in outcome.message
    assert unsplittable_txt([_txt_update(ENDS[0])]) == ""


def test_a_target_taking_values_whole_applies_them(tmp_path: Path) -> None:
    whole = Whole()

    outcome = _apply(whole, HANGS[0], tmp_path)

    assert outcome.status == "applied" and len(whole.applied) == 1
