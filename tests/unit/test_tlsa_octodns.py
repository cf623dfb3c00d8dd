"""octoDNS's own TLSA validators, as an outside oracle, find nothing in the TLSA mailzone makes."""

from __future__ import annotations

from pathlib import Path

from octodns.record import Record

from mailzone.octo.desired import octodns_data
from mailzone.records.domain import expand_domain
from mailzone.repo.project import load_domain
from mailzone.spec.state import TlsaKey
from tests.helpers import DANE_SPEC, basic_spec, write_spec


def test_octodns_validators_find_nothing_in_the_tlsa(tmp_path: Path) -> None:
    # given a TLSA set with a current and a next key
    domain = load_domain(write_spec(tmp_path, "example.org", basic_spec(extra=DANE_SPEC)), tmp_path)
    keys = [
        TlsaKey.model_validate(
            {"host": "mail.example.org", "role": r, "spki_sha256": h, "added": "2026-12-01"}
        )
        for r, h in (("current", "ab" * 32), ("next", "cd" * 32))
    ]
    state = domain.state.model_copy(update={"tlsa": keys})
    (record,) = [r for r in expand_domain(domain.spec, state, {}) if r.type == "TLSA"]
    data = octodns_data(record)
    tlsa = Record.registered_types()["TLSA"]
    available = Record.available_validators()

    # when every record and value validator octoDNS has for TLSA runs (legacy, strict, best
    # practice: whatever set enables it)
    reasons = [
        reason
        for key in ("*", "TLSA")
        for validator in available["record"].get(key, [])
        for reason in validator.validate(tlsa, record.name, f"{record.name}.example.org.", data)
    ] + [
        reason
        for key in ("*", "TLSA")
        for validator in available["value"].get(key, [])
        for reason in validator.validate(tlsa._value_type, data["values"], "TLSA")
    ]

    # then none has anything to say
    assert {v.id for v in available["value"]["TLSA"]} >= {
        "tlsa-value-rfc",
        "tlsa-value-best-practice",
    }
    assert reasons == []
