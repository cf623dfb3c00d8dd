"""Spec validation: every error names file, line and field, in one line."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailzone.errors import SpecError
from mailzone.repo.project import load_domain
from tests.helpers import basic_spec, rsa_public_b64, write_spec


def _error(tmp_path: Path, body: str, domain: str = "example.org") -> str:
    path = write_spec(tmp_path, domain, body)
    with pytest.raises(SpecError) as caught:
        load_domain(path, tmp_path)
    return "\n".join(getattr(caught.value, "details", None) or [str(caught.value)])


def test_bad_ipv4_names_file_line_and_field(tmp_path: Path) -> None:
    body = """\
        domain: example.org
        hosts:
          - name: mail
            ipv4: [203.0.113.300]
        """
    assert _error(tmp_path, body).endswith(
        "zones/example.org.yaml:4: hosts[0].ipv4[0]: '203.0.113.300' is not an IPv4 address"
    )


def test_unknown_field_suggests_the_right_one(tmp_path: Path) -> None:
    body = basic_spec() + "dmarc_policy: reject\n"
    body = body.replace("  policy: none", "  polcy: none")
    message = _error(tmp_path, body)
    assert "dmarc: unknown field 'polcy' (did you mean 'policy'?)" in message
    assert "unknown field 'dmarc_policy'" in message


def test_enum_typo_lists_choices_and_hint(tmp_path: Path) -> None:
    message = _error(tmp_path, basic_spec().replace("policy: none", "policy: quarantaine"))
    assert message.endswith(
        ":9: dmarc.policy: 'quarantaine' is not one of none, quarantine, reject (did you mean 'quarantine'?)"
    )


def test_malformed_yaml_gives_line(tmp_path: Path) -> None:
    message = _error(tmp_path, "domain: example.org\nhosts: [\n  - name: mail\n")
    assert "example.org.yaml:" in message and "invalid YAML" in message


def test_a_control_character_is_one_line_with_its_line(tmp_path: Path) -> None:
    message = _error(tmp_path, basic_spec() + "x: \x00\n")
    assert message.endswith(
        "example.org.yaml:11: invalid YAML: unacceptable character #x0000: "
        "control characters are not allowed"
    ), message


@pytest.mark.parametrize("key", ["1", "~", "true"])
def test_a_key_that_is_not_text_is_named_at_its_line(tmp_path: Path, key: str) -> None:
    message = _error(tmp_path, basic_spec() + f"{key}: 2\n")
    assert message.endswith(f"example.org.yaml:11: key '{key}' is not text: fields are names")


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    message = _error(tmp_path, basic_spec() + "ttl: 600\n")
    assert "duplicate key 'ttl'" in message


def test_bad_mailto_and_host_name(tmp_path: Path) -> None:
    body = basic_spec().replace('"mailto:postmaster@example.org"', '"postmaster@example.org"')
    assert "dmarc.rua[0]: 'postmaster@example.org' is not a mailto: URI" in _error(tmp_path, body)
    body = basic_spec().replace("name: mail", "name: 'mail server'")
    assert "hosts[0].name: 'mail server' is not a host name" in _error(tmp_path, body)


def test_duplicate_selector_is_an_error(tmp_path: Path) -> None:
    key = rsa_public_b64()
    extra = f"""\
        dkim:
          import:
            - {{selector: "s1", public_key: "{key}"}}
            - {{selector: "s1", public_key: "{key}"}}
        """
    assert "duplicate selector 's1'" in _error(tmp_path, basic_spec(extra=extra))


def test_spf_over_ten_lookups_is_refused(tmp_path: Path) -> None:
    includes = ", ".join(f"_spf{i}.example.net" for i in range(8))
    extra = f"""\
        spf:
          include: [{includes}]
          terms: ["mx", "A:example.net", "?exists:%{{i}}.x.example.net"]
        """
    message = _error(tmp_path, basic_spec(extra=extra))
    assert "11 DNS-lookup terms, more than the 10 RFC 7208 allows" in message


def test_file_name_must_match_domain(tmp_path: Path) -> None:
    message = _error(tmp_path, basic_spec("example.net"), domain="example.org")
    assert "does not match the file name" in message


def test_small_rsa_import_is_refused_below_1024(tmp_path: Path) -> None:
    weak = rsa.RSAPublicNumbers(65537, (1 << 511) | 12345).public_key()  # too small to generate
    der = weak.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    extra = f"""\
        dkim:
          import:
            - {{selector: "old", public_key: "{base64.b64encode(der).decode()}"}}
        """
    assert "RSA key of 512 bits" in _error(tmp_path, basic_spec(extra=extra))


def test_public_key_file_relative_to_spec_and_with_line_breaks(tmp_path: Path) -> None:
    key = rsa_public_b64()
    keyfile = tmp_path / "zones" / "keys" / "20200803.pub"
    keyfile.parent.mkdir(parents=True)
    # pasted with line breaks and as zone-file chunks: still one key
    keyfile.write_text(f'"v=DKIM1; k=rsa; " "p={key[:200]}"\n  "{key[200:]}"\n')
    extra = """\
        dkim:
          import:
            - {selector: 20200803, public_key_file: keys/20200803.pub}
        """
    path = write_spec(tmp_path, "example.org", basic_spec(extra=extra))
    domain = load_domain(path, tmp_path)
    dkim = [r for r in domain.records if "_domainkey" in r.name]
    assert [r.name for r in dkim] == ["20200803._domainkey"]
    assert key in dkim[0].values[0].replace('" "', "")


def test_private_key_is_refused(tmp_path: Path) -> None:
    begin, end = "-----BEGIN " + "PRIVATE KEY-----", "-----END " + "PRIVATE KEY-----"  # no real key
    extra = f"""\
        dkim:
          import:
            - {{selector: s1, public_key: "{begin}\\nMIIE\\n{end}"}}
        """
    assert "this is a PRIVATE key" in _error(tmp_path, basic_spec(extra=extra))


@pytest.mark.parametrize("value", ["99999999999d", "9" * 30 + "s", "9" * 30])
def test_a_duration_past_what_python_holds_is_one_line(tmp_path: Path, value: str) -> None:
    body = basic_spec(extra=f"dkim:\n  rotate_every: {value}\n")
    assert _error(tmp_path, body).endswith(
        "zones/example.org.yaml:12: dkim.rotate_every: too long a duration (at most 999999999 days)"
    )
