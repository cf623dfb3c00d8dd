"""octoDNS's update/delete thresholds as mailzone applies them, against a real PowerDNS.

The thresholds count record sets, not mailzone's `_mailzone` registry (one value per domain,
rewritten by nearly every apply), and default to half the zone: an ordinary edit of a one-domain
zone passes, a change that rewrites most of a large zone still needs `apply --force`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli import mailzone, refused, write_provider
from tests.helpers import basic_spec, ed25519_public_b64, rsa_public_b64, write_spec
from tests.servers import PowerDnsServer, ServerFactory, make_provider, query, txt_values

pytestmark = pytest.mark.integration

ZONE = "example.org."


def one_domain_spec() -> str:
    """basic_spec with two imported selectors: with NS, the registry and two foreign names,
    a 12-record zone."""
    return basic_spec(provider="target") + (
        "dkim:\n  import:\n"
        f'    - {{selector: "r1", public_key: "{rsa_public_b64()}"}}\n'
        f'    - {{selector: "e1", public_key: "{ed25519_public_b64()}"}}\n'
    )


def add_foreign(server: PowerDnsServer) -> None:
    """Two record sets someone else made (a web server)."""
    from octodns.record import Record
    from octodns.zone import Zone

    provider = make_provider(server, "someone-else")
    zone = Zone(ZONE, [])
    provider.populate(zone)
    for rtype, value in (("A", "192.0.2.80"), ("AAAA", "2001:db8::80")):
        data = {"type": rtype, "ttl": 300, "value": value}
        zone.add_record(Record.new(zone, "www", data), replace=True)
    provider.apply(provider.plan(zone))


def live_sets(server: PowerDnsServer) -> int:
    """How many record sets octoDNS reads from the zone."""
    from octodns.zone import Zone

    zone = Zone(ZONE, [])
    make_provider(server, "reader").populate(zone)
    return len(zone.records)


def rename_host_and_tighten_dmarc(spec: Path) -> None:
    """mail → mx, its IPv4 .25 → .26, DMARC none → quarantine."""
    text = spec.read_text().replace("name: mail", "name: mx").replace("192.0.2.25", "192.0.2.26")
    spec.write_text(text.replace("policy: none", "policy: quarantine"))


def setup(tmp_path: Path, server: PowerDnsServer, **options: Any) -> Path:
    write_provider(tmp_path, "target", {**server.provider_config(), **options})
    return tmp_path


def test_host_rename_ipv4_and_dmarc_change_in_a_small_zone_needs_no_force(
    tmp_path: Path, pdns_factory: ServerFactory[PowerDnsServer]
) -> None:
    # given a one-domain zone of 12 record sets on PowerDNS
    server = pdns_factory(zones=[ZONE])
    root = setup(tmp_path, server)
    spec = write_spec(root, "example.org", one_domain_spec())
    run = mailzone(root, "apply", "--yes")
    assert run.code == 0, run.err
    add_foreign(server)
    assert live_sets(server) == 12

    # when the mail host is renamed, its IPv4 changes and DMARC goes to quarantine
    rename_host_and_tighten_dmarc(spec)
    run = mailzone(root, "apply", "--yes")

    # then apply goes through without --force and the server serves the edit
    assert run.code == 0, run.out + run.err
    assert query(server, "example.org.", "MX") == ["10 mx.example.org."]
    assert query(server, "mx.example.org.", "A") == ["192.0.2.26"]
    assert query(server, "mail.example.org.", "A") == []
    assert txt_values(server, "_dmarc.example.org.")[0].startswith("v=DMARC1; p=quarantine")
    assert query(server, "www.example.org.", "A") == ["192.0.2.80"]


def large_zone(root: Path, ttl: int) -> None:
    """Four mail domains sharing the zone example.org (about 25 record sets)."""
    for name in ("example.org", "lists.example.org", "news.example.org", "shop.example.org"):
        spec = basic_spec(name, provider="target").replace("ttl: 300", f"ttl: {ttl}")
        if name != "example.org":
            spec += "zone: example.org\n"
        write_spec(root, name, spec)


def test_rewriting_most_of_a_large_zone_still_needs_force(
    tmp_path: Path, pdns_factory: ServerFactory[PowerDnsServer]
) -> None:
    # given a zone of four mail domains on PowerDNS
    server = pdns_factory(zones=[ZONE])
    root = setup(tmp_path, server)
    large_zone(root, 300)
    run = mailzone(root, "apply", "--yes")
    assert run.code == 0, run.err
    assert live_sets(server) > 25

    # when every record's TTL changes
    large_zone(root, 600)
    error = refused(mailzone(root, "apply", "--yes"))

    # then apply refuses, names the flag that does it anyway, and changes nothing
    assert "Too many updates" in error, error
    assert "--force" in error, error
    assert query(server, "mail.example.org.", "A") == ["192.0.2.25"]
    run = mailzone(root, "apply", "--yes", "--force")
    assert run.code == 0, run.err
    assert mailzone(root, "plan", "--exit-code").code == 0


def test_a_provider_sets_its_own_thresholds_as_in_octodns(
    tmp_path: Path, pdns_factory: ServerFactory[PowerDnsServer]
) -> None:
    # given the one-domain zone on a provider stricter than mailzone's default
    server = pdns_factory(zones=[ZONE])
    root = setup(tmp_path, server, update_pcent_threshold=0.25)
    spec = write_spec(root, "example.org", one_domain_spec())
    assert mailzone(root, "apply", "--yes").code == 0
    add_foreign(server)

    # when the same edit is applied
    rename_host_and_tighten_dmarc(spec)
    error = refused(mailzone(root, "apply", "--yes"))

    # then the provider's threshold decides, counting the 3 record updates (not the registry)
    assert "Too many updates, 30.00% is over 25.00% (3/10)" in error, error
    assert "--force" in error, error
    assert query(server, "mail.example.org.", "A") == ["192.0.2.25"]
