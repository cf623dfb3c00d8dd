"""TLS-RPT on real BIND9 and PowerDNS: `apply` publishes exactly the `_smtp._tls` record the spec
wants (owned through the `_mailzone` registry like every TXT), checkdmarc's RFC 8460 parser
accepts it, `mailzone check` passes the family, and a record hand-edited to the common
`v=TSLRPTv1` typo fails it by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import checkdmarc.smtp_tls_reporting
import checkdmarc.utils
import dns.nameserver
import dns.resolver
import pytest
from octodns.zone import Zone

from mailzone.octo.registry import decode
from tests.cli import mailzone, write_provider
from tests.helpers import basic_spec, write_spec
from tests.servers import DnsServer, make_provider, txt_values

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

NAME = "_smtp._tls.example.org."
TLS_RPT = """\
tls_rpt:
  rua: ["mailto:tls-reports@example.org", "https://reports.example.net/tls,rpt"]
"""
WANTED = "v=TLSRPTv1; rua=mailto:tls-reports@example.org,https://reports.example.net/tls%2Crpt"
OTHERS = ("spf", "dkim", "dmarc", "mx", "rdns", "blocklist", "smtp", "https")


def _applied(root: Path, server: DnsServer) -> None:
    config = server.provider_config()
    config["mailzone"] = {"nameservers": [f"127.0.0.1:{server.port}"]}  # drift asks it
    write_provider(root, "dns", config)
    write_spec(root, "example.org", basic_spec(provider="dns", extra=TLS_RPT))
    applied = mailzone(root, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err


def _check(root: Path, server: DnsServer) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    """`mailzone check` of drift and tls_rpt: the exit code and the findings by family."""
    skip = [arg for family in OTHERS for arg in ("--skip", family)]
    run = mailzone(
        root, "check", "--nameserver", f"127.0.0.1:{server.port}", *skip, "--format", "json"
    )
    assert run.err == "", run.err
    (report,) = json.loads(run.out)["domains"]
    by_family: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        by_family.setdefault(finding["check"], []).append(finding)
    return run.code, by_family


def _checkdmarc(server: DnsServer) -> dict[str, Any]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", server.port)]
    resolver.timeout = resolver.lifetime = 2.0
    checkdmarc.utils.DNS_CACHE.clear()
    try:
        result: dict[str, Any] = checkdmarc.smtp_tls_reporting.check_smtp_tls_reporting(
            "example.org", resolver=resolver
        )
    finally:
        checkdmarc.utils.DNS_CACHE.clear()
    return result


def test_applied_tls_rpt_is_served_owned_and_passes_check(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    # given a spec with tls_rpt, applied
    _applied(tmp_path, dns_server)

    # then the server serves exactly the record, the registry owns it, checkdmarc accepts it
    assert txt_values(dns_server, NAME) == [WANTED]
    registry = decode(txt_values(dns_server, "_mailzone.example.org."))
    assert "TXT/_smtp._tls" in registry["example.org"]
    theirs = _checkdmarc(dns_server)
    assert theirs["valid"], theirs
    assert theirs["tags"]["rua"]["value"] == [
        "mailto:tls-reports@example.org",
        "https://reports.example.net/tls%2Crpt",
    ]
    assert theirs["warnings"] == []

    # and `mailzone check` passes the family (and drift)
    code, found = _check(tmp_path, dns_server)
    assert code == 0, found
    (finding,) = found["tls_rpt"]
    assert finding["status"] == "pass"
    assert finding["message"] == (
        "_smtp._tls.example.org: reports to mailto:tls-reports@example.org, "
        "https://reports.example.net/tls%2Crpt"
    )


def test_a_hand_edited_tslrptv1_typo_fails_check_by_name(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    # given the record applied, then hand-edited on the server to the common typo
    _applied(tmp_path, dns_server)
    typo = WANTED.replace("TLSRPTv1", "TSLRPTv1")
    provider = make_provider(dns_server, "someone-else")
    zone = Zone("example.org.", [])
    provider.populate(zone)
    live = zone.get_type("_smtp._tls", "TXT")
    assert live is not None
    zone.add_record(live.copy(zone=zone, values=[typo.replace(";", "\\;")]), replace=True)
    provider.apply(provider.plan(zone))
    assert txt_values(dns_server, NAME) == [typo]

    # when checked
    code, found = _check(tmp_path, dns_server)

    # then the family fails, naming the typo and the fix
    assert code == 3
    (finding,) = found["tls_rpt"]
    assert finding["status"] == "fail"
    assert "'v=TSLRPTv1' is a misspelling of 'v=TLSRPTv1'" in finding["message"]
    assert finding["fix"] == "run `mailzone apply` (it publishes the record the spec wants)"
    assert not _checkdmarc(dns_server)["valid"]  # the outside parser ignores it too

    # and apply puts the right record back
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    assert txt_values(dns_server, NAME) == [WANTED]
