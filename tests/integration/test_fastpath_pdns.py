"""The no-op pre-filter on a real PowerDNS: 200 zones, some drifted through the API (the drifts
of test_fastpath_bind.py, and what only PowerDNS has: disabled records, comments, LUA), some
with DANE, planned with the pre-filter and without it (MAILZONE_NO_FASTPATH=1): same output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.prefilter import apply_then_drift, plans_agree
from tests.servers import PowerDnsServer, ServerFactory

pytestmark = [pytest.mark.integration]

COUNT = 210
SPF = '"v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 ~all"'
DANE = range(15, 21)  # kinds whose spec has `dane:` (mail.<zone>: TLSA 3 1 1 aa… and bb…)
# drifts the pre-filter takes (10 and 14 plan no change either, but are not judged)
QUIET = {0, 1, 5, 11, 12, 13, 15, 16, 21}


def patch(server: PowerDnsServer, zone: str, *rrsets: dict[str, Any]) -> None:
    """One PATCH of `zone`'s rrsets (each with name, type and changetype)."""
    response = requests.patch(
        f"{server.api_url}/zones/{zone}",
        json={"rrsets": list(rrsets)},
        headers={"X-API-Key": server.api_key},
        timeout=10,
    )
    assert response.status_code == 204, response.text


def put(name: str, rtype: str, ttl: int, *contents: str, **extra: Any) -> dict[str, Any]:
    """A REPLACE of one rrset by these contents (`disabled` for all of them, `comments`)."""
    disabled = extra.pop("disabled", False)
    records = [{"content": c, "disabled": disabled} for c in contents]
    return {"name": name, "type": rtype, "ttl": ttl, "changetype": "REPLACE", "records": records}


