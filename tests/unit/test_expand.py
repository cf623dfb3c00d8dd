"""Expansion: spec + state → records; pure and deterministic."""

from __future__ import annotations

from pathlib import Path

import dns.rdata
import dns.rdataclass
import dns.rdatatype
from hypothesis import given
from hypothesis import strategies as st

from mailzone.records.model import txt_rdata
from mailzone.repo.project import load_domain
from mailzone.spf import terms as spf_terms
from tests.helpers import basic_spec, rsa_public_b64, write_spec


def _records(tmp_path: Path, body: str) -> dict[tuple[str, str], tuple[str, ...]]:
    domain = load_domain(write_spec(tmp_path, "example.org", body), tmp_path)
    return {(r.name, r.type): r.values for r in domain.records}


def test_spf_is_built_from_sending_hosts_only(tmp_path: Path) -> None:
    body = """\
        domain: example.org
        hosts:
          - {name: mx1, ipv4: [192.0.2.1], roles: [mx]}
          - {name: out, ipv4: [192.0.2.2], ipv6: ["2001:db8::2"], roles: [send]}
          - {name: mx.backup.example.net., roles: [mx], mx_priority: 20}
        spf: {all: fail, include: [_spf.example.net], ip4: [198.51.100.0/24]}
        """
    records = _records(tmp_path, body)
    assert records[("", "TXT")] == (
        "v=spf1 ip4:192.0.2.2 ip4:198.51.100.0/24 ip6:2001:db8::2 include:_spf.example.net -all",
    )
    assert records[("", "MX")] == ("10 mx1.example.org.", "20 mx.backup.example.net.")
    assert records[("out", "TXT")] == ("v=spf1 ip4:192.0.2.2 ip6:2001:db8::2 -all",)
    assert ("mx1", "TXT") not in records  # not a sender: no HELO record
    assert not any(name.startswith("mx.backup") for name, _ in records)  # absolute: no A record


def test_dkim_record_is_unchunked_value_that_reassembles(tmp_path: Path) -> None:
    key = rsa_public_b64()
    extra = f"""\
        dkim:
          import:
            - {{selector: "20200803", public_key: "{key}"}}
        """
    domain = load_domain(write_spec(tmp_path, "example.org", basic_spec(extra=extra)), tmp_path)
    (record,) = [r for r in domain.records if r.name == "20200803._domainkey"]
    assert record.values == (f"v=DKIM1; k=rsa; p={key}",)  # unchunked: octoDNS and servers split it
    (presented,) = record.rdatas()
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, presented)
    assert b"".join(rdata.strings).decode() == f"v=DKIM1; k=rsa; p={key}"  # type: ignore[attr-defined]
    assert all(len(s) <= 255 for s in rdata.strings)  # type: ignore[attr-defined]


def test_dmarc_tags_in_order(tmp_path: Path) -> None:
    extra = """\
        """
    body = (
        basic_spec().replace(
            "  policy: none\n",
            "  policy: quarantine\n  subdomain_policy: reject\n  nonexistent_policy: reject\n"
            "  dkim_alignment: strict\n  failure_options: [1, d]\n  testing: true\n"
            '  ruf: ["mailto:forensic@example.net!10m"]\n',
        )
        + extra
    )
    (value,) = _records(tmp_path, body)[("_dmarc", "TXT")]
    assert value == (
        "v=DMARC1; p=quarantine; sp=reject; np=reject; adkim=s; t=y; fo=1:d; "
        "rua=mailto:postmaster@example.org; ruf=mailto:forensic@example.net!10m"
    )


def test_subdomain_in_parent_zone_uses_relative_names(tmp_path: Path) -> None:
    body = basic_spec("lists.example.org").replace(
        "provider: local", "provider: local\nzone: example.org"
    )
    domain = load_domain(write_spec(tmp_path, "lists.example.org", body), tmp_path)
    names = {(r.name, r.type) for r in domain.records}
    assert (
        ("lists", "MX") in names
        and ("_dmarc.lists", "TXT") in names
        and ("mail.lists", "A") in names
    )


def test_expansion_is_deterministic(tmp_path: Path) -> None:
    body = basic_spec(extra="spf: {include: [b.example.net, a.example.net]}\n")
    first = load_domain(write_spec(tmp_path, "example.org", body), tmp_path).records
    second = load_domain(write_spec(tmp_path, "example.org", body), tmp_path).records
    assert first == second


@given(st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=700))
def test_txt_presentation_round_trips_through_dnspython(value: str) -> None:
    rdata_text = txt_rdata(value)
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, rdata_text)
    assert b"".join(rdata.strings) == value.encode()  # type: ignore[attr-defined]


_TERMS = st.sampled_from(
    [
        "include:a.example",
        "a",
        "mx",
        "ptr",
        "exists:%{i}.x.example",
        "ip4:192.0.2.1",
        "ip6:2001:db8::1",
        "redirect=r.example",
        "exp=e.example",
        "a:h.example/24",
        "mx/24",
        "foo=bar",
    ]
)


@given(
    st.lists(
        st.tuples(st.sampled_from(["", "+", "-", "~", "?"]), _TERMS, st.booleans()), max_size=15
    )
)
def test_lookup_count_ignores_qualifiers_and_case(terms: list[tuple[str, str, bool]]) -> None:
    written = []
    expected = 0
    for qualifier, term, upper in terms:
        is_modifier = "=" in term
        text = term if is_modifier else qualifier + term
        written.append(text.upper() if upper and not is_modifier else text)
        name = term.split("=")[0] if is_modifier else term.split(":")[0].split("/")[0]
        expected += name in ("include", "a", "mx", "ptr", "exists", "redirect")
    assert spf_terms.count_lookups(" ".join(["v=spf1", *written])) == expected


def test_a_loaded_domain_keeps_the_lines_of_its_spec_not_the_parsed_yaml(tmp_path: Path) -> None:
    domain = load_domain(write_spec(tmp_path, "example.org", basic_spec()), tmp_path)
    assert domain.doc.data is None  # the spec model has it all: memory at 10,000 domains
    assert domain.doc.where(("domain",)).endswith("example.org.yaml:1")
