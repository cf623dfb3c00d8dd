"""The `local` provider: zone files read as a target, changed per RRset, written atomically."""

from __future__ import annotations

import inspect
import os
from datetime import date
from pathlib import Path
from typing import Any

import dns.rdatatype
import dns.zone
import pytest
from octodns.record import Create, Record, Update
from octodns.zone import Zone

from mailzone.octo.local import (
    PLACEHOLDER_NS,
    LocalZoneFileError,
    LocalZoneFileProvider,
    LocalZoneOptions,
    next_serial,
)
from mailzone.util import files

ZONE = "example.org."
DKIM_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x" * 348  # 392 chars, as at 2048 bits
DKIM_RAW = f"v=DKIM1; k=rsa; p={DKIM_KEY}"  # 410 octets: needs two character-strings
DMARC_RAW = "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"
QUOTED_RAW = 'say "hi"; back\\slash'


def internal(raw: str) -> str:
    """octoDNS's internal TXT form escapes `;`."""
    return raw.replace(";", "\\;")


def desired_zone(dmarc: str = DMARC_RAW, extra: dict[str, dict[str, Any]] | None = None) -> Zone:
    zone = Zone(ZONE, [])
    records: dict[str, dict[str, Any]] = {
        "": {
            "type": "MX",
            "ttl": 300,
            "values": [{"preference": 10, "exchange": "mx1.example.org."}],
        },
        "_dmarc": {"type": "TXT", "ttl": 300, "value": internal(dmarc)},
        "sel1._domainkey": {"type": "TXT", "ttl": 300, "value": internal(DKIM_RAW)},
        "quoted": {"type": "TXT", "ttl": 300, "value": internal(QUOTED_RAW)},
        "mx1": {"type": "A", "ttl": 300, "value": "192.0.2.25"},
        **(extra or {}),
    }
    for name, data in records.items():
        zone.add_record(Record.new(zone, name, data))
    return zone


def apex_txt_zone() -> Zone:
    zone = desired_zone()
    zone.add_record(Record.new(zone, "", {"type": "TXT", "ttl": 300, "value": "v=spf1 mx -all"}))
    return zone


@pytest.fixture
def provider(tmp_path: Path) -> LocalZoneFileProvider:
    return LocalZoneFileProvider("local", directory=str(tmp_path / "zones"))


def zone_file(provider: LocalZoneFileProvider) -> Path:
    return provider.zone_path(ZONE)


def read_back(provider: LocalZoneFileProvider) -> dns.zone.Zone:
    """The file as an independent reader (dnspython, strict origin checks) sees it."""
    return dns.zone.from_file(str(zone_file(provider)), origin=ZONE, relativize=True)


def txt_value(parsed: dns.zone.Zone, name: str) -> tuple[bytes, list[int]]:
    rdataset = parsed.get_rdataset(name, "TXT")
    assert rdataset is not None and len(rdataset) == 1
    strings = next(iter(rdataset)).strings
    return b"".join(strings), [len(s) for s in strings]


def serial(provider: LocalZoneFileProvider) -> int:
    soa = read_back(provider).get_rdataset("@", "SOA")
    assert soa is not None
    return int(next(iter(soa)).serial)


def sync(provider: LocalZoneFileProvider, desired: Zone) -> Any:
    plan = provider.plan(desired)
    assert plan is not None
    plan.raise_if_unsafe()
    provider.apply(plan)
    return plan


def existing(provider: LocalZoneFileProvider) -> tuple[Zone, bool]:
    zone = Zone(ZONE, [])
    exists = provider.populate(zone, target=True, lenient=True)
    return zone, exists


