"""The core reconciler against real BIND9 and PowerDNS on 127.0.0.1.

Each test runs on both servers (the `dns_server` fixture) through the real CLI, and asserts
what the server answers afterwards."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.check_zones import nsupdate
from tests.cli import changes, mailzone, write_provider
from tests.foreign import add_foreign, assert_foreign_intact
from tests.helpers import basic_spec, commit_all, dkim_spec, git, rsa_public_b64, write_spec
from tests.servers import BindServer, DnsServer, query, txt_values

pytestmark = pytest.mark.integration


def setup_repo(tmp_path: Path, server: DnsServer, spec: str) -> Path:
    write_provider(tmp_path, "target", server.provider_config())
    write_spec(tmp_path, "example.org", spec)
    return tmp_path


def test_apply_serves_every_record_exactly(tmp_path: Path, dns_server: DnsServer) -> None:
    key = rsa_public_b64()
    root = setup_repo(tmp_path, dns_server, dkim_spec(key))

    result = mailzone(root, "apply", "--yes")

    assert result.returncode == 0, result.stderr
    assert query(dns_server, "example.org.", "MX") == ["10 mail.example.org."]
    assert query(dns_server, "mail.example.org.", "A") == ["192.0.2.25"]
    assert query(dns_server, "mail.example.org.", "AAAA") == ["2001:db8::25"]
    assert txt_values(dns_server, "example.org.") == ["v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 ~all"]
    assert txt_values(dns_server, "mail.example.org.") == [
        "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 -all"
    ]
    assert txt_values(dns_server, "_dmarc.example.org.") == [
        "v=DMARC1; p=none; rua=mailto:postmaster@example.org"
    ]
    assert txt_values(dns_server, "20200803._domainkey.example.org.") == [
        f"v=DKIM1; k=rsa; p={key}"
    ]
    assert not (root / "build" / "backups").exists()  # the zone was empty: nothing to back up


def test_second_plan_is_empty_and_an_edit_plans_only_that_change(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    root = setup_repo(tmp_path, dns_server, dkim_spec(rsa_public_b64()))
    assert mailzone(root, "plan", "--exit-code").returncode == 2
    assert mailzone(root, "apply", "--yes").returncode == 0

    assert mailzone(root, "plan", "--exit-code").returncode == 0

    write_spec(
        root,
        "example.org",
        dkim_spec(rsa_public_b64()).replace("policy: none", "policy: quarantine"),
    )
    # the DMARC record, and the registry's note of since when its policy is live
    assert changes(root) == [
        ("update", "_dmarc.example.org.", "TXT"),
        ("update", "_mailzone.example.org.", "TXT"),
    ]
    assert mailzone(root, "plan", "--exit-code").returncode == 2
    assert mailzone(root, "apply", "--yes").returncode == 0
    assert txt_values(dns_server, "_dmarc.example.org.") == [
        "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org"
    ]
    assert mailzone(root, "plan", "--exit-code").returncode == 0
    (backup,) = (root / "build" / "backups").glob("example.org.*.zone")
    assert (
        '_dmarc 300 IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.org"'
        in backup.read_text()
    )


def test_foreign_records_survive_apply_and_removed_mail_records_go(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    add_foreign(dns_server)
    key = rsa_public_b64()
    root = setup_repo(tmp_path, dns_server, dkim_spec(key))
    assert mailzone(root, "apply", "--yes").returncode == 0
    assert_foreign_intact(dns_server)
    assert "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 ~all" in txt_values(dns_server, "example.org.")

    # rename the host and the selector: mailzone deletes what it created, nothing else. 4 of 12
    # record sets go: under mailzone's 50 % delete threshold, so no --force.
    write_spec(root, "example.org", dkim_spec(key, host="mx1", selector="20261124"))
    result = mailzone(root, "apply", "--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    assert_foreign_intact(dns_server)
    assert query(dns_server, "mail.example.org.", "A") == []
    assert txt_values(dns_server, "mail.example.org.") == []
    assert txt_values(dns_server, "20200803._domainkey.example.org.") == []
    assert query(dns_server, "mx1.example.org.", "A") == ["192.0.2.25"]
    assert txt_values(dns_server, "20261124._domainkey.example.org.") == [
        f"v=DKIM1; k=rsa; p={key}"
    ]
    assert query(dns_server, "example.org.", "MX") == ["10 mx1.example.org."]
    assert mailzone(root, "plan", "--exit-code").returncode == 0


def test_adopt_needs_the_flag(tmp_path: Path, dns_server: DnsServer) -> None:
    add_foreign(
        dns_server,
        [
            (
                "",
                {
                    "type": "MX",
                    "ttl": 300,
                    "value": {"preference": 5, "exchange": "old.example.net."},
                },
            ),
            ("", {"type": "TXT", "ttl": 300, "values": ["v=spf1 a mx -all", "MS=ms42"]}),
            ("_dmarc", {"type": "TXT", "ttl": 300, "value": "v=DMARC1\\; p=reject"}),
        ],
    )
    root = setup_repo(tmp_path, dns_server, basic_spec(provider="target"))
    assert ("adopt?", "example.org.", "MX") in changes(root)

    refused = mailzone(root, "apply", "--yes")

    assert refused.returncode == 1
    assert "apply --adopt" in refused.stderr
    assert query(dns_server, "example.org.", "MX") == ["5 old.example.net."]
    assert txt_values(dns_server, "_dmarc.example.org.") == ["v=DMARC1; p=reject"]

    adopted = mailzone(root, "apply", "--yes", "--adopt")

    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert query(dns_server, "example.org.", "MX") == ["10 mail.example.org."]
    assert txt_values(dns_server, "example.org.") == [
        "MS=ms42",
        "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 ~all",
    ]
    assert txt_values(dns_server, "_dmarc.example.org.") == [
        "v=DMARC1; p=none; rua=mailto:postmaster@example.org"
    ]
    assert mailzone(root, "plan", "--exit-code").returncode == 0  # adopted once, owned since


def test_guards_refuse_and_force_passes(tmp_path: Path, dns_server: DnsServer) -> None:
    root = setup_repo(tmp_path, dns_server, basic_spec(provider="target"))
    assert mailzone(root, "apply", "--yes").returncode == 0
    spec = basic_spec(provider="target")
    write_spec(root, "example.org", spec[: spec.index("dmarc:")])

    refused = mailzone(root, "apply", "--yes")

    assert refused.returncode == 1
    assert "deletes the DMARC record _dmarc.example.org." in refused.stderr
    assert txt_values(dns_server, "_dmarc.example.org.") != []

    forced = mailzone(root, "apply", "--yes", "--force")

    assert forced.returncode == 0, forced.stdout
    assert txt_values(dns_server, "_dmarc.example.org.") == []


MANY = [f"d{i:02d}.example" for i in range(12)]


@pytest.mark.zones(*(f"{z}." for z in MANY))
def test_many_zones_apply_in_one_run_and_each_is_served(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    write_provider(tmp_path, "target", dns_server.provider_config())
    for domain in MANY:
        write_spec(tmp_path, domain, basic_spec(domain, provider="target"))

    result = mailzone(tmp_path, "apply", "--yes", "--jobs", "8")

    assert result.returncode == 0, result.stderr
    for domain in MANY:
        assert query(dns_server, f"{domain}.", "MX") == [f"10 mail.{domain}."]
    assert mailzone(tmp_path, "plan", "--exit-code").returncode == 0


def test_apply_leaves_a_clean_clone_clean(tmp_path: Path, dns_server: DnsServer) -> None:
    """GitOps: CI applies a fresh clone and commits nothing, so apply writes nothing git
    tracks or does not ignore (state/ stays as committed; build/ and the lock are ignored)."""
    origin = tmp_path / "origin"
    origin.mkdir()
    write_provider(origin, "target", dns_server.provider_config())
    init = mailzone(
        origin, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.25",
        "--provider", "target",
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    commit_all(origin)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))

    applied = mailzone(clone, "apply", "--yes")

    assert applied.returncode == 0, applied.stderr
    assert query(dns_server, "example.org.", "MX") == ["10 mail.example.org."]
    assert git(clone, "status", "--porcelain", "--untracked-files=all") == ""


@pytest.mark.zones("example.org.")
def test_a_foreign_txt_value_octodns_cannot_split_stops_the_apply_not_hangs(
    tmp_path: Path, bind_server: BindServer
) -> None:
    # given an applied zone, and someone else's apex TXT string ending in a backslash, which
    # octoDNS's chunking (RFC 2136 updates) never finishes cutting
    root = setup_repo(tmp_path, bind_server, basic_spec(provider="target"))
    assert mailzone(root, "apply", "--yes").returncode == 0
    nsupdate(bind_server, "example.org.", [("add", "example.org.", "TXT", ["verify=abc\\"])])
    before = txt_values(bind_server, "example.org.")

    # when the SPF record, in the same TXT set, has to change
    write_spec(
        root,
        "example.org",
        basic_spec(provider="target").replace("192.0.2.25]", "192.0.2.25, 192.0.2.26]"),
    )
    started = time.monotonic()
    result = mailzone(root, "apply", "--yes")

    # then the apply stops at once, names the value, and the zone is as it was
    assert time.monotonic() - started < 60, "the apply hung"
    assert result.returncode == 1, result.stdout + result.stderr
    assert "TXT example.org. value 'verify=abc" in result.stderr
    assert "cannot split it" in result.stderr
    assert sorted(txt_values(bind_server, "example.org.")) == sorted(before)
    assert "verify=abc\\" in before
