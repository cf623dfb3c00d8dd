"""mailzone's processor never plans a change to a DNSSEC record, on either side of the diff."""

from __future__ import annotations

from typing import Any

from octodns.record import Record
from octodns.zone import Zone

from mailzone.octo.processor import MailzoneProcessor

ZONE = "example.org."
DS = {
    "type": "DS",
    "ttl": 300,
    "value": {"key_tag": 60485, "algorithm": 13, "digest_type": 2, "digest": "ab" * 32},
}
MX = {"type": "MX", "ttl": 300, "value": {"preference": 10, "exchange": "mail.example.org."}}


class FakeTarget:
    """Just enough of a provider for Zone.changes()."""

    id = "fake"
    SUPPORTS_GEO = False
    SUPPORTS_DYNAMIC = False
    SUPPORTS_ROOT_NS = True

    def supports(self, record: Any) -> bool:
        return True


def zone(*records: tuple[str, dict[str, Any]]) -> Zone:
    out = Zone(ZONE, [])
    for name, data in records:
        out.add_record(Record.new(out, name, data))
    return out


def test_ds_records_are_in_no_plan_whatever_the_sources_say() -> None:
    # given a live DS for a signed child, another DS a source wants, and keep_unowned off (where
    # octoDNS deletes every live record nobody wants)
    existing = zone(("", MX), ("signed-child", DS))
    desired = zone(("", MX), ("other-child", DS))
    processor = MailzoneProcessor("mailzone", keep_unowned=False)

    # when the processor has seen both zones
    desired, existing = processor.process_source_and_target_zones(desired, existing, None)

    # then neither DS is created nor deleted: DNSSEC records are the signer's
    changes = existing.changes(desired, FakeTarget())
    assert [(c.record.name, c.record._type) for c in changes] == []
    assert {r._type for r in existing.records} == {"MX"}