def test_apply_to_a_new_zone_writes_records_that_dnspython_reads_back_exactly(
    provider: LocalZoneFileProvider,
) -> None:
    # given no file yet
    assert not zone_file(provider).exists()
    desired = desired_zone()

    # when
    plan = sync(provider, desired)

    # then: the plan created everything, and the file holds it with SOA and NS
    assert plan.exists is False
    assert all(isinstance(c, Create) for c in plan.changes)
    parsed = read_back(provider)
    for record in desired.records:
        rrset = record.to_rrset()
        name = record.name or "@"
        rdataset = parsed.get_rdataset(name, rrset._type)
        assert rdataset is not None, record.fqdn
        assert rdataset.ttl == rrset.ttl
        texts = {r.to_text(origin=parsed.origin, relativize=False) for r in rdataset}
        assert texts == set(rrset.rdatas)
    dkim, chunks = txt_value(parsed, "sel1._domainkey")
    assert dkim == DKIM_RAW.encode() and len(dkim) == 410
    assert chunks == [255, 155]
    assert txt_value(parsed, "_dmarc")[0] == DMARC_RAW.encode()
    assert txt_value(parsed, "quoted")[0] == QUOTED_RAW.encode()
    soa = parsed.get_rdataset("@", "SOA")
    ns = parsed.get_rdataset("@", "NS")
    assert soa is not None and ns is not None
    soa_rdata = next(iter(soa))
    assert soa_rdata.mname.to_text() == PLACEHOLDER_NS  # out of the zone: no glue needed
    assert soa_rdata.rname.derelativize(parsed.origin).to_text() == "hostmaster.example.org."
    assert [r.target.to_text() for r in ns] == [PLACEHOLDER_NS]
    assert oct(os.stat(zone_file(provider)).st_mode & 0o777) == "0o644"


def test_populate_reads_back_the_internal_txt_form(provider: LocalZoneFileProvider) -> None:
    # given
    sync(provider, desired_zone())

    # when
    zone, exists = existing(provider)

    # then: `;` escaped as octoDNS expects, chunks joined, SOA and apex NS not exposed
    assert exists is True
    by_key = {(r.name, r._type): r for r in zone.records}
    assert by_key[("sel1._domainkey", "TXT")].values == [internal(DKIM_RAW)]
    assert by_key[("quoted", "TXT")].values == [internal(QUOTED_RAW)]
    assert ("", "NS") not in by_key and ("", "SOA") not in by_key


def test_second_plan_with_the_same_desired_zone_is_empty(provider: LocalZoneFileProvider) -> None:
    # given
    sync(provider, apex_txt_zone())

    # when
    plan = provider.plan(apex_txt_zone())

    # then
    assert plan is None


def test_populate_as_target_reports_a_record_added_by_hand(provider: LocalZoneFileProvider) -> None:
    # given a record and a foreign apex TXT value added to the file by hand
    sync(provider, apex_txt_zone())
    with zone_file(provider).open("a") as fh:
        fh.write("www 600 IN A 192.0.2.80 ; added by hand\n")
        fh.write('@ 300 IN TXT "google-site-verification=abc123"\n')

    # when
    zone, _ = existing(provider)

    # then
    by_key = {(r.name, r._type): r for r in zone.records}
    assert by_key[("www", "A")].values == ["192.0.2.80"]
    assert by_key[("www", "A")].ttl == 600
    assert sorted(by_key[("", "TXT")].values) == [
        "google-site-verification=abc123",
        "v=spf1 mx -all",
    ]


def test_apply_creating_one_record_leaves_hand_added_records_untouched(
    provider: LocalZoneFileProvider,
) -> None:
    # given a file with hand-added records, one of a type octoDNS cannot express, and a changed NS
    sync(provider, apex_txt_zone())
    with zone_file(provider).open("a") as fh:
        fh.write("www 600 IN A 192.0.2.80 ; added by hand\n")
        fh.write('@ 300 IN TXT "google-site-verification=abc123"\n')
        fh.write('www 600 IN HINFO "PC" "Linux"\n')
        fh.write("@ 3600 IN NS ns2.example.net.\n")
    current, _ = existing(provider)
    desired = current.copy()
    desired.add_record(
        Record.new(desired, "mail", {"type": "A", "ttl": 300, "value": "192.0.2.26"})
    )

    # when the plan only creates mail A
    plan = sync(provider, desired)

    # then
    assert [(type(c), c.record.name) for c in plan.changes] == [(Create, "mail")]
    parsed = read_back(provider)
    www = parsed.get_rdataset("www", "A")
    assert www is not None and www.ttl == 600
    assert [r.to_text() for r in www] == ["192.0.2.80"]
    assert parsed.get_rdataset("www", "HINFO") is not None
    apex_txt = parsed.get_rdataset("@", "TXT")
    assert apex_txt is not None
    assert {b"".join(r.strings) for r in apex_txt} == {
        b"google-site-verification=abc123",
        b"v=spf1 mx -all",
    }
    ns = parsed.get_rdataset("@", "NS")
    assert ns is not None
    assert sorted(r.target.to_text() for r in ns) == [PLACEHOLDER_NS, "ns2.example.net."]
    assert "; added by hand" in zone_file(provider).read_text()
    assert provider.plan(desired) is None


