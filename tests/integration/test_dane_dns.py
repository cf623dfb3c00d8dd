"""DANE's TLSA through every path on real servers: applied into a BIND zone that named signs
itself (and nothing of the signing touched), round trips on BIND and PowerDNS, the `_mailzone`
registry claim, and `forget --delete-records` deleting only the TLSA mailzone made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from octodns.record import Record
from octodns.zone import Zone

from mailzone.octo.processor import DNSSEC_TYPES
from tests.cli import mailzone, write_provider
from tests.helpers import DANE_SPEC, basic_spec, commit_all, write_spec, write_tlsa_keys
from tests.servers import DnsServer, denial_types, make_provider, query, signed_rrsets, txt_values

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

TLSA_NAME = "_25._tcp.mail.example.org."
CURRENT, NEXT = "ab" * 32, "cd" * 32


def published(root: Path, server: DnsServer, **keys: str) -> None:
    """example.org with DANE on provider `dns`, its TLSA keys in the state, applied."""
    write_provider(root, "dns", server.provider_config())
    write_spec(root, "example.org", basic_spec(provider="dns", extra=DANE_SPEC))
    write_tlsa_keys(root, **keys)
    applied = mailzone(root, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err


def plan_text(root: Path) -> str:
    run = mailzone(root, "plan", "--format", "json", "--exit-code")
    assert run.code in (0, 2), run.err
    return run.out


def test_apply_into_a_signed_zone_publishes_signed_tlsa_and_leaves_the_signing_alone(
    tmp_path: Path, signed_dns_server: DnsServer
) -> None:
    # given example.org signed by the server itself, and what the signer publishes
    server = signed_dns_server
    dnskey = signed_rrsets(server, "example.org.", "DNSKEY")
    assert dnskey[0] and dnskey[1]

    # when a spec with dnssec and dane and a current key is planned, then applied
    write_provider(tmp_path, "dns", server.provider_config())
    write_spec(tmp_path, "example.org", basic_spec(provider="dns", extra=DANE_SPEC))
    write_tlsa_keys(tmp_path, current=CURRENT)
    planned = plan_text(tmp_path)
    applied = mailzone(tmp_path, "apply", "--yes")

    # then the TLSA is served and signed
    assert applied.code == 0, applied.out + applied.err
    tlsa, signatures = signed_rrsets(server, TLSA_NAME, "TLSA")
    assert tlsa == [f"3 1 1 {CURRENT}"]
    assert signatures, "the TLSA answer carries no RRSIG"
    # and the zone's keys are as before, its denial-of-existence chain still served
    assert signed_rrsets(server, "example.org.", "DNSKEY") == dnskey
    assert {"NSEC", "NSEC3"} & set(denial_types(server, "nowhere.example.org.")), "no denial"
    assert "RRSIG" in denial_types(server, "nowhere.example.org.")
    # and the registry claims the TLSA
    claims = " ".join(txt_values(server, "_mailzone.example.org."))
    assert "TLSA/_25._tcp.mail" in claims
    # and a second plan is a no-op; no plan names a DNSSEC type
    again = mailzone(tmp_path, "plan", "--format", "json", "--exit-code")
    assert again.code == 0, again.out + again.err
    for text in (planned, again.out):
        types = {c["type"] for z in json.loads(text)["zones"] for c in z["changes"]}
        assert not types & DNSSEC_TYPES, types
    assert {c["type"] for z in json.loads(planned)["zones"] for c in z["changes"]} >= {"TLSA"}


def _hand_made_tlsa(server: DnsServer) -> None:
    """TLSA someone else made beside mailzone's (octoDNS straight to the server)."""
    provider = make_provider(server, "someone-else")
    zone = Zone("example.org.", [])
    provider.populate(zone)
    for name in ("_25._tcp.other", "_443._tcp.mail"):
        data = {
            "type": "TLSA",
            "ttl": 300,
            "value": dict(zip(FIELDS, (3, 1, 1, "ef" * 32), strict=True)),
        }
        zone.add_record(Record.new(zone, name, data))
    provider.apply(provider.plan(zone))


FIELDS = ("certificate_usage", "selector", "matching_type", "certificate_association_data")


def test_tlsa_round_trips_and_forget_deletes_only_its_own(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    # given TLSA someone else made, and example.org published with current and next keys
    _hand_made_tlsa(dns_server)
    published(tmp_path, dns_server, current=CURRENT, next=NEXT)

    # then both keys are served as 3 1 1, claimed in the registry, and a second plan is empty
    assert query(dns_server, TLSA_NAME, "TLSA") == [f"3 1 1 {CURRENT}", f"3 1 1 {NEXT}"]
    assert "TLSA/_25._tcp.mail" in " ".join(txt_values(dns_server, "_mailzone.example.org."))
    again = mailzone(tmp_path, "plan", "--exit-code")
    assert again.code == 0, again.out + again.err

    # when the next key is dropped from the state, apply updates the set
    write_tlsa_keys(tmp_path, current=CURRENT)
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    assert query(dns_server, TLSA_NAME, "TLSA") == [f"3 1 1 {CURRENT}"]

    # when the spec is removed and forgotten with its records
    commit_all(tmp_path)
    (tmp_path / "zones" / "example.org.yaml").unlink()
    forgot = mailzone(tmp_path, "forget", "example.org", "--delete-records", "--yes")

    # then mailzone's TLSA is gone and the hand-made ones stay
    assert forgot.code == 0, forgot.out + forgot.err
    assert query(dns_server, TLSA_NAME, "TLSA") == []
    for name in ("_25._tcp.other.example.org.", "_443._tcp.mail.example.org."):
        assert query(dns_server, name, "TLSA") == [f"3 1 1 {'ef' * 32}"]
