"""A spec removed from zones/: `plan` warns that its records are still in DNS and names the
`forget` command, and that very command deletes them, on a real PowerDNS (provider `pdns`);
and a hand-edited registry does not make it delete a foreign record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from octodns.record import Record
from octodns.zone import Zone

from tests.cli import mailzone, write_provider
from tests.helpers import basic_spec, commit_all, write_spec
from tests.servers import DnsServer, PowerDnsServer, make_provider, query, txt_values

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.", "example.net.")]

FORGET = "mailzone forget example.org --delete-records"


def published(root: Path, server: PowerDnsServer, *domains: str, git: bool = True) -> None:
    """Specs for `domains` on provider `pdns`, applied (and committed to git, as in GitOps:
    apply itself writes nothing the repository tracks)."""
    write_provider(root, "pdns", server.provider_config())
    for domain in domains:
        write_spec(root, domain, basic_spec(domain, provider="pdns"))
    applied = mailzone(root, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err
    assert not list((root / "state").glob("*.yaml"))
    if git:
        commit_all(root)


def test_forget_finds_a_removed_spec_from_its_last_version_in_git(
    tmp_path: Path, pdns_server: PowerDnsServer
) -> None:
    # given two domains on PowerDNS, and example.org's spec removed
    published(tmp_path, pdns_server, "example.org", "example.net")
    assert query(pdns_server, "example.org.", "MX") == ["10 mail.example.org."]
    (tmp_path / "zones" / "example.org.yaml").unlink()
    plan = mailzone(tmp_path, "plan", "--exit-code")
    assert plan.code == 0 and FORGET in plan.out, plan.out + plan.err

    # when the command the plan names is run as it is
    forgot = mailzone(tmp_path, *FORGET.split()[1:], "--yes")

    # then example.org's records are gone from PowerDNS, example.net's stay
    assert forgot.code == 0, forgot.out + forgot.err
    assert "provider pdns" in forgot.out
    assert query(pdns_server, "example.org.", "MX") == []
    assert query(pdns_server, "mail.example.org.", "A") == []
    assert query(pdns_server, "example.net.", "MX") == ["10 mail.example.net."]
    assert not (tmp_path / "state" / "example.org.yaml").exists()
    assert FORGET not in mailzone(tmp_path, "plan").out


def test_forget_without_git_or_state_uses_the_last_backup(
    tmp_path: Path, pdns_server: PowerDnsServer
) -> None:
    # given example.org published on PowerDNS, applied twice (so a backup lists it), its spec
    # removed, no git and no state saying where it was published
    published(tmp_path, pdns_server, "example.org", git=False)
    spec = tmp_path / "zones" / "example.org.yaml"
    spec.write_text(spec.read_text().replace("192.0.2.25", "192.0.2.26"))
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    assert list((tmp_path / "build" / "backups").glob("example.org.*.zone"))
    spec.unlink()

    forgot = mailzone(tmp_path, "forget", "example.org", "--delete-records", "--yes")

    assert forgot.code == 0, forgot.out + forgot.err
    assert query(pdns_server, "example.org.", "MX") == []


def test_forget_with_nothing_saying_where_asks_for_the_provider(tmp_path: Path) -> None:
    forgot = mailzone(tmp_path, "forget", "example.org", "--delete-records", "--yes")

    assert forgot.code == 1
    assert forgot.err == (
        "error: example.org: zones/example.org.yaml is gone and neither git, state/example.org.yaml "
        "nor a backup in build/backups says where it was published: give --provider (and --zone)\n"
    )


def test_plan_after_the_last_spec_is_removed_warns_and_names_forget(
    tmp_path: Path, pdns_server: PowerDnsServer
) -> None:
    # given the repository's only domain published on PowerDNS, and its spec removed
    published(tmp_path, pdns_server, "example.org")
    (tmp_path / "zones" / "example.org.yaml").unlink()

    plan = mailzone(tmp_path, "plan", "--exit-code")

    # then plan warns that its records are still in DNS, names forget, and nothing is pending
    assert plan.code == 0, plan.out + plan.err
    assert plan.err == ""
    assert "example.org  provider pdns  domains -\n  no changes\n" in plan.out
    assert (
        "warning: example.org: mailzone created records in example.org but zones/example.org.yaml "
        f"is gone; they stay in DNS (`{FORGET}` removes them)"
    ) in plan.out
    assert mailzone(tmp_path, "apply", "--yes").code == 0  # nothing to do is not an error

    # and once forgotten, DNS holds none of its records and plan has nothing left to plan
    assert mailzone(tmp_path, *FORGET.split()[1:], "--yes").code == 0
    assert query(pdns_server, "example.org.", "MX") == []
    empty = mailzone(tmp_path, "plan", "--exit-code")
    assert empty.code == 1
    assert empty.err == f"error: no specs in {tmp_path / 'zones'}: start with `mailzone init`\n"


def _edit_live_zone(server: DnsServer, edit: Any) -> None:
    """Change example.org on the server by hand (octoDNS straight to it, not mailzone)."""
    provider = make_provider(server, "someone-else")
    zone = Zone("example.org.", [])
    provider.populate(zone)
    edit(zone)
    provider.apply(provider.plan(zone))


def test_forget_leaves_a_record_a_hand_edited_registry_claims(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    # given example.org applied, a foreign www A, and the _mailzone registry edited on the
    # server (in the form mailzone writes) to claim A/www for example.org
    write_provider(tmp_path, "dns", dns_server.provider_config())
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    assert mailzone(tmp_path, "apply", "--yes").code == 0

    def tamper(zone: Zone) -> None:
        zone.add_record(Record.new(zone, "www", {"type": "A", "ttl": 300, "value": "192.0.2.80"}))
        live = zone.get_type("_mailzone", "TXT")
        assert live is not None
        claims = [v + " A/www" for v in live.values]
        zone.add_record(live.copy(zone=zone, values=claims), replace=True)

    _edit_live_zone(dns_server, tamper)
    assert any("A/www" in v for v in txt_values(dns_server, "_mailzone.example.org."))

    # when example.org is forgotten with its records
    forgot = mailzone(tmp_path, "forget", "example.org", "--delete-records", "--yes")

    # then the foreign www A is still served, mailzone's records and registry entry are gone
    assert forgot.code == 0, forgot.out + forgot.err
    assert query(dns_server, "www.example.org.", "A") == ["192.0.2.80"]
    assert query(dns_server, "example.org.", "MX") == []
    assert query(dns_server, "mail.example.org.", "A") == []
    assert txt_values(dns_server, "_mailzone.example.org.") == []
    assert (
        "example.org: the _mailzone registry claims A www.example.org, which mailzone never "
        "generated for it; left in place"
    ) in forgot.out
