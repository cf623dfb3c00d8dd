"""MTA-STS through the CLI: `mailzone mta-sts write DIR` (the policy file the web server serves,
with the id DNS gets) and the `mta-sts` CNAME in a `local` zone file."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dns.zone

from tests.cli import mailzone
from tests.helpers import basic_spec, commit_all, write_spec

STS = """\
    mta_sts:
      mode: testing
      mx: ["*.example.org"]
      host: {ipv4: [192.0.2.80]}
    """


def zone_text(root: Path) -> str:
    """The `local` zone file of example.org."""
    return (root / "build" / "zones" / "example.org.zone").read_text()


POLICY = "version: STSv1\r\nmode: testing\r\nmx: *.example.org\r\nmax_age: 604800\r\n"


def test_write_puts_each_policy_under_its_domain_and_its_id_in_the_records(
    tmp_path: Path,
) -> None:
    # given two domains, one with MTA-STS
    write_spec(tmp_path, "example.org", basic_spec(extra=STS))
    write_spec(tmp_path, "example.net", basic_spec("example.net"))
    web = tmp_path / "www"

    # when every spec's policy is written
    done = mailzone(tmp_path, "mta-sts", "write", str(web))

    # then only example.org has a file, exactly the policy, and its id is the one DNS gets
    assert done.code == 0, done.err
    policy = web / "example.org" / ".well-known" / "mta-sts.txt"
    assert policy.read_bytes() == POLICY.encode()
    assert sorted(p.relative_to(web).as_posix() for p in web.rglob("*") if p.is_file()) == [
        "example.org/.well-known/mta-sts.txt"
    ]
    assert f"wrote {policy}" in done.out
    records = mailzone(tmp_path, "records", "example.org").out
    assert (
        f'_mta-sts 300 IN TXT "v=STSv1; id={hashlib.sha256(POLICY.encode()).hexdigest()[:20]}"'
        in records
    )


def test_write_a_named_domain_without_mta_sts_is_one_error_and_writes_nothing(
    tmp_path: Path,
) -> None:
    write_spec(tmp_path, "example.org", basic_spec(extra=STS))
    write_spec(tmp_path, "example.net", basic_spec("example.net"))
    web = tmp_path / "www"

    done = mailzone(tmp_path, "mta-sts", "write", str(web), "example.org", "example.net")

    assert done.code == 1
    assert done.err == (
        "error: example.net: the spec has no mta_sts, so there is no policy to write\n"
    )
    assert not web.exists()


def test_write_refuses_a_symlink_leading_out_of_dir(tmp_path: Path) -> None:
    # given DIR/example.org is a symlink to a folder outside DIR
    write_spec(tmp_path, "example.org", basic_spec(extra=STS))
    web, outside = tmp_path / "www", tmp_path / "elsewhere"
    web.mkdir()
    outside.mkdir()
    os.symlink(outside, web / "example.org")

    done = mailzone(tmp_path, "mta-sts", "write", str(web))

    assert done.code == 1 and done.err.startswith("error: ") and done.err.count("\n") == 1
    assert "leads outside" in done.err
    assert list(outside.iterdir()) == []


def test_local_writes_the_cname_and_the_zone_file_loads(tmp_path: Path) -> None:
    # given mta-sts as a CNAME, on the built-in local target
    cname = "mta_sts:\n  mode: testing\n  host: {cname: web.example.net.}\n"
    write_spec(tmp_path, "example.org", basic_spec(extra=cname))

    # when applied twice
    first = mailzone(tmp_path, "apply", "--yes")
    second = mailzone(tmp_path, "plan", "--exit-code")

    # then the zone file holds the CNAME alone at mta-sts, and nothing is left to change
    assert first.code == 0, first.err
    assert second.code == 0, second.out + second.err
    zone = dns.zone.from_file(
        str(tmp_path / "build" / "zones" / "example.org.zone"), "example.org.", relativize=True
    )
    node = zone.find_node("mta-sts")
    assert [r.rdtype.name for r in node.rdatasets] == ["CNAME"]
    assert [r.to_text() for r in node.rdatasets[0]] == ["web.example.net."]


def test_removing_mta_sts_too_early_names_the_spec_file_and_line(tmp_path: Path) -> None:
    # given MTA-STS in testing mode applied to the local zone file
    spec = write_spec(tmp_path, "example.org", basic_spec(extra=STS))
    assert mailzone(tmp_path, "apply", "--yes").code == 0

    # when mta_sts is removed from the spec at once
    spec.write_text(basic_spec())
    refused = mailzone(tmp_path, "apply", "--yes")

    # then the one error line points at the spec's `domain:` line (the field itself is gone)
    assert refused.code == 1
    assert refused.err.startswith(
        "error: zones/example.org.yaml:1: mta_sts: removed while mode testing"
    ), refused.err
    assert refused.err.count("\n") == 1


def test_forget_of_a_published_policy_warns_until_when_senders_may_enforce_it(
    tmp_path: Path,
) -> None:
    # given MTA-STS in testing mode applied, max_age two days, and the spec removed
    body = basic_spec(extra=STS) + "  max_age: 2d\n"
    write_spec(tmp_path, "example.org", body)
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    commit_all(tmp_path)
    (tmp_path / "zones" / "example.org.yaml").unlink()

    # when the domain is forgotten with its records
    forgot = mailzone(tmp_path, "forget", "example.org", "--delete-records", "--yes", "--force")

    # then it goes, with one warning naming max_age and the day senders may enforce it until
    assert forgot.code == 0, forgot.out + forgot.err
    until = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    warnings = [line for line in forgot.out.splitlines() if "MTA-STS" in line]
    assert len(warnings) == 1, forgot.out
    assert "warning:" in warnings[0] and "max_age 172800 s" in warnings[0], warnings
    assert f"until {until}" in warnings[0], warnings
    assert "_mta-sts" not in zone_text(tmp_path)


def test_forget_without_deleting_keeps_the_policy_and_is_allowed(tmp_path: Path) -> None:
    # given MTA-STS in testing mode applied
    write_spec(tmp_path, "example.org", basic_spec(extra=STS))
    assert mailzone(tmp_path, "apply", "--yes").code == 0

    # when the domain is released (its records stay in DNS, unowned)
    forgot = mailzone(tmp_path, "forget", "example.org", "--yes")

    # then nothing is removed, so there is no removal to refuse
    assert forgot.code == 0, forgot.out + forgot.err
    assert "_mta-sts" in zone_text(tmp_path)
    assert "_mailzone" not in zone_text(tmp_path)