def drift(server: PowerDnsServer, root: Path, i: int, zone: str) -> None:
    """Zone number `i` drifts one way (kinds 0..22 of every 30), or not at all."""
    z = f"{zone}."
    registry = f"mailzone:1 {zone} A/mail AAAA/mail MX/@ SPF/@ SPF/mail TXT/_dmarc"
    tlsa = f"_25._tcp.mail.{z}"
    kind = i % 30
    if kind == 0:
        patch(server, zone, put(f"www.{z}", "A", 300, "192.0.2.80"))  # foreign: kept
    elif kind == 1:
        patch(server, zone, put(z, "TXT", 300, SPF, '"site-verification=1"'))  # kept
    elif kind == 2:
        patch(server, zone, put(f"mail.{z}", "A", 600, "192.0.2.25"))  # TTL drift
    elif kind == 3:
        patch(server, zone, put(z, "TXT", 300, SPF, '"v=spf1 -all"'))  # a second SPF
    elif kind == 4:
        patch(server, zone, {"name": f"_dmarc.{z}", "type": "TXT", "changetype": "DELETE"})
    elif kind == 5:
        patch(server, zone, put(z, "CAA", 300, '0 issue "ca.example"'))  # other type
    elif kind == 6:  # the registry loses A/mail: an adoption
        value = registry.replace(" A/mail", "")
        patch(server, zone, put(f"_mailzone.{z}", "TXT", 300, f'"{value}"'))
    elif kind == 7:  # an orphan registry value
        values = live(server, zone, f"_mailzone.{z}", "TXT")
        patch(
            server,
            zone,
            put(f"_mailzone.{z}", "TXT", 300, *values, '"mailzone:1 gone.test A/x"'),
        )
    elif kind == 8:  # the spec changes
        spec = root / "zones" / f"{zone}.yaml"
        spec.write_text(spec.read_text().replace("192.0.2.25", "192.0.2.26"))
    elif kind == 9:  # the registry claims a live MX mailzone no longer wants: a guarded delete
        value = registry.replace("MX/@", "MX/@ MX/old")
        patch(
            server,
            zone,
            put(f"old.{z}", "MX", 300, f"10 mail.{z}"),
            put(f"_mailzone.{z}", "TXT", 300, f'"{value}"'),
        )
    elif kind == 10:  # a disabled record: octoDNS reads it as any other
        patch(server, zone, put(f"www.{z}", "A", 300, "192.0.2.80", disabled=True))
    elif kind == 11:  # a comment on one of ours: octoDNS does not read comments
        rrset = put(f"mail.{z}", "A", 300, "192.0.2.25")
        rrset["comments"] = [{"content": "hand-made", "account": "ops"}]
        patch(server, zone, rrset)
    elif kind == 12:  # a chunked TXT with a semicolon: kept
        patch(server, zone, put(f"t.{z}", "TXT", 300, '"a;b" "c"'))
    elif kind == 13:  # a MX to a name in capitals: kept
        patch(server, zone, put(f"old.{z}", "MX", 300, f"10 Mail.{zone.upper()}."))
    elif kind == 14:  # a LUA record
        patch(server, zone, put(f"lua.{z}", "LUA", 300, "A \"return '192.0.2.1'\""))
    elif kind == 16:  # TLSA data sent in capitals (PowerDNS stores it lower-cased; octoDNS too)
        patch(server, zone, put(tlsa, "TLSA", 300, f"3 1 1 {'A' * 64}", f"3 1 1 {'B' * 64}"))
    elif kind == 17:  # an extra TLSA key
        values = (f"3 1 1 {'a' * 64}", f"3 1 1 {'b' * 64}", f"3 1 1 {'c' * 64}")
        patch(server, zone, put(tlsa, "TLSA", 300, *values))
    elif kind == 18:  # a key missing
        patch(server, zone, put(tlsa, "TLSA", 300, f"3 1 1 {'a' * 64}"))
    elif kind == 19:  # a usage 2 record in place of the next key
        patch(server, zone, put(tlsa, "TLSA", 300, f"3 1 1 {'a' * 64}", f"2 1 1 {'b' * 64}"))
    elif kind == 20:  # TTL drift
        patch(server, zone, put(tlsa, "TLSA", 600, f"3 1 1 {'a' * 64}", f"3 1 1 {'b' * 64}"))
    elif kind == 21:  # a second apex NS: octoDNS ignores the apex NS of a plan that has none
        patch(server, zone, put(z, "NS", 3600, "ns1.test.invalid.", "ns2.test.invalid."))
    elif kind == 22:  # a TXT of ours with a chunk boundary in the middle
        patch(server, zone, put(f"_dmarc.{z}", "TXT", 300, '"v=DMARC1\\; p=no" "ne\\; rua=x"'))


def live(server: PowerDnsServer, zone: str, name: str, rtype: str) -> list[str]:
    """The contents of one live rrset."""
    response = requests.get(
        f"{server.api_url}/zones/{zone}", headers={"X-API-Key": server.api_key}, timeout=10
    )
    return [
        r["content"]
        for rrset in response.json()["rrsets"]
        if (rrset["name"], rrset["type"]) == (name, rtype)
        for r in rrset["records"]
    ]


def test_plan_is_the_same_with_and_without_the_prefilter(
    tmp_path: Path, pdns_factory: ServerFactory[PowerDnsServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given 210 zones on PowerDNS (a few with DANE), applied, then drifted live or in specs
    zones = [f"z{i:03d}.example" for i in range(COUNT)]
    server = pdns_factory(zones=[f"{z}." for z in zones])
    config = server.provider_config()
    apply_then_drift(
        tmp_path, "pdns", config, zones, DANE, lambda i, z: drift(server, tmp_path, i, z)
    )

    # when the plan runs with the pre-filter and without, then both say the same, byte for
    # byte, and the pre-filter took exactly the quiet zones
    assert plans_agree(tmp_path, monkeypatch) == (
        sum(1 for i in range(COUNT) if i % 30 in QUIET or i % 30 > 22),
        COUNT,
    )
