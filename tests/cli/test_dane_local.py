"""DANE's TLSA through the `local` target and `records`: written, read back, kept idempotent,
and the DNSSEC records and hand-made TLSA of a zone file left as they are."""

from __future__ import annotations

import json
from pathlib import Path

import dns.zone

from tests.cli import changes, mailzone
from tests.helpers import DANE_SPEC, basic_spec, write_spec, write_tlsa_keys

CURRENT = "ab" * 32
TLSA = f"3 1 1 {CURRENT}"
# what a signer and someone else left in the file: mailzone reads none of it as its own
HAND_MADE = (
    "@ 300 IN DNSKEY 257 3 13 dwDq3+kvM5UYfdM3qzXdLSSwciVdG1WQmKew2vQ2kMemllGIzUs2YbFuurA3VfWrTsY37OacDi73blL0bL6lpQ==\n"
    "child 300 IN NS ns1.test.invalid.\n"
    f"child 300 IN DS 60485 13 2 {'ef' * 32}\n"
    f"_443._tcp.mail 300 IN TLSA 3 1 1 {'ef' * 32}\n"
)


def served(root: Path) -> dict[tuple[str, str], list[str]]:
    path = root / "build" / "zones" / "example.org.zone"
    zone = dns.zone.from_file(str(path), "example.org.", relativize=True)
    return {
        (name.to_text(), rdataset.rdtype.name): sorted(r.to_text() for r in rdataset)
        for name, rdataset in zone.iterate_rdatasets()
    }


def test_records_and_the_local_target_carry_tlsa(tmp_path: Path) -> None:
    # given a spec with DANE and a current key in the state
    write_spec(tmp_path, "example.org", basic_spec(extra=DANE_SPEC))
    write_tlsa_keys(tmp_path, current=CURRENT)

    # then records shows the TLSA, in both formats
    lines = mailzone(tmp_path, "records", "example.org").out
    assert f"_25._tcp.mail 300 IN TLSA {TLSA}\n" in lines
    listed = json.loads(mailzone(tmp_path, "records", "example.org", "--format", "json").out)
    assert [r["rdata"] for r in listed if r["type"] == "TLSA"] == [[TLSA]]

    # and apply writes it to the zone file, from where a second plan reads it back unchanged
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    assert served(tmp_path)[("_25._tcp.mail", "TLSA")] == [TLSA]
    assert mailzone(tmp_path, "plan", "--exit-code").code == 0


def test_dnssec_records_and_foreign_tlsa_in_the_file_are_never_planned(tmp_path: Path) -> None:
    # given an applied zone file to which a signer and someone else added records
    write_spec(tmp_path, "example.org", basic_spec(extra=DANE_SPEC))
    write_tlsa_keys(tmp_path, current=CURRENT)
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    path = tmp_path / "build" / "zones" / "example.org.zone"
    with path.open("a") as fh:
        fh.write(HAND_MADE)
    before = served(tmp_path)

    # when the TLSA set changes (a next key staged)
    write_tlsa_keys(tmp_path, current=CURRENT, next="cd" * 32)
    planned = changes(tmp_path)
    assert mailzone(tmp_path, "apply", "--yes").code == 0

    # then the plan is that one update, and every hand-made record is still in the file
    assert planned == [("update", "_25._tcp.mail.example.org.", "TLSA")]
    after = served(tmp_path)
    for key in (("@", "DNSKEY"), ("child", "DS"), ("child", "NS"), ("_443._tcp.mail", "TLSA")):
        assert after[key] == before[key], key
    assert after[("_25._tcp.mail", "TLSA")] == sorted([TLSA, f"3 1 1 {'cd' * 32}"])


def test_dropping_dane_deletes_its_tlsa_without_force(tmp_path: Path) -> None:
    # given an applied zone with TLSA
    spec = write_spec(tmp_path, "example.org", basic_spec(extra=DANE_SPEC))
    write_tlsa_keys(tmp_path, current=CURRENT)
    assert mailzone(tmp_path, "apply", "--yes").code == 0

    # when the spec drops dane (no mail guard: without TLSA, DANE senders use plain STARTTLS)
    spec.write_text(basic_spec(extra="dnssec: true\n"))
    planned = changes(tmp_path)
    applied = mailzone(tmp_path, "apply", "--yes")

    # then the TLSA and its registry claim are gone, the rest stays
    assert ("delete", "_25._tcp.mail.example.org.", "TLSA") in planned
    assert applied.code == 0, applied.out + applied.err
    after = served(tmp_path)
    assert ("_25._tcp.mail", "TLSA") not in after
    assert "TLSA/" not in " ".join(after[("_mailzone", "TXT")])
    assert after[("@", "MX")] == ["10 mail"]
