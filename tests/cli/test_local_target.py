"""The built-in `local` target through the real CLI: init, apply, idempotence, hand edits kept."""

from __future__ import annotations

from pathlib import Path

import dns.zone

from tests.cli import changes, mailzone
from tests.helpers import commit_all
from tests.zonecheck import assert_loads


def zone_file(root: Path) -> Path:
    return root / "build" / "zones" / "example.org.zone"


def served(root: Path) -> dict[tuple[str, str], list[str]]:
    zone = dns.zone.from_file(str(zone_file(root)), "example.org.", relativize=True)
    return {
        (name.to_text(), rdataset.rdtype.name): sorted(r.to_text() for r in rdataset)
        for name, rdataset in zone.iterate_rdatasets()
    }


def test_init_then_apply_writes_a_zone_and_a_second_plan_is_empty(tmp_path: Path) -> None:
    init = mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "203.0.113.25"
    )
    assert init.returncode == 0, init.stderr
    assert "dmarc.policy: quarantine" in init.stdout

    assert mailzone(tmp_path, "apply", "--yes").returncode == 0

    records = served(tmp_path)
    assert records[("@", "MX")] == ["10 mail"]
    assert records[("mail", "A")] == ["203.0.113.25"]
    assert records[("_dmarc", "TXT")] == [
        '"v=DMARC1; p=none; sp=reject; rua=mailto:postmaster@example.org"'
    ]
    assert mailzone(tmp_path, "plan", "--exit-code").returncode == 0


def test_spec_edit_plans_only_that_change_and_hand_added_records_stay(tmp_path: Path) -> None:
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "203.0.113.25"
    )
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    with zone_file(tmp_path).open("a") as fh:
        fh.write('www 300 IN A 192.0.2.80\n@ 300 IN TXT "google-site-verification=abc"\n')
    spec = tmp_path / "zones" / "example.org.yaml"
    spec.write_text(spec.read_text().replace("ipv4: [203.0.113.25]", "ipv4: [203.0.113.26]"))

    planned = changes(tmp_path)

    assert planned == [
        ("update", "example.org.", "TXT"),
        ("update", "mail.example.org.", "A"),
        ("update", "mail.example.org.", "TXT"),
    ]
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    records = served(tmp_path)
    assert records[("www", "A")] == ["192.0.2.80"]
    assert records[("@", "TXT")] == [
        '"google-site-verification=abc"',
        '"v=spf1 ip4:203.0.113.26 ~all"',
    ]
    assert mailzone(tmp_path, "plan", "--exit-code").returncode == 0


def test_removed_spec_keeps_records_until_forget_deletes_only_ours(tmp_path: Path) -> None:
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "203.0.113.25"
    )
    mailzone(
        tmp_path, "init", "example.net", "--mail-host", "mail.example.net", "--ipv4", "203.0.113.26"
    )
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    with zone_file(tmp_path).open("a") as fh:
        fh.write("www 300 IN A 192.0.2.80\n")
    commit_all(tmp_path)  # forget reads the removed spec back from git
    (tmp_path / "zones" / "example.org.yaml").unlink()

    plan = mailzone(tmp_path, "plan", "--exit-code")

    assert plan.returncode == 0  # a gone spec deletes nothing by itself
    assert "mailzone forget example.org --delete-records" in plan.stdout

    refused = mailzone(tmp_path, "forget", "example.org", "--delete-records", "--yes")
    assert refused.returncode == 1  # init made a DKIM key that the state still has
    assert "deletes DKIM selector" in refused.stderr
    # the hint names the command that does it: forget's own --force, not apply's
    assert refused.stderr.rstrip().endswith("(forget --force to do it anyway)"), refused.stderr
    assert "(forget needs --force)" in refused.stdout
    assert "apply --force" not in refused.stdout + refused.stderr

    forgot = mailzone(tmp_path, "forget", "example.org", "--delete-records", "--yes", "--force")

    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert served(tmp_path) == {
        ("@", "SOA"): served(tmp_path)[("@", "SOA")],
        ("@", "NS"): ["ns1.mailzone.invalid."],
        ("www", "A"): ["192.0.2.80"],
    }
    assert (
        mailzone(tmp_path, "forget", "example.org", "--yes").returncode == 1
    )  # nothing left to forget


