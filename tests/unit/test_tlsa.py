"""DANE TLSA: the SPKI hash of a certificate or key (against openssl), the records a spec and
its state make, and the spec's and state's validation."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
from pathlib import Path

import pytest
import trustme
from pydantic import ValidationError

from mailzone.records.domain import expand_domain
from mailzone.records.families import generates
from mailzone.records.tlsa import spki_sha256
from mailzone.repo.project import Domain
from mailzone.spec.state import DomainState, TlsaKey
from tests.helpers import basic_spec, example_errors, load_example

DANE = "dnssec: true\ndane: {}\n"
NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)


def _openssl_hash(cert: bytes) -> str:
    """`3 1 1` data as the usual recipe computes it (openssl x509 | pkey -pubin | sha256)."""
    pub = subprocess.run(
        ["openssl", "x509", "-noout", "-pubkey"], input=cert, capture_output=True, check=True
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, capture_output=True, check=True
    ).stdout
    return hashlib.sha256(der).hexdigest()


def test_spki_hash_is_the_same_from_the_certificate_its_key_and_openssl() -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("mail.example.org")
    cert = leaf.cert_chain_pems[0].bytes()
    key = leaf.private_key_pem.bytes()

    assert spki_sha256(cert) == spki_sha256(key) == _openssl_hash(cert)
    assert spki_sha256(cert) != spki_sha256(ca.cert_pem.bytes())


def test_spki_hash_refuses_text_without_pem() -> None:
    with pytest.raises(ValueError, match="no PEM"):
        spki_sha256(b"hello")


def test_tlsa_records_carry_current_and_next_as_3_1_1(tmp_path: Path) -> None:
    domain = load_example(tmp_path, basic_spec(extra=DANE))
    keys = [
        TlsaKey(host="mail.example.org", role="current", spki_sha256="a" * 64, added=NOW),
        TlsaKey(host="mail.example.org", role="next", spki_sha256="b" * 64, added=NOW),
    ]
    state = domain.state.model_copy(update={"tlsa": keys})
    records = load_domain_records(domain, state)

    assert records[("_25._tcp.mail", "TLSA")] == (f"3 1 1 {'a' * 64}", f"3 1 1 {'b' * 64}")
    assert generates("TLSA", "_25._tcp.mail") and not generates("TLSA", "www")


def test_a_dane_host_without_keys_gets_no_record(tmp_path: Path) -> None:
    domain = load_example(tmp_path, basic_spec(extra=DANE))
    assert not [r for r in domain.records if r.type == "TLSA"]


def load_domain_records(
    domain: Domain, state: DomainState
) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(r.name, r.type): r.values for r in expand_domain(domain.spec, state, {})}


def test_dane_without_dnssec_is_refused_naming_the_line(tmp_path: Path) -> None:
    lines = example_errors(tmp_path, basic_spec(extra="dane: {}\n"))
    assert lines == [
        "zones/example.org.yaml:11: dane: TLSA records need a DNSSEC-signed zone (receivers "
        "ignore them otherwise); sign the zone, then set dnssec: true"
    ]


def test_dane_hosts_must_be_mx_hosts_inside_the_zone(tmp_path: Path) -> None:
    body = basic_spec(extra="dnssec: true\ndane:\n  hosts: [mail, nope, out.example.net.]\n")
    body = body.replace(
        "hosts:\n  - name: mail",
        "hosts:\n  - {name: out.example.net., roles: [mx]}\n  - name: mail",
        1,
    )
    lines = example_errors(tmp_path, body)
    assert lines == [
        "zones/example.org.yaml:14: dane.hosts: 'nope' is not one of hosts",
        "zones/example.org.yaml:14: dane.hosts: 'out.example.net.' lies outside the zone: its "
        "TLSA is its own zone's to publish",
    ]


def test_state_refuses_two_current_keys_or_a_bad_hash() -> None:
    key = {"host": "mail.example.org", "role": "current", "spki_sha256": "a" * 64, "added": NOW}
    with pytest.raises(
        ValidationError, match=r"current of host 'mail\.example\.org' appears twice"
    ):
        DomainState(domain="example.org", tlsa=[key, {**key, "spki_sha256": "b" * 64}])
    with pytest.raises(ValidationError, match="spki_sha256"):
        DomainState(domain="example.org", tlsa=[{**key, "spki_sha256": "A" * 64}])
