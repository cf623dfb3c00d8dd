"""octoDNS's own validators (zone-level `mail` with `min_mx: 1`, every record- and value-level
validator for the types present) find nothing in the zones mailzone generates, and do find
a hand-broken one."""

from __future__ import annotations

from pathlib import Path

import pytest
from octodns.record import Record

from tests.helpers import (
    DANE_SPEC,
    MTA_STS_SPEC,
    basic_spec,
    dane_state,
    ed25519_public_b64,
    rsa_public_b64,
    write_spec,
)
from tests.octo_oracle import generated_zone, octodns_findings

TLS_RPT = 'tls_rpt:\n  rua: ["mailto:tls@example.org", "https://reports.example.net/tlsrpt"]\n'
MULTI_MX = """\
    hosts:
      - {name: mx1, ipv4: [192.0.2.25], ipv6: ["2001:db8::25"]}
      - {name: mx2, ipv4: [192.0.2.26], mx_priority: 20}
      - {name: mx.backup.example.net., roles: [mx], mx_priority: 30}
      - {name: out, ipv4: [192.0.2.27], roles: [send]}
    """

# name → the files of one repository (path → text; every zone among example.org and
# example.net is checked): a spec for a new record family is one more line here. No null-MX
# (parked) domain: a spec needs a host with the mx role.
ORG, NET = "zones/example.org.yaml", "zones/example.net.yaml"
SPECS: dict[str, dict[str, str]] = {
    "basic": {ORG: basic_spec()},
    "a mail domain below its zone": {
        ORG: basic_spec(),
        "zones/lists.example.org.yaml": basic_spec(
            "lists.example.org", extra="zone: example.org\n"
        ),
    },
    "mta-sts and tls-rpt": {ORG: basic_spec(extra=MTA_STS_SPEC) + TLS_RPT},
    "mta-sts by cname, enforce": {
        ORG: basic_spec(extra=MTA_STS_SPEC.replace("testing", "enforce")).replace(
            'ipv4: [192.0.2.80]\n    ipv6: ["2001:db8::80"]', "cname: web.example.net"
        )
        + TLS_RPT
    },
    "multi-mx, dkim rsa+ed25519, reports elsewhere": {
        ORG: basic_spec(extra=MULTI_MX)
        .replace("hosts:\n  - name: mail\n    ipv4: [192.0.2.25]\n", "")
        .replace('    ipv6: ["2001:db8::25"]\n', "", 1)
        .replace("postmaster@example.org", "dmarc@example.net")
        + "dkim:\n  algorithms: []\n  import:\n"
        f'    - {{selector: "r1", public_key: "{rsa_public_b64()}"}}\n'
        f'    - {{selector: "e1", public_key: "v=DKIM1; k=ed25519; p={ed25519_public_b64()}"}}\n',
        NET: basic_spec("example.net"),
    },
    "dane, current and next key": {
        ORG: basic_spec(extra=DANE_SPEC),
        "state/example.org.yaml": dane_state(),
    },
}


def _repository(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


@pytest.mark.parametrize("files", SPECS.values(), ids=list(SPECS))
def test_octodns_validators_find_nothing_in_generated_zones(
    tmp_path: Path, files: dict[str, str]
) -> None:
    _repository(tmp_path, files)

    for zone in ("example.org", "example.net"):
        if f"zones/{zone}.yaml" in files:
            assert octodns_findings(generated_zone(tmp_path, zone)) == []


def test_the_multi_mx_zone_holds_what_it_should(tmp_path: Path) -> None:
    """The spec above really is what its name says (not a zone the oracle passes by being empty)."""
    _repository(tmp_path, SPECS["multi-mx, dkim rsa+ed25519, reports elsewhere"])
    zone = generated_zone(tmp_path, "example.org")
    types = {(r.name, r._type): r for r in zone.records}

    assert len(types[("", "MX")].values) == 3
    assert {("r1._domainkey", "TXT"), ("e1._domainkey", "TXT")} <= set(types)
    reports = generated_zone(tmp_path, "example.net")
    assert reports.get_type("example.org._report._dmarc", "TXT") is not None


def test_the_oracle_reads_the_tlsa_values(tmp_path: Path) -> None:
    _repository(tmp_path, SPECS["dane, current and next key"])
    zone = generated_zone(tmp_path, "example.org")
    tlsa = zone.get_type("_25._tcp.mail", "TLSA")
    assert tlsa is not None and len(tlsa.values) == 2
    fields = ("certificate_usage", "selector", "matching_type", "certificate_association_data")
    short = dict(zip(fields, (3, 1, 1, "ab"), strict=True))  # a hash too short for SHA-256
    zone.add_record(tlsa.copy(values=[short]), replace=True, lenient=True)

    assert any("via: tlsa-value-rfc" in f for f in octodns_findings(zone))


def test_the_oracle_finds_a_softless_spf_and_a_missing_dmarc(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    zone = generated_zone(tmp_path, "example.org")
    zone.remove_record(zone.get_type("_dmarc", "TXT"))
    broken = Record.new(zone, "", {"type": "TXT", "ttl": 300, "value": "v=spf1 mx"})
    zone.add_record(broken, replace=True)

    findings = octodns_findings(zone)

    assert any('should terminate with "~all" or "-all"' in f for f in findings), findings
    assert any("missing a DMARC TXT record" in f for f in findings), findings


def test_the_oracle_runs_value_validators(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    zone = generated_zone(tmp_path, "example.org")
    mx = Record.new(
        zone, "", {"type": "MX", "ttl": 300, "value": {"preference": 10, "exchange": "192.0.2.25"}}
    )
    zone.add_record(mx, replace=True, lenient=True)

    assert any("via: mx-value-not-ip" in f for f in octodns_findings(zone))
