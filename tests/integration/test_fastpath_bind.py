"""The no-op pre-filter on a real BIND: 200 zones, some drifted live and some with edited specs,
planned with the pre-filter and without it (MAILZONE_NO_FASTPATH=1) give the same output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import pytest

from mailzone.dns import axfr
from mailzone.dns.wire import Unusual
from mailzone.octo import fastpath
from tests.cli import mailzone, write_provider
from tests.helpers import basic_spec, write_spec
from tests.prefilter import apply_then_drift, plans_agree
from tests.servers import BindServer, ServerFactory

pytestmark = [pytest.mark.integration]

COUNT = 200
DANE = (10, 11)  # kinds whose spec has `dane:` (mail.<zone>: TLSA 3 1 1 aa… and bb…)


def update(server: BindServer, zone: str, *steps: tuple[str, ...]) -> None:
    """One RFC 2136 update of `zone`: ("add"|"replace", name, ttl, type, data) or
    ("delete", name, type)."""
    keyring = dns.tsigkeyring.from_text({server.key_name: server.key_secret})
    message = dns.update.UpdateMessage(
        zone, keyring=keyring, keyname=server.key_name, keyalgorithm=server.key_algorithm
    )
    for step in steps:
        if step[0] == "delete":
            message.delete(step[1], step[2])
        else:
            getattr(message, step[0])(step[1], int(step[2]), step[3], step[4])
    response = dns.query.tcp(message, server.host, port=server.port, timeout=5)
    assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())


def drift(server: BindServer, root: Path, i: int, zone: str) -> None:
    """Zone number `i` drifts one way (kinds 0..9 and 11 of every 30), or not at all."""
    registry = f"mailzone:1 {zone} A/mail AAAA/mail MX/@ SPF/@ SPF/mail TXT/_dmarc"
    kind = i % 30
    if kind == 0:
        update(server, zone, ("add", "www", "300", "A", "192.0.2.80"))  # foreign: kept
    elif kind == 1:
        update(server, zone, ("add", "@", "300", "TXT", '"site-verification=1"'))  # kept
    elif kind == 2:
        update(server, zone, ("replace", "mail", "600", "A", "192.0.2.25"))  # TTL drift
    elif kind == 3:
        update(server, zone, ("add", "@", "300", "TXT", '"v=spf1 -all"'))  # a second SPF
    elif kind == 4:
        update(server, zone, ("delete", "_dmarc", "TXT"))  # missing
    elif kind == 5:
        update(server, zone, ("add", "@", "300", "CAA", '0 issue "ca.example"'))  # other type
    elif kind == 6:  # the registry loses A/mail: an adoption
        value = registry.replace(" A/mail", "")
        update(server, zone, ("replace", "_mailzone", "300", "TXT", f'"{value}"'))
    elif kind == 7:  # an orphan registry value
        update(server, zone, ("add", "_mailzone", "300", "TXT", '"mailzone:1 gone.test A/x"'))
    elif kind == 8:  # the spec changes
        spec = root / "zones" / f"{zone}.yaml"
        spec.write_text(spec.read_text().replace("192.0.2.25", "192.0.2.26"))
    elif kind == 9:  # the registry claims a live MX mailzone no longer wants: a guarded delete
        value = registry.replace("MX/@", "MX/@ MX/old")
        update(
            server,
            zone,
            ("add", "old", "300", "MX", f"10 mail.{zone}."),
            ("replace", "_mailzone", "300", "TXT", f'"{value}"'),
        )
    elif kind == 11:  # a third TLSA key
        update(server, zone, ("add", "_25._tcp.mail", "300", "TLSA", f"3 1 1 {'c' * 64}"))


def test_plan_is_the_same_with_and_without_the_prefilter(
    tmp_path: Path, bind_factory: ServerFactory[BindServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given 200 zones on BIND, applied, then drifted live or in their specs
    zones = [f"z{i:03d}.example" for i in range(COUNT)]
    server = bind_factory(zones=[f"{z}." for z in zones])
    config = server.provider_config()
    apply_then_drift(
        tmp_path, "bind", config, zones, DANE, lambda i, z: drift(server, tmp_path, i, z)
    )

    # when the plan runs with the pre-filter and without, then both say the same, byte for
    # byte, and the pre-filter took the quiet zones
    unchanged, total = plans_agree(tmp_path, monkeypatch)
    assert total == COUNT
    # 11 of every 30 zones drifted; 3 of those drifts (foreign A, apex TXT, CAA) change nothing
    assert unchanged == COUNT - sum(1 for i in range(COUNT) if i % 30 in {2, 3, 4, 6, 7, 8, 9, 11})


def lean_sets(rrs: list[tuple[str, str, int, Any]]) -> set[tuple[str, str, int, str]]:
    return {(owner.lower(), rtype, ttl, repr(value)) for owner, rtype, ttl, value in rrs}


@pytest.mark.zones("example.org.")
def test_lean_axfr_reads_what_dnspython_reads(tmp_path: Path, bind_server: BindServer) -> None:
    # given a zone applied by mailzone, with a foreign CAA, a chunked TXT and a MX in capitals
    write_provider(tmp_path, "bind", bind_server.provider_config())
    write_spec(tmp_path, "example.org", basic_spec(provider="bind"))
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    update(
        bind_server,
        "example.org.",
        ("add", "@", "300", "CAA", '0 issue "ca.example"'),
        ("add", "t", "300", "TXT", '"a;b" "c"'),
        ("add", "Old", "300", "MX", "10 Mail.Example.ORG."),
    )
    keyring = dns.tsigkeyring.from_text({bind_server.key_name: bind_server.key_secret})

    # when it is read by the lean reader and by dnspython
    found = axfr.transfer(
        bind_server.host,
        bind_server.port,
        "example.org.",
        5.0,
        keyring=keyring,
        keyalgorithm=bind_server.key_algorithm,
    )
    origin = dns.name.from_text("example.org.")
    expected = [
        (rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rrset.ttl, r)
        for message in dns.query.xfr(
            bind_server.host,
            "example.org.",
            port=bind_server.port,
            keyring=keyring,
            keyalgorithm=bind_server.key_algorithm,
            relativize=False,
        )
        for rrset in message.answer
        for r in rrset
        if rrset.rdtype != dns.rdatatype.SOA
    ]

    # then it has the same records, and its messages parse again in dnspython
    assert lean_sets(found.rrs) == lean_sets(
        [(n, t, ttl, fastpath.lean_value(t, r, origin)) for n, t, ttl, r in expected]
    )
    assert ("t.example.org.", "TXT", 300, (b"a;b", b"c")) in found.rrs
    assert len(axfr.messages(found, keyring)) == len(found.messages)


@pytest.mark.zones("example.org.")
def test_lean_axfr_refuses_a_bad_tsig_signature(bind_server: BindServer) -> None:
    # given a keyring with the right name and a wrong secret
    wrong = dns.tsigkeyring.from_text({bind_server.key_name: "d3Jvbmcgc2VjcmV0"})

    # then the transfer is not taken (BIND refuses it, or the reply's TSIG does not verify)
    with pytest.raises(Unusual):
        axfr.transfer(
            bind_server.host,
            bind_server.port,
            "example.org.",
            5.0,
            keyring=wrong,
            keyalgorithm=bind_server.key_algorithm,
        )