def test_soa_serial_increases_on_every_apply(provider: LocalZoneFileProvider) -> None:
    # given
    sync(provider, desired_zone())
    first = serial(provider)

    # when
    sync(provider, desired_zone(dmarc="v=DMARC1; p=quarantine"))
    second = serial(provider)
    sync(provider, desired_zone(dmarc="v=DMARC1; p=none"))
    third = serial(provider)

    # then
    assert first < second < third
    assert len(str(first)) == 10 and first % 100 == 0  # YYYYMMDDnn, first write of the day


@pytest.mark.parametrize(
    ("old", "today", "expected"),
    [
        (0, date(2026, 11, 24), 2026112400),
        (1764000000, date(2026, 11, 24), 2026112400),  # an octodns-bind epoch serial
        (2026112400, date(2026, 11, 24), 2026112401),
        (2026112499, date(2026, 11, 24), 2026112500),  # the 101st write of a day runs on
        (2026112507, date(2026, 11, 24), 2026112508),  # never goes back
        (2026112410, date(2026, 11, 25), 2026112500),
        (2**32 - 1, date(2026, 11, 24), 0),  # RFC 1982 wrap
    ],
)
def test_next_serial_is_dated_and_always_increases(old: int, today: date, expected: int) -> None:
    assert next_serial(old, today) == expected