def test_forget_without_delete_leaves_records_unowned(tmp_path: Path) -> None:
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "203.0.113.25"
    )
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    before = served(tmp_path)

    assert mailzone(tmp_path, "forget", "example.org", "--yes").returncode == 0

    after = served(tmp_path)
    assert ("_mailzone", "TXT") not in after
    assert {k: v for k, v in before.items() if k not in (("_mailzone", "TXT"), ("@", "SOA"))} == {
        k: v for k, v in after.items() if k != ("@", "SOA")
    }
    # the spec is still there: its records are now foreign, so taking them back is an adoption
    assert "adopt?" in mailzone(tmp_path, "plan").stdout


def test_written_zone_loads_in_bind_knot_and_nsd_with_the_defaults(tmp_path: Path) -> None:
    # given the README's first steps
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "203.0.113.25"
    )

    # when
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0

    # then the file loads unchanged in all three servers' checkers
    assert_loads(zone_file(tmp_path), "example.org.")
    assert served(tmp_path)[("@", "NS")] == ["ns1.mailzone.invalid."]


def test_provider_file_sets_ns_soa_names_and_glue_and_the_file_loads(tmp_path: Path) -> None:
    # given a providers/local.yaml with an in-zone nameserver and its glue
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "203.0.113.25"
    )
    (tmp_path / "providers").mkdir(exist_ok=True)
    (tmp_path / "providers" / "local.yaml").write_text(
        "class: mailzone.octo.local.LocalZoneFileProvider\n"
        "nameservers: [ns1.example.org, ns2.example.net]\n"
        "glue: {ns1.example.org: [192.0.2.53, '2001:db8::53']}\n"
        "hostmaster_email: dns@example.org\n"
    )

    # when
    applied = mailzone(tmp_path, "apply", "--yes")

    # then
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert_loads(zone_file(tmp_path), "example.org.")
    records = served(tmp_path)
    assert records[("@", "NS")] == ["ns1", "ns2.example.net."]
    assert records[("@", "SOA")][0].startswith("ns1 dns ")
    assert records[("ns1", "A")] == ["192.0.2.53"]
    assert records[("ns1", "AAAA")] == ["2001:db8::53"]
    assert mailzone(tmp_path, "plan", "--exit-code").returncode == 0


def test_in_zone_nameserver_without_glue_fails_apply_with_the_fix(tmp_path: Path) -> None:
    # given
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "203.0.113.25"
    )
    (tmp_path / "providers").mkdir(exist_ok=True)
    (tmp_path / "providers" / "local.yaml").write_text(
        "class: mailzone.octo.local.LocalZoneFileProvider\nnameservers: [ns1.example.org]\n"
    )

    # when
    applied = mailzone(tmp_path, "apply", "--yes")

    # then one line names the file and says what to add; no file that would not load
    assert applied.returncode != 0
    assert "example.org.zone" in applied.stderr
    assert "glue: {ns1.example.org.: [ADDRESS]}" in applied.stderr
    assert not zone_file(tmp_path).exists()


def test_plan_text_shows_the_registry_entries_added_and_removed(tmp_path: Path) -> None:
    # given an applied domain whose registry value is long (past the cut for long values)
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "203.0.113.25"
    )
    spec = tmp_path / "zones" / "example.org.yaml"
    spec.write_text(spec.read_text().replace("ipv6: []", 'ipv6: ["2001:db8::25"]'))
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    # when the spec renames the mail host
    spec.write_text(spec.read_text().replace("- name: mail\n", "- name: mx1\n"))
    plan = mailzone(tmp_path, "plan").out
    # then the registry's diff names what changed, whole
    registry = plan.split("_mailzone.example.org.\n", 1)[1].splitlines()[:2]
    assert [line.strip() for line in registry] == [
        "- example.org: A/mail AAAA/mail SPF/mail",
        "+ example.org: A/mx1 AAAA/mx1 SPF/mx1",
    ]
