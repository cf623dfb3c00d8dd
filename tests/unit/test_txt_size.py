"""Every generated TXT record must be one a DNS server accepts (issue 11): over MAX_TXT_OCTETS
of TXT data is refused naming file, line and field, whatever family made it; an SPF record over
the 512-byte UDP answer RFC 7208 section 3.4 asks for is a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailzone.errors import SpecError
from mailzone.records.domain import expand_domain
from mailzone.repo.spec_checks import MAX_TXT_OCTETS, check_spec, spec_warnings, txt_octets
from mailzone.spec.state import DomainState
from mailzone.spec.yamlfile import YamlDoc, field_path, load_yaml, validate
from mailzone.spec.zone import ZoneSpec
from tests.helpers import basic_spec, big_rsa_public_b64, ed25519_public_b64, write_spec


def _ips(n: int) -> str:
    return "".join(f"\n    - 10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in range(n))


def _load(root: Path, extra: str) -> tuple[ZoneSpec, YamlDoc]:
    path = write_spec(root, "example.org", basic_spec(extra=extra))
    doc = load_yaml(path)
    return validate(ZoneSpec, doc), doc


def test_txt_octets_counts_a_length_byte_per_255_octet_string() -> None:
    assert txt_octets("") == 1
    assert txt_octets("x" * 255) == 256
    assert txt_octets("x" * 256) == 258


def test_five_thousand_ip4_entries_are_refused_naming_file_line_and_field(tmp_path: Path) -> None:
    spec, doc = _load(tmp_path, "spf:\n  ip4:" + _ips(5000) + "\n")
    with pytest.raises(SpecError) as info:
        check_spec(spec, doc, tmp_path)
    text = str(info.value)
    assert "\n" not in text
    assert "zones/example.org.yaml:12: spf.ip4: " in text, text
    assert f"{MAX_TXT_OCTETS:,}" in text


def test_a_helo_record_too_big_names_the_host(tmp_path: Path) -> None:
    spec_text = basic_spec().replace(
        "ipv4: [192.0.2.25]", "ipv4:" + _ips(400).replace("\n", "\n  ")
    )
    path = write_spec(tmp_path, "example.org", spec_text)
    doc = load_yaml(path)
    with pytest.raises(SpecError) as info:
        check_spec(validate(ZoneSpec, doc), doc, tmp_path)
    # the domain's record (all from the host) and the host's HELO record are both too big
    assert "example.org.yaml:4: hosts: the SPF record " in info.value.details[0]
    assert (
        "example.org.yaml:6: hosts[0].ipv4: the SPF record mail.example.org "
        in (info.value.details[1])
    )


def test_spf_over_the_udp_answer_is_a_warning(tmp_path: Path) -> None:
    spec, doc = _load(tmp_path, "spf:\n  ip4:" + _ips(40) + "\n")
    keys = check_spec(spec, doc, tmp_path)
    notes = spec_warnings(spec, keys, doc.where)
    spf = [n for n in notes if "512" in n]
    assert len(spf) == 1 and "RFC 7208" in spf[0] and ": spf: " in spf[0], notes


def test_a_small_spf_has_no_size_warning(tmp_path: Path) -> None:
    spec, doc = _load(tmp_path, "spf:\n  ip4:" + _ips(3) + "\n")
    keys = check_spec(spec, doc, tmp_path)
    assert not [n for n in spec_warnings(spec, keys, doc.where) if "512" in n]


def _refused(root: Path, spec_text: str) -> list[str]:
    path = write_spec(root, "example.org", spec_text)
    doc = load_yaml(path)
    with pytest.raises(SpecError) as info:
        check_spec(validate(ZoneSpec, doc), doc, root)
    return info.value.details


def test_a_dmarc_record_with_too_many_report_addresses_is_refused(tmp_path: Path) -> None:
    ruf = "".join(f"\n    - mailto:failure-{i:03}@reports.example.org" for i in range(150))
    (problem,) = _refused(tmp_path, basic_spec().replace("  rua:", "  ruf:" + ruf + "\n  rua:"))
    assert "zones/example.org.yaml:10: dmarc.ruf: the TXT record _dmarc.example.org " in problem
    assert f"more than the {MAX_TXT_OCTETS:,}" in problem


def test_an_imported_dkim_key_too_big_names_the_import(tmp_path: Path) -> None:
    small = ed25519_public_b64()
    dkim = (
        f"dkim:\n  import:\n    - {{selector: ok, public_key: {small}}}\n"
        f"    - {{selector: big, public_key: {big_rsa_public_b64()}}}\n"
    )
    (problem,) = _refused(tmp_path, basic_spec(extra=dkim))

    assert (
        "zones/example.org.yaml:14: dkim.import[1]: the TXT record big._domainkey.example.org "
        in problem
    )
    assert "import a shorter key" in problem


def test_every_generated_txt_record_names_a_spec_field_with_a_line(tmp_path: Path) -> None:
    # given a spec with a record of every TXT family (SPF, HELO SPF, DKIM import, DMARC)
    key = ed25519_public_b64()
    spec, doc = _load(tmp_path, f"dkim:\n  import:\n    - {{selector: s1, public_key: {key}}}\n")
    keys = check_spec(spec, doc, tmp_path)

    records = expand_domain(spec, DomainState(domain="example.org"), keys)

    # then each TXT record says which field made it, and that field is on a line of the file
    txt = [r for r in records if r.type == "TXT"]
    assert {r.name for r in txt} == {"", "mail", "s1._domainkey", "_dmarc"}
    origins = {r.name: field_path(r.origin) for r in txt}
    assert origins == {
        "": "hosts",
        "mail": "hosts[0].ipv4",
        "s1._domainkey": "dkim.import[0]",
        "_dmarc": "dmarc.rua",
    }
    assert all(doc.line_of(r.origin) for r in txt)