def test_failed_write_leaves_the_old_file_and_no_temp_file(
    provider: LocalZoneFileProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    sync(provider, desired_zone())
    before = zone_file(provider).read_bytes()

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", refuse)

    # when
    with pytest.raises(LocalZoneFileError) as raised:
        sync(provider, desired_zone(dmarc="v=DMARC1; p=none"))

    # then
    assert zone_file(provider).read_bytes() == before
    assert sorted(p.name for p in zone_file(provider).parent.iterdir()) == ["example.org.zone"]
    assert "No space left on device" in str(raised.value)


def test_apply_creates_the_missing_directory(tmp_path: Path) -> None:
    # given
    provider = LocalZoneFileProvider("local", directory=str(tmp_path / "build" / "zones"))

    # when
    sync(provider, desired_zone())

    # then
    assert (tmp_path / "build" / "zones" / "example.org.zone").is_file()
    assert list(provider.list_zones()) == [ZONE]


def test_malformed_file_raises_an_error_naming_the_file(provider: LocalZoneFileProvider) -> None:
    # given
    path = zone_file(provider)
    path.parent.mkdir(parents=True)
    path.write_text(
        "@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 300\n"
        "@ 3600 IN NS ns1\n"
        "www 300 IN A 999.0.2.1\n"
    )

    # when
    with pytest.raises(LocalZoneFileError) as raised:
        existing(provider)

    # then
    message = str(raised.value)
    assert str(path.name) in message and "example.org.zone:" in message
    assert "malformed" in message


def test_changed_txt_value_plans_exactly_one_update(provider: LocalZoneFileProvider) -> None:
    # given
    sync(provider, desired_zone())

    # when
    plan = provider.plan(desired_zone(dmarc="v=DMARC1; p=quarantine"))

    # then
    assert plan is not None
    assert len(plan.changes) == 1
    change = plan.changes[0]
    assert isinstance(change, Update)
    assert change.record.name == "_dmarc"
    assert change.new.values == [internal("v=DMARC1; p=quarantine")]


def test_deleted_record_is_removed_from_the_file(provider: LocalZoneFileProvider) -> None:
    # given
    sync(provider, desired_zone())
    desired = desired_zone()
    desired.remove_record(next(r for r in desired.records if r.name == "quoted"))

    # when
    sync(provider, desired)

    # then
    parsed = read_back(provider)
    assert parsed.get_node("quoted") is None
    assert parsed.get_rdataset("@", "SOA") is not None


def test_new_zone_uses_configured_soa_names(tmp_path: Path) -> None:
    # given
    provider = LocalZoneFileProvider(
        "local",
        directory=str(tmp_path),
        hostmaster_email="dns.admin@example.net",
        primary_nameserver="ns.example.net",
        update_pcent_threshold=0.5,
    )

    # when
    sync(provider, desired_zone())

    # then
    parsed = read_back(provider)
    soa = next(iter(parsed.get_rdataset("@", "SOA") or []))
    assert soa.mname.to_text() == "ns.example.net."
    assert soa.rname.to_text() == "dns\\.admin.example.net."
    assert [r.target.to_text() for r in parsed.get_rdataset("@", "NS") or []] == ["ns.example.net."]
    assert provider.update_pcent_threshold == 0.5


def test_populate_without_a_file_reports_a_missing_zone(provider: LocalZoneFileProvider) -> None:
    # when
    zone, exists = existing(provider)

    # then
    assert exists is False
    assert zone.records == set()
    assert list(provider.list_zones()) == []


def test_unsupported_types_are_not_exposed(provider: LocalZoneFileProvider) -> None:
    # given
    sync(provider, desired_zone())
    with zone_file(provider).open("a") as fh:
        fh.write('www 600 IN HINFO "PC" "Linux"\n')
        fh.write("sub 600 IN NS ns.sub.example.net.\n")

    # when
    zone, _ = existing(provider)

    # then: delegations are, the HINFO is not
    types = {(r.name, r._type) for r in zone.records}
    assert ("sub", "NS") in types
    assert not any(t == dns.rdatatype.to_text(dns.rdatatype.HINFO) for _, t in types)


def test_invalid_value_names_the_file_unless_lenient(provider: LocalZoneFileProvider) -> None:
    # given a hand-written TXT that octoDNS's validators reject (non-ASCII)
    sync(provider, desired_zone())
    with zone_file(provider).open("a") as fh:
        fh.write('cafe 300 IN TXT "caf\\195\\169"\n')

    # when read as a source, strictly
    with pytest.raises(LocalZoneFileError) as raised:
        provider.populate(Zone(ZONE, []))

    # then the error names the file; as a target (lenient) the record is still reported
    assert "example.org.zone" in str(raised.value) and "cafe.example.org." in str(raised.value)
    zone, _ = existing(provider)
    assert ("cafe", "TXT") in {(r.name, r._type) for r in zone.records}


def ns_and_soa(provider: LocalZoneFileProvider) -> tuple[list[str], str, str]:
    """The apex NS targets (sorted) and the SOA MNAME and RNAME, all absolute."""
    parsed = read_back(provider)
    origin = parsed.origin
    soa = next(iter(parsed.get_rdataset("@", "SOA") or []))
    targets = sorted(
        r.target.derelativize(origin).to_text() for r in parsed.get_rdataset("@", "NS") or []
    )
    return (
        targets,
        soa.mname.derelativize(origin).to_text(),
        soa.rname.derelativize(origin).to_text(),
    )


def addresses(provider: LocalZoneFileProvider, name: str) -> list[str]:
    parsed = read_back(provider)
    return sorted(
        r.to_text() for rtype in ("A", "AAAA") for r in parsed.get_rdataset(name, rtype) or []
    )


def test_configured_nameservers_and_hostmaster_replace_an_existing_files_own(
    tmp_path: Path,
) -> None:
    # given a file written with the defaults
    sync(LocalZoneFileProvider("local", directory=str(tmp_path)), desired_zone())

    # when the provider file now names the nameservers and the hostmaster
    provider = LocalZoneFileProvider(
        "local",
        directory=str(tmp_path),
        nameservers=["ns2.example.net", "ns1.example.net."],
        hostmaster_email="dns@example.net",
    )
    sync(provider, desired_zone(dmarc="v=DMARC1; p=none"))

    # then the next write sets them; the MNAME is the first one listed
    assert ns_and_soa(provider) == (
        ["ns1.example.net.", "ns2.example.net."],
        "ns2.example.net.",
        "dns.example.net.",
    )


def test_in_zone_nameserver_gets_glue_that_octodns_never_sees(tmp_path: Path) -> None:
    # given an in-zone nameserver with its addresses under glue
    provider = LocalZoneFileProvider(
        "local",
        directory=str(tmp_path),
        nameservers=["ns1.example.org", "ns.example.net"],
        glue={"ns1.example.org": ["192.0.2.53", "2001:db8::53"]},
    )

    # when
    sync(provider, desired_zone())

    # then the glue is in the file, kept by the provider like the SOA: a second plan is empty
    assert addresses(provider, "ns1") == ["192.0.2.53", "2001:db8::53"]
    zone, _ = existing(provider)
    assert "ns1" not in {r.name for r in zone.records}
    assert provider.plan(desired_zone()) is None


def test_in_zone_nameserver_with_an_address_in_the_zone_needs_no_glue(tmp_path: Path) -> None:
    # given the mail host doubles as the nameserver, and the zone has its address
    provider = LocalZoneFileProvider(
        "local", directory=str(tmp_path), nameservers=["mx1.example.org"]
    )

    # when
    sync(provider, desired_zone())

    # then
    assert ns_and_soa(provider)[0] == ["mx1.example.org."]
    assert addresses(provider, "mx1") == ["192.0.2.25"]


def test_in_zone_nameserver_without_an_address_fails_and_leaves_the_file(tmp_path: Path) -> None:
    # given a file, and then an in-zone nameserver that nothing gives an address
    sync(LocalZoneFileProvider("local", directory=str(tmp_path)), desired_zone())
    provider = LocalZoneFileProvider(
        "local", directory=str(tmp_path), nameservers=["ns1.example.org"]
    )
    before = zone_file(provider).read_bytes()

    # when
    with pytest.raises(LocalZoneFileError) as raised:
        sync(provider, desired_zone(dmarc="v=DMARC1; p=none"))

    # then the message says what to add, and the file is as it was
    message = str(raised.value)
    assert "example.org.zone" in message
    assert "ns1.example.org. is inside zone example.org." in message
    assert "glue: {ns1.example.org.: [ADDRESS]}" in message
    assert zone_file(provider).read_bytes() == before


def test_a_file_with_the_old_unloadable_default_gets_the_new_one_on_its_next_write(
    provider: LocalZoneFileProvider,
) -> None:
    # given a file as mailzone wrote it before: in-zone ns1 without an address
    path = zone_file(provider)
    path.parent.mkdir(parents=True)
    path.write_text(
        "@ 3600 IN SOA ns1 hostmaster 2026010100 3600 600 604800 300\n@ 3600 IN NS ns1\n"
    )

    # when
    sync(provider, desired_zone())

    # then
    assert ns_and_soa(provider) == ([PLACEHOLDER_NS], PLACEHOLDER_NS, "hostmaster.example.org.")


def test_hand_set_nameservers_of_an_existing_file_stay_when_none_are_configured(
    provider: LocalZoneFileProvider,
) -> None:
    # given a file whose NS and SOA were set by hand
    path = zone_file(provider)
    path.parent.mkdir(parents=True)
    path.write_text(
        "@ 3600 IN SOA ns.example.net. dns.example.net. 1 3600 600 604800 300\n"
        "@ 3600 IN NS ns.example.net.\n"
    )

    # when
    sync(provider, desired_zone())

    # then
    assert ns_and_soa(provider) == (["ns.example.net."], "ns.example.net.", "dns.example.net.")


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"glue": {"ns9.example.org": ["192.0.2.9"]}}, "glue: ns9.example.org. is not one of"),
        (
            {"nameservers": ["ns1.example.org"], "glue": {"ns1.example.org": ["192.0.2.999"]}},
            "glue",
        ),
        ({"nameservers": ["ns1.example.org"], "glue": {"ns1.example.org": []}}, "no address"),
    ],
)
def test_wrong_glue_is_refused_when_the_provider_is_built(
    tmp_path: Path, options: dict[str, Any], said: str
) -> None:
    with pytest.raises(LocalZoneFileError) as raised:
        LocalZoneFileProvider("local", directory=str(tmp_path), **options)
    assert said in str(raised.value)


def test_every_option_is_a_documented_field_and_a_constructor_argument() -> None:
    params = inspect.signature(LocalZoneFileProvider.__init__).parameters
    taken = [p for p in params if p not in ("self", "id", "args", "kwargs")]
    assert taken == list(LocalZoneOptions.model_fields)
    assert all(f.description for f in LocalZoneOptions.model_fields.values())
