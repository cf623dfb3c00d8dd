"""MTA-STS on BIND and PowerDNS: apply serves the `_mta-sts` TXT with the policy's id and the
`mta-sts` host's addresses, `check` passes on them, and a changed policy gets a new id that
check insists on until it is applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailzone.check.families import NAMES
from tests.cli import mailzone, write_provider
from tests.helpers import MTA_STS_SPEC as STS
from tests.helpers import basic_spec, commit_all, write_spec
from tests.servers import DnsServer, PowerDnsServer, query, txt_values

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]


def _check(root: Path, server: DnsServer) -> tuple[int, str]:
    skip = [arg for name in NAMES if name != "mta_sts" for arg in ("--skip", name)]
    # the policy host's documentation address is never dialled: its fetch is `unknown`
    # (tests/integration/test_mta_sts_live.py fetches it)
    allow = ("--allow-unknown", "mta_sts")
    done = mailzone(root, "check", "--nameserver", f"127.0.0.1:{server.port}", *skip, *allow)
    return done.code, done.out + done.err


def _served_id(server: DnsServer) -> str:
    (value,) = txt_values(server, "_mta-sts.example.org.")
    assert value.startswith("v=STSv1; id="), value
    return value.removeprefix("v=STSv1; id=")


def test_apply_serves_the_policy_id_and_host_and_a_new_policy_gets_a_new_id(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    # given a spec with MTA-STS on the server's provider, applied
    write_provider(tmp_path, "dns", dns_server.provider_config())
    spec = write_spec(tmp_path, "example.org", basic_spec(provider="dns", extra=STS))
    applied = mailzone(tmp_path, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err

    # then the TXT carries the id of the policy `mta-sts write` produces, the host resolves,
    # and the check passes
    first = _served_id(dns_server)
    assert mailzone(tmp_path, "records", "example.org").out.count(f"id={first}") == 1
    assert query(dns_server, "mta-sts.example.org.", "A") == ["192.0.2.80"]
    assert query(dns_server, "mta-sts.example.org.", "AAAA") == ["2001:db8::80"]
    code, out = _check(tmp_path, dns_server)
    assert code == 0 and "2 pass, 0 warn, 0 fail" in out, out

    # when the policy changes (enforce is not possible without tls_rpt: max_age changes)
    spec.write_text(spec.read_text() + "  max_age: 2w\n")

    # then check fails on the old id until apply serves the new one
    code, out = _check(tmp_path, dns_server)
    assert code == 3 and f"serves id={first}" in out, out
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    second = _served_id(dns_server)
    assert second != first
    assert _check(tmp_path, dns_server)[0] == 0


def test_removing_mta_sts_waits_for_mode_none_to_outlive_max_age(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    # given MTA-STS published in testing mode
    write_provider(tmp_path, "dns", dns_server.provider_config())
    spec = write_spec(tmp_path, "example.org", basic_spec(provider="dns", extra=STS))
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    testing = _served_id(dns_server)

    # when mta_sts is removed at once, then apply refuses in one line and DNS keeps the policy
    spec.write_text(basic_spec(provider="dns"))
    refused = mailzone(tmp_path, "apply", "--yes")
    assert refused.code == 1
    assert refused.err.startswith(
        "error: zones/example.org.yaml:1: mta_sts: removed while mode testing"
    ), refused.err
    assert refused.err.count("\n") == 1
    assert _served_id(dns_server) == testing

    # when mode none is published, then the registry dates it, with the cached max_age
    spec.write_text(basic_spec(provider="dns", extra=STS.replace("testing", "none")))
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    assert _served_id(dns_server) != testing
    today = datetime.now(UTC).date()
    (registry,) = txt_values(dns_server, "_mailzone.example.org.")
    assert registry.endswith(f" mta_sts=none@{today.isoformat()}~604800"), registry

    # and removing mta_sts the same day is still refused, naming the day it may go
    spec.write_text(basic_spec(provider="dns"))
    refused = mailzone(tmp_path, "apply", "--yes")
    until = (today + timedelta(days=7)).isoformat()
    assert refused.code == 1 and f"until {until}" in refused.err, refused.err
    assert query(dns_server, "mta-sts.example.org.", "A") == ["192.0.2.80"]


def test_the_host_moves_between_a_cname_and_addresses(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    # given mta-sts as a CNAME to the mail host (inside the zone, so the server answers the chain)
    write_provider(tmp_path, "dns", dns_server.provider_config())
    cname = "mta_sts:\n  mode: testing\n  host: {cname: mail.example.org}\n"
    spec = write_spec(tmp_path, "example.org", basic_spec(provider="dns", extra=cname))
    applied = mailzone(tmp_path, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err
    assert query(dns_server, "mta-sts.example.org.", "CNAME") == ["mail.example.org."]
    code, out = _check(tmp_path, dns_server)
    assert code == 0 and "resolves to 192.0.2.25" in out, out
    assert mailzone(tmp_path, "plan", "--exit-code").code == 0  # nothing left to change

    # when it becomes addresses, then the CNAME gives way to them
    spec.write_text(basic_spec(provider="dns", extra=STS))
    applied = mailzone(tmp_path, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err
    assert query(dns_server, "mta-sts.example.org.", "CNAME") == []
    assert query(dns_server, "mta-sts.example.org.", "A") == ["192.0.2.80"]

    # and back to a CNAME
    spec.write_text(basic_spec(provider="dns", extra=cname))
    applied = mailzone(tmp_path, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err
    assert query(dns_server, "mta-sts.example.org.", "CNAME") == ["mail.example.org."]
    assert _check(tmp_path, dns_server)[0] == 0
    assert mailzone(tmp_path, "plan", "--exit-code").code == 0


def test_forget_deletes_the_mta_sts_cname_with_the_rest(
    tmp_path: Path, pdns_server: PowerDnsServer
) -> None:
    # given a domain with an mta-sts CNAME applied, then its spec removed
    write_provider(tmp_path, "dns", pdns_server.provider_config())
    cname = "mta_sts:\n  mode: none\n  host: {cname: web.example.net}\n"
    spec = write_spec(tmp_path, "example.org", basic_spec(provider="dns", extra=cname))
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    assert query(pdns_server, "mta-sts.example.org.", "CNAME") == ["web.example.net."]
    commit_all(tmp_path)
    spec.unlink()

    # when the domain is forgotten with its records
    forgot = mailzone(tmp_path, "forget", "example.org", "--delete-records", "--yes")

    # then the CNAME goes too
    assert forgot.code == 0, forgot.out + forgot.err
    assert query(pdns_server, "mta-sts.example.org.", "CNAME") == []
    assert txt_values(pdns_server, "_mta-sts.example.org.") == []
