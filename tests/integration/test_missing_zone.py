"""A zone the DNS server does not have is an error of that zone, never created behind the
user's back (issue 11: octoDNS's PowerDNS provider creates it, without NS records); the other
zones are still planned and applied. `mailzone: create_zones: true` in the provider file lets
apply create it. The provider is named for the server (`bind`, `powerdns`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml

from tests.cli import mailzone, refused, write_provider
from tests.helpers import basic_spec, write_spec
from tests.servers import DnsServer, PowerDnsServer, query

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]


def missing(provider: str) -> str:
    return (
        f"example.net: zone example.net does not exist on provider '{provider}'; "
        "create it there, or set mailzone: create_zones: true"
    )


def pdns_zones(server: PowerDnsServer) -> list[str]:
    """The zones PowerDNS has, from its API."""
    response = requests.get(
        f"{server.api_url}/zones", headers={"X-API-Key": server.api_key}, timeout=10
    )
    response.raise_for_status()
    return sorted(zone["name"] for zone in response.json())


def served(server: DnsServer) -> list[str]:
    """The zones the server has: PowerDNS's API list, or which of ours BIND answers for."""
    if isinstance(server, PowerDnsServer):
        return pdns_zones(server)
    out = []
    for zone in ("example.org.", "example.net."):
        try:
            query(server, zone, "SOA")
            out.append(zone)
        except LookupError:  # REFUSED: not a zone of this server
            pass
    return out


def two_specs(root: Path, server: DnsServer, **section: object) -> None:
    """example.org (served) and example.net (not) on provider `<server.kind>`."""
    config = server.provider_config()
    if section:
        config["mailzone"] = section
    write_provider(root, server.kind, config)
    for domain in ("example.org", "example.net"):
        write_spec(root, domain, basic_spec(domain, provider=server.kind))


def test_a_zone_the_server_does_not_have_is_an_error_and_the_others_are_applied(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    # given specs for a served zone and for one the server does not have
    two_specs(tmp_path, dns_server)
    before = served(dns_server)

    # when planned: that zone's error, and the other zone's changes
    plan = mailzone(tmp_path, "plan")
    assert refused(plan) == missing(dns_server.kind)
    assert "  not planned (the error is on stderr)\nexample.org  provider " in plan.out, plan.out
    assert "create  MX    example.org.\n" in plan.out, plan.out

    # when applied: the other zone is written, the missing one is not created
    applied = mailzone(tmp_path, "apply", "--yes")
    assert refused(applied) == missing(dns_server.kind)
    assert "applied   example.org" in applied.out
    assert "failed    example.net\n" in applied.out
    assert query(dns_server, "example.org.", "MX") == ["10 mail.example.org."]
    assert served(dns_server) == before == ["example.org."]


def test_forget_never_creates_a_zone(tmp_path: Path, pdns_server: PowerDnsServer) -> None:
    # given a domain forgotten from a zone PowerDNS does not have, where another domain stays
    two_specs(tmp_path, pdns_server)
    (tmp_path / "zones" / "example.net.yaml").unlink()
    extra = "zone: example.net\n"
    write_spec(tmp_path, "lists.example.net", basic_spec("lists.example.net", "powerdns", extra))

    forgot = mailzone(
        tmp_path,
        *("forget", "example.net", "--delete-records", "--provider", "powerdns", "--yes"),
    )

    assert refused(forgot) == missing("powerdns")
    assert pdns_zones(pdns_server) == ["example.org."]


def test_rotate_apply_never_creates_a_zone(tmp_path: Path, pdns_server: PowerDnsServer) -> None:
    # given a DKIM domain whose zone PowerDNS does not have
    two_specs(tmp_path, pdns_server)
    spec = tmp_path / "zones" / "example.net.yaml"
    spec.write_text(spec.read_text() + "dkim:\n  algorithms: [ed25519]\n")
    host = tmp_path / "host.yaml"
    host.write_text(yaml.safe_dump({"key_dir": str(tmp_path / "keys")}))

    rotated = mailzone(tmp_path, "rotate", "--apply", "--host-config", str(host))

    assert rotated.code == 1, rotated.out + rotated.err
    assert f"error: apply {missing('powerdns')}\n" in rotated.err  # the zone named once
    assert pdns_zones(pdns_server) == ["example.org."]


def test_create_zones_true_lets_apply_create_the_zone(
    tmp_path: Path, pdns_server: PowerDnsServer
) -> None:
    two_specs(tmp_path, pdns_server, create_zones=True)

    applied = mailzone(tmp_path, "apply", "--yes")

    assert applied.code == 0, applied.out + applied.err
    assert pdns_zones(pdns_server) == ["example.net.", "example.org."]
    assert query(pdns_server, "example.net.", "MX") == ["10 mail.example.net."]
