"""Ownership rules on octoDNS zones in memory: nothing mailzone did not create is touched."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from octodns.record import Create, Delete, Record, Update
from octodns.zone import Zone

from mailzone.octo import registry
from mailzone.octo.desired import fill_zone
from mailzone.octo.guards import guard_violations
from mailzone.octo.ownership import ForeignCnameError, ZoneReport, reconcile
from mailzone.octo.scope import hold_outside
from mailzone.repo.project import load_domain
from tests.helpers import basic_spec, ed25519_public_b64, write_spec

ZONE = "example.org."


class FakeTarget:
    """Just enough of a provider for Zone.changes()."""

    id = "fake"
    SUPPORTS_GEO = False
    SUPPORTS_DYNAMIC = False
    SUPPORTS_ROOT_NS = True

    def supports(self, record: Any) -> bool:
        return True


def desired_zone(tmp_path: Path, body: str | None = None) -> Zone:
    path = write_spec(tmp_path, "example.org", body or basic_spec())
    domain = load_domain(path, tmp_path)
    zone = Zone(ZONE, [])
    fill_zone(zone, [(domain.name, domain.records)], ttl=300)
    return zone


def live_zone(*records: tuple[str, dict[str, Any]]) -> Zone:
    zone = Zone(ZONE, [])
    for name, data in records:
        zone.add_record(Record.new(zone, name, data))
    return zone


def owned(*entries: str) -> tuple[str, dict[str, Any]]:
    value = registry.encode("example.org", set(entries))
    return ("_mailzone", {"type": "TXT", "ttl": 300, "values": [value]})


def run(desired: Zone, live: Zone, adopt: bool = False) -> tuple[list[Any], ZoneReport]:
    work = desired.copy()
    report = reconcile(work, live, adopt)
    return live.changes(work, FakeTarget()), report


def by_key(changes: list[Any]) -> dict[tuple[str, str], Any]:
    return {(c.record.name, c.record._type): c for c in changes}


def test_new_zone_creates_every_record_and_the_registry(tmp_path: Path) -> None:
    changes, report = run(desired_zone(tmp_path), live_zone())
    keys = by_key(changes)
    assert all(isinstance(c, Create) for c in changes)
    assert set(keys) == {
        ("", "MX"),
        ("", "TXT"),
        ("_dmarc", "TXT"),
        ("mail", "A"),
        ("mail", "AAAA"),
        ("mail", "TXT"),
        ("_mailzone", "TXT"),
    }
    entries = registry.decode(keys[("_mailzone", "TXT")].new.values)["example.org"]
    assert entries == {"MX/@", "SPF/@", "TXT/_dmarc", "A/mail", "AAAA/mail", "SPF/mail"}
    assert not report.adoptions


def test_apex_txt_tokens_are_kept_beside_the_spf_value(tmp_path: Path) -> None:
    live = live_zone(
        ("", {"type": "TXT", "ttl": 3600, "values": ["google-site-verification=abc", "MS=ms123"]})
    )
    changes, report = run(desired_zone(tmp_path), live)
    apex = by_key(changes)[("", "TXT")]
    assert isinstance(apex, Update)
    values = list(apex.new.values)
    assert "google-site-verification=abc" in values and "MS=ms123" in values
    assert [v for v in values if v.startswith("v=spf1")] == [
        "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 ~all"
    ]
    assert apex.new.ttl == 3600  # the shared set keeps its TTL
    assert not report.adoptions  # adding SPF beside foreign values is not adoption


def test_unowned_spf_and_mx_wait_for_adopt(tmp_path: Path) -> None:
    live = live_zone(
        ("", {"type": "TXT", "ttl": 300, "values": ["v=spf1 a mx -all", "MS=ms123"]}),
        (
            "",
            {
                "type": "MX",
                "ttl": 300,
                "values": [{"preference": 5, "exchange": "old.example.org."}],
            },
        ),
    )
    changes, report = run(desired_zone(tmp_path), live)
    keys = by_key(changes)
    assert ("", "TXT") not in keys and ("", "MX") not in keys
    assert {(a.name, a.type) for a in report.pending_adoptions} == {("", "TXT"), ("", "MX")}
    entries = registry.decode(keys[("_mailzone", "TXT")].new.values)["example.org"]
    assert "MX/@" not in entries and "SPF/@" not in entries

    changes, report = run(desired_zone(tmp_path), live, adopt=True)
    keys = by_key(changes)
    assert isinstance(keys[("", "MX")], Update)
    assert sorted(keys[("", "TXT")].new.values) == [
        "MS=ms123",
        "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 ~all",
    ]
    assert report.adoptions and not report.pending_adoptions


def test_foreign_records_in_mail_namespace_survive(tmp_path: Path) -> None:
    live = live_zone(
        (
            "s1._domainkey",
            {"type": "CNAME", "ttl": 300, "value": "s1.domainkey.u1.wl.sendgrid.net."},
        ),
        (
            "google._domainkey",
            {"type": "TXT", "ttl": 300, "value": "v=DKIM1\\; k=rsa\\; p=MIIBfake"},
        ),
        ("www", {"type": "A", "ttl": 300, "value": "192.0.2.80"}),
    )
    changes, _ = run(desired_zone(tmp_path), live)
    assert not [c for c in changes if isinstance(c, Delete)]
    assert not {k for k in by_key(changes) if k[0] in ("s1._domainkey", "google._domainkey", "www")}


def test_records_mailzone_created_and_no_longer_wants_are_deleted(tmp_path: Path) -> None:
    live = live_zone(
        owned("A/oldmail", "SPF/oldmail", "MX/@"),
        ("oldmail", {"type": "A", "ttl": 300, "value": "192.0.2.9"}),
        (
            "oldmail",
            {"type": "TXT", "ttl": 300, "values": ["v=spf1 ip4:192.0.2.9 -all", "keep-me=1"]},
        ),
        ("www", {"type": "A", "ttl": 300, "value": "192.0.2.80"}),
    )
    changes, _ = run(desired_zone(tmp_path), live)
    keys = by_key(changes)
    assert isinstance(keys[("oldmail", "A")], Delete)
    assert list(keys[("oldmail", "TXT")].new.values) == ["keep-me=1"]
    assert ("www", "A") not in keys


def test_foreign_cname_at_a_wanted_name_is_an_error(tmp_path: Path) -> None:
    live = live_zone(("mail", {"type": "CNAME", "ttl": 300, "value": "mx.example.net."}))
    with pytest.raises(ForeignCnameError, match=r"mail\.example\.org\. is a CNAME"):
        run(desired_zone(tmp_path), live)


def test_registry_values_of_other_domains_are_kept(tmp_path: Path) -> None:
    other = registry.encode("lists.example.org", {"MX/lists"})
    live = live_zone(
        ("_mailzone", {"type": "TXT", "ttl": 300, "values": [other]}),
        (
            "lists",
            {
                "type": "MX",
                "ttl": 300,
                "value": {"preference": 10, "exchange": "mail.example.org."},
            },
        ),
    )
    changes, _ = run(desired_zone(tmp_path), live)
    keys = by_key(changes)
    assert ("lists", "MX") not in keys
    reg = registry.decode(keys[("_mailzone", "TXT")].new.values)
    assert set(reg) == {"example.org", "lists.example.org"}


def test_two_live_spf_values_are_reported_and_replaced(tmp_path: Path) -> None:
    live = live_zone(
        owned("SPF/@"),
        ("", {"type": "TXT", "ttl": 300, "values": ["v=spf1 -all", "v=spf1 mx -all"]}),
    )
    changes, report = run(desired_zone(tmp_path), live)
    assert list(by_key(changes)[("", "TXT")].new.values) == [
        "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 ~all"
    ]
    assert any("2 SPF values" in w for w in report.warnings)


def test_second_run_after_apply_has_no_changes(tmp_path: Path) -> None:
    desired = desired_zone(tmp_path)
    changes, _ = run(desired, live_zone())
    live = Zone(ZONE, [])
    for change in changes:
        live.add_record(change.new.copy(zone=live))
    again, _ = run(desired, live)
    assert again == []


def test_guards_flag_mail_breaking_deletions(tmp_path: Path) -> None:
    live = live_zone(
        owned("MX/@", "SPF/@", "TXT/_dmarc", "TXT/s1._domainkey"),
        (
            "",
            {
                "type": "MX",
                "ttl": 300,
                "value": {"preference": 10, "exchange": "mail.example.org."},
            },
        ),
        ("", {"type": "TXT", "ttl": 300, "values": ["v=spf1 -all", "MS=1"]}),
        ("_dmarc", {"type": "TXT", "ttl": 300, "value": "v=DMARC1\\; p=none"}),
        ("s1._domainkey", {"type": "TXT", "ttl": 300, "value": "v=DKIM1\\; k=rsa\\; p=AAAA"}),
    )
    changes = [
        Delete(live.get_type("", "MX")),
        Update(live.get_type("", "TXT"), live.get_type("", "TXT").copy(values=["MS=1"])),
        Delete(live.get_type("_dmarc", "TXT")),
        Delete(live.get_type("s1._domainkey", "TXT")),
    ]
    reg = registry.decode(live.get_type("_mailzone", "TXT").values)
    hits = guard_violations(changes, reg, frozenset({"s1._domainkey"}))
    lines = [str(h) for h in hits]
    assert [h.kind for h in hits] == ["mx", "spf", "dmarc", "dkim-delete"]
    assert "MX" in lines[0] and "SPF" in lines[1] and "DMARC" in lines[2] and "DKIM" in lines[3]
    assert guard_violations(changes, reg, frozenset()) == hits[:3]


def test_guard_refuses_in_place_key_replacement() -> None:
    live = live_zone(
        ("s1._domainkey", {"type": "TXT", "ttl": 300, "value": "v=DKIM1\\; k=rsa\\; p=AAAA"})
    )
    old = live.get_type("s1._domainkey", "TXT")
    new = old.copy(value="v=DKIM1\\; k=rsa\\; p=BBBB")
    assert "in place" in str(guard_violations([Update(old, new)], {})[0])
    revoke = old.copy(value="v=DKIM1\\; k=rsa\\; p=")
    assert guard_violations([Update(old, revoke)], {}) == []


def test_a_scoped_plan_changes_only_its_names_and_their_registry_entries(
    tmp_path: Path,
) -> None:
    # given a zone as applied, and a spec that renames the host and adds a selector
    live = desired_zone(tmp_path / "applied")
    key = ed25519_public_b64()
    spec = basic_spec().replace("name: mail", "name: mx")
    spec += f'dkim:\n  import:\n    - {{selector: "s2", public_key: "{key}"}}\n'
    desired = desired_zone(tmp_path / "edited", spec).copy()

    # when the plan may change only the selector (as rotate --apply plans it)
    report = reconcile(desired, live, adopt=False)
    hold_outside(desired, live, frozenset({"s2._domainkey"}), FakeTarget(), report)
    changes = by_key(live.changes(desired, FakeTarget()))

    # then it creates the selector and adds only its entry to the registry
    assert set(changes) == {("s2._domainkey", "TXT"), ("_mailzone", "TXT")}
    assert isinstance(changes[("s2._domainkey", "TXT")], Create)
    entries = registry.decode(changes[("_mailzone", "TXT")].new.values)["example.org"]
    assert entries == {"MX/@", "SPF/@", "TXT/_dmarc", "A/mail", "AAAA/mail", "SPF/mail"} | {
        "TXT/s2._domainkey"
    }
    # and it lists every change it held back for apply
    assert set(report.held) == {
        "create A mx",
        "create AAAA mx",
        "create TXT mx",
        "delete A mail",
        "delete AAAA mail",
        "delete TXT mail",
        "update MX @",
    }


def test_forget_deletes_only_the_claims_mailzone_could_have_made() -> None:
    # given a live registry claiming MX/@ (mailzone's) and A/www (a hand edit) for example.org
    live = live_zone(
        (
            "",
            {
                "type": "MX",
                "ttl": 300,
                "value": {"preference": 10, "exchange": "mail.example.org."},
            },
        ),
        ("www", {"type": "A", "ttl": 300, "value": "192.0.2.80"}),
        owned("MX/@", "A/www"),
    )
    desired = Zone(ZONE, [])
    fill_zone(desired, [("example.org", [])])  # forgotten: no records, an empty registry entry

    # when example.org is forgotten and mailzone could only have made its MX
    work = desired.copy()
    report = reconcile(work, live, False, deletable={"example.org": frozenset({"MX/@"})})
    keys = by_key(live.changes(work, FakeTarget()))

    # then the MX and the registry go, www stays, and the refused claim is reported
    assert set(keys) == {("", "MX"), ("_mailzone", "TXT")}
    assert all(isinstance(c, Delete) for c in keys.values())
    assert report.warnings == [
        "example.org: the _mailzone registry claims A www.example.org, which mailzone never "
        "generated for it; left in place"
    ]


def noted(policy_note: str | None, *entries: str) -> tuple[str, dict[str, Any]]:
    notes = {"dmarc": policy_note} if policy_note else None
    value = registry.encode("example.org", set(entries), notes)
    return ("_mailzone", {"type": "TXT", "ttl": 300, "values": [value]})


def test_registry_notes_round_trip_and_old_values_have_none() -> None:
    value = registry.encode("example.org", {"MX/@"}, {"dmarc": "none@2026-01-02"})
    assert value == "mailzone:1 example.org MX/@ dmarc=none@2026-01-02"
    assert registry.decode([value]) == {"example.org": frozenset({"MX/@"})}
    assert registry.decode_notes([value]) == {"example.org": {"dmarc": "none@2026-01-02"}}
    assert registry.decode_notes(["mailzone:1 example.org MX/@"]) == {}
    assert registry.parse_dmarc_note("none@2026-01-02") == ("none", date(2026, 1, 2))
    assert registry.parse_dmarc_note("none@yesterday") is None


def _desired_with_note(tmp_path: Path, note: str) -> Zone:
    zone = desired_zone(tmp_path)
    record = zone.get_type("_mailzone", "TXT")
    entries = registry.decode(record.values)["example.org"]
    value = registry.encode("example.org", entries, {"dmarc": note})
    zone.add_record(record.copy(values=[value]), replace=True)
    return zone


def _live_from(desired: Zone, note: str) -> Zone:
    """The zone as an apply of `desired` left it, its registry noting `note`."""
    live = Zone(ZONE, [])
    for record in desired.records:
        if record.name != "_mailzone":
            live.add_record(record.copy(zone=live))
    entries = registry.decode(desired.get_type("_mailzone", "TXT").values)["example.org"]
    live.add_record(Record.new(live, *noted(note, *entries)))
    return live


def test_the_dmarc_note_keeps_its_date_while_the_policy_stays(tmp_path: Path) -> None:
    desired = _desired_with_note(tmp_path, "none")
    changes, _ = run(desired, _live_from(desired, "none@2020-01-01"))
    assert changes == []


def test_a_new_policy_is_noted_with_today(tmp_path: Path) -> None:
    desired = _desired_with_note(tmp_path, "reject")
    changes, _ = run(desired, _live_from(desired, "none@2020-01-01"))
    (change,) = changes
    notes = registry.decode_notes(change.new.values)
    assert notes == {"example.org": {"dmarc": f"reject@{datetime.now(UTC).date().isoformat()}"}}


def test_an_old_state_date_seeds_a_registry_without_notes(tmp_path: Path) -> None:
    desired = _desired_with_note(tmp_path, "none@2021-05-06")
    live = _live_from(desired, "none@1999-01-01")
    entries = registry.decode(live.get_type("_mailzone", "TXT").values)["example.org"]
    live.add_record(Record.new(live, *owned(*entries)), replace=True)  # no notes yet
    (change,) = run(desired, live)[0]
    assert registry.decode_notes(change.new.values)["example.org"] == {"dmarc": "none@2021-05-06"}


def test_a_scoped_plan_keeps_the_live_notes(tmp_path: Path) -> None:
    desired = _desired_with_note(tmp_path, "reject")
    live = _live_from(desired, "none@2020-01-01")
    work = desired.copy()
    report = reconcile(work, live, False)
    hold_outside(work, live, frozenset({"nothing"}), FakeTarget(), report)
    assert live.changes(work, FakeTarget()) == []


def test_a_claim_of_a_type_mailzone_never_generates_is_not_trusted(tmp_path: Path) -> None:
    """A hand-edited registry must not make apply delete a delegation or a CNAME."""
    live = live_zone(
        owned("NS/sub", "CNAME/www"),
        ("sub", {"type": "NS", "ttl": 300, "values": ["ns1.example.net."]}),
        ("www", {"type": "CNAME", "ttl": 300, "value": "example.net."}),
    )
    changes, report = run(desired_zone(tmp_path), live)
    assert not [c for c in changes if isinstance(c, Delete)]
    assert any("claims NS sub.example.org, a type mailzone never" in w for w in report.warnings)
    assert any("claims CNAME www.example.org" in w for w in report.warnings)
