"""Crafted DNS for `mailzone check` tests: one mail domain per case, and the zones around them
(reverse zones, a blocklist, SPF include targets, a DMARC report destination, a CNAME host).

Every address is a documentation address (203.0.113.0/24, 198.51.100.0/24, 2001:db8::/32) and
every zone is served by BIND on 127.0.0.1, which is also the resolver the checks ask."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsigkeyring
import dns.update
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ed25519

from mailzone.spec import dkim_key
from mailzone.spec.state import DomainState, SelectorState
from tests.servers import BindServer, zone_text

SELECTOR = "sel1"
SELECTOR_ED25519 = "sel1e"
REVERSE4 = "113.0.203.in-addr.arpa."
REVERSE6 = "8.b.d.0.1.0.0.2.ip6.arpa."  # 2001:db8::/32
INCLUDES = "inc.test."  # SPF include targets
REPORTS = "reports.test."  # an external DMARC report destination
OTHER = "other.test."  # hosts outside the mail domains
BLOCKLIST = "bl.test."  # lists 127.0.0.2 for LISTED's address
REFUSING = "refuse.test."  # answers 127.255.255.254 for everything, like Spamhaus to big resolvers
EMPTY_LIST = "empty.test."  # served, lists nothing: not a DNSBL (as a typo'd list name would be)
DMARC_ZONE = "dmarc.test."  # _dmarc.<label>.dmarc.test: one DMARC record per label (DMARC_RECORDS)
PROBE = "192.0.2.255"  # mailzone's SPF walk probe (never a sender)


@dataclass(frozen=True)
class Case:
    """One mail domain: host `mail` at 203.0.113.<n> (and 2001:db8::<n> with `ipv6`)."""

    domain: str
    n: int
    ipv6: bool = False
    include: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    rua: tuple[str, ...] = ()
    provider: str = "bind"
    ptr: str | None = "self"  # "self": mail.<domain>; None: no PTR; else that name
    ptr6: bool = True
    ip4: tuple[str, ...] = ()  # spf.ip4
    zone: str | None = None  # the zone holding the domain, when it is a parent of it
    mx_host: str | None = None  # an absolute MX-only host instead of `mail` taking MX

    @property
    def ipv4(self) -> str:
        return f"203.0.113.{self.n}"

    @property
    def ipv6_address(self) -> str | None:
        return f"2001:db8::{self.n}" if self.ipv6 else None

    @property
    def mail(self) -> str:
        return f"mail.{self.domain}"

    def spec(self) -> str:
        """zones/<domain>.yaml."""
        lines = [
            f"domain: {self.domain}",
            f"provider: {self.provider}",
            *([f"zone: {self.zone}"] if self.zone else []),
            "ttl: 300",
            "hosts:",
            "  - name: mail",
            f"    ipv4: [{self.ipv4}]",
        ]
        if self.ipv6_address:
            lines.append(f'    ipv6: ["{self.ipv6_address}"]')
        if self.mx_host:
            lines += ["    roles: [send]", f"  - name: {self.mx_host}", "    roles: [mx]"]
        lines.append("spf:")
        lines.append(f"  include: [{', '.join(self.include)}]")
        lines.append(f"  terms: [{', '.join(repr(t) for t in self.terms)}]")
        lines.append(f"  ip4: [{', '.join(self.ip4)}]")
        lines += ["dmarc:", "  policy: reject"]
        rua = self.rua or (f"mailto:dmarc@{self.domain}",)
        lines.append(f"  rua: [{', '.join(repr(r) for r in rua)}]")
        return "\n".join(lines) + "\n"


GOOD = Case(
    "good.example",
    10,
    ipv6=True,
    include=("_spf.inc.test",),
    rua=("mailto:dmarc@good.example", "mailto:agg@reports.test"),
)
SPF_LOOKUPS = Case("spf-lookups.example", 11, include=("n1.inc.test",))
SPF_TWO = Case("spf-two.example", 12)
SPF_VOIDS = Case(
    "spf-voids.example", 13, terms=("a:nx1.inc.test", "a:nx2.inc.test", "a:nx3.inc.test")
)
DKIM_DNS = Case("dkim-dns.example", 14)
DKIM_FILE = Case("dkim-file.example", 15)
DKIM_REVOKED = Case("dkim-revoked.example", 16)
DMARC_TYPO = Case("dmarc-typo.example", 17)
DMARC_TAG = Case("dmarc-tag.example", 18)
DMARC_RUA = Case("dmarc-rua.example", 19, rua=("mailto:agg@reports.test",))
MX_CNAME = Case("mx-cname.example", 20, mx_host="mx.other.test.")
PTR_MISSING = Case("ptr-missing.example", 21, ptr=None)
PTR_UNCONFIRMED = Case("ptr-unconfirmed.example", 22, ptr="stranger.other.test")
V6_NO_PTR = Case("v6-noptr.example", 23, ipv6=True, ptr6=False)
LISTED = Case("listed.example", 24)
REFUSED = Case("refused.example", 25)
NS_DOWN = Case("ns-down.example", 26, provider="bind-down")
SOA_SPLIT = Case("soa-split.example", 27, provider="bind-split")
LISTED6 = Case("listed6.example", 28, ipv6=True)  # its IPv6 address is listed
NS_UNKNOWN = Case("ns-unknown.example", 31, provider="bind-plain")  # no nameservers configured
SPF_TEMP = Case("spf-temp.example", 32, include=("spf.not-served.test",))  # BIND: REFUSED
PTR_OTHER = Case("ptr-other.example", 33, ptr="smtp33.other.test")  # confirmed, not mail.*
SPF_GAP = Case("spf-gap.example", 34)  # its SPF and HELO records are edited by hand
MX_ADDRESS = Case("mx-address.example", 35)  # its mail host's A is changed by hand
DKIM_TWO = Case("dkim-two.example", 37)  # a second TXT record at its selector, by hand
DKIM_BROKEN = Case("dkim-broken.example", 38)  # its key record replaced by a truncated key
SUBDOMAIN = Case(  # a mail domain inside a parent zone, reports to the parent
    "sub.parent.example", 36, zone="parent.example", rua=("mailto:dmarc@parent.example",)
)
NULL_MX = Case("null-mx.example", 30)  # its MX is replaced by hand with the null MX "0 ."
SPF_BIG = Case("spf-big.example", 29, ip4=tuple(f"198.51.100.{i}" for i in range(100, 124)))

CASES = (
    GOOD,
    SPF_LOOKUPS,
    SPF_TWO,
    SPF_VOIDS,
    DKIM_DNS,
    DKIM_FILE,
    DKIM_REVOKED,
    DMARC_TYPO,
    DMARC_TAG,
    DMARC_RUA,
    MX_CNAME,
    PTR_MISSING,
    PTR_UNCONFIRMED,
    V6_NO_PTR,
    LISTED,
    REFUSED,
    NS_DOWN,
    SOA_SPLIT,
    LISTED6,
    SPF_BIG,
    NULL_MX,
    PTR_OTHER,
    SPF_GAP,
    MX_ADDRESS,
    SUBDOMAIN,
    DKIM_TWO,
    DKIM_BROKEN,
    NS_UNKNOWN,
    SPF_TEMP,
)


def crafted_zones() -> dict[str, str]:
    """Every zone that is not a mail domain, as zone-file text."""
    ptr4 = []
    ptr6 = []
    for case in CASES:
        target = case.mail if case.ptr == "self" else case.ptr
        if target is not None:
            ptr4.append(f"{case.n} PTR {target}.")
        if case.ipv6_address and case.ptr6:
            owner = ipaddress.ip_address(case.ipv6_address).reverse_pointer
            ptr6.append(f"{owner}. PTR {case.mail}.")
    chain = [f'n{i} TXT "v=spf1 include:n{i + 1}.inc.test -all"' for i in range(1, 11)]
    listed = f"{LISTED.n}.113.0.203"
    assert LISTED6.ipv6_address is not None
    listed6 = ipaddress.ip_address(LISTED6.ipv6_address).reverse_pointer[: -len(".ip6.arpa")]
    return {
        REVERSE4: zone_text(REVERSE4, ptr4),
        REVERSE6: zone_text(REVERSE6, ptr6),
        INCLUDES: zone_text(
            INCLUDES,
            [
                '_spf TXT "v=spf1 ip4:198.51.100.0/24 -all"',
                *chain,
                'n11 TXT "v=spf1 -all"',
                'voids2 TXT "v=spf1 a:nx1.inc.test a:nx2.inc.test -all"',
                f'mx TXT "v=spf1 mx:{GOOD.domain} -all"',
                'a24 TXT "v=spf1 a:real.other.test/24 -all"',
                f'ptr TXT "v=spf1 ptr:{GOOD.domain} -all"',
                'exists TXT "v=spf1 exists:%{ir}.%{v}.allow.inc.test -all"',
                f"{GOOD.n}.113.0.203.in-addr.allow A 127.0.0.2",
                'redirect TXT "v=spf1 redirect=_spf.inc.test"',
                'outside TXT "v=spf1 include:spf.not-served.test -all"',
                'nospf TXT "not an SPF record"',
                'noinc TXT "v=spf1 include:nospf.inc.test -all"',
                'redir-none TXT "v=spf1 redirect=nospf.inc.test"',
                'plusall TXT "v=spf1 +all"',
                'incpass TXT "v=spf1 include:plusall.inc.test -all"',
                'dualcidr TXT "v=spf1 a:real6.other.test/24//64 -all"',
                'manymx TXT "v=spf1 mx:mxfarm.inc.test -all"',
                *(f"mxfarm MX {i} h{i}.mxfarm.inc.test." for i in range(11)),
                *(f"h{i}.mxfarm A 192.0.2.{i + 1}" for i in range(11)),
                'macro-l TXT "v=spf1 exists:%{l}.%{d2}.users.inc.test -all"',
                "postmaster.inc.test.users A 127.0.0.2",
                'exp TXT "v=spf1 -all exp=explain.inc.test"',
                'explain TXT "%{i} is not one of %{d}\'s senders"',
                'upper TXT "V=SPF1 INCLUDE:_SPF.INC.TEST -ALL"',
                'mxvoid TXT "v=spf1 mx:nx4.inc.test mx:nx5.inc.test ip4:192.0.2.1 -all"',
                'ptrself TXT "v=spf1 ptr -all"',
                'redir-all TXT "v=spf1 -all redirect=plusall.inc.test"',
                'two-redir TXT "v=spf1 redirect=_spf.inc.test redirect=plusall.inc.test"',
                'unknown-mod TXT "v=spf1 foo=bar ip4:192.0.2.0/24 -all"',
                'bad-ip4 TXT "v=spf1 ip4:192.0.2 -all"',
                'inc-soft TXT "v=spf1 include:soft.inc.test ip4:192.0.2.1 -all"',
                'soft TXT "v=spf1 ~all"',
                'inc-nx TXT "v=spf1 include:nx9.inc.test -all"',
                'exists-void TXT "v=spf1 exists:nx6.inc.test exists:nx7.inc.test exists:nx8.inc.test +all"',
                'mx-void TXT "v=spf1 mx:nospf.inc.test mx:soft.inc.test mx:plusall.inc.test +all"',
                'macro-p TXT "v=spf1 exists:%{p}.valid.inc.test -all"',
                "mail.good.example.valid A 127.0.0.2",
                'cname-a TXT "v=spf1 a:alias.inc.test -all"',
                "alias CNAME realhost.inc.test.",  # in-zone: BIND adds the A (no recursion)
                "realhost A 198.51.100.30",
                'spaces TXT "v=spf1  ip4:192.0.2.1   -all"',
                'neutral TXT "v=spf1 ?all"',
            ],
        ),
        REPORTS: zone_text(
            REPORTS,
            [
                "@ MX 10 mx.reports.test.",
                "mx A 198.51.100.25",
                f'{GOOD.domain}._report._dmarc TXT "v=DMARC1"',
            ],
        ),
        OTHER: zone_text(
            OTHER,
            [
                "mx CNAME real.other.test.",
                "real A 198.51.100.30",
                "real6 A 198.51.100.31",
                "real6 AAAA 2001:db8:1::31",
                "stranger A 198.51.100.99",
                f"smtp33 A {PTR_OTHER.ipv4}",
            ],
        ),
        BLOCKLIST: zone_text(
            BLOCKLIST,
            [
                "2.0.0.127 A 127.0.0.2",  # RFC 5782 test entry
                f"{listed} A 127.0.0.2",
                f'{listed} TXT "listed: spam trap hits (test)"',
                f"{listed6} A 127.0.0.3",
            ],
        ),
        REFUSING: zone_text(REFUSING, ["* A 127.255.255.254"]),
        EMPTY_LIST: zone_text(EMPTY_LIST),
        DMARC_ZONE: zone_text(
            DMARC_ZONE,
            ["@ MX 10 mx.dmarc.test.", "mx A 198.51.100.1"]
            + [f'_dmarc.{label} TXT "{record}"' for label, record in DMARC_RECORDS.items()],
        ),
    }


@cache
def ed25519_private() -> ed25519.Ed25519PrivateKey:
    """One Ed25519 key per test run."""
    return ed25519.Ed25519PrivateKey.generate()


def active_selector(selector: str, public_b64: str) -> SelectorState:
    """An active selector holding `public_b64` (base64 SPKI for RSA, raw for Ed25519)."""
    key = dkim_key.parse_public_key(public_b64)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return SelectorState.of_key(selector, key, "active", when, changed=when, switched=when)


# label → DMARC record, for the checkdmarc cross-check (each at _dmarc.<label>.dmarc.test)
DMARC_RECORDS = {
    "full": "v=DMARC1; p=reject; sp=none; adkim=s; aspf=r; fo=1:d; rua=mailto:a@dmarc.test",
    "nospace": "v=DMARC1;p=quarantine",
    "trailing": "v=DMARC1; p=reject;",
    "wsp": "v = DMARC1 ; p = reject",
    "upper": "v=DMARC1; p=REJECT",
    "bis": "v=DMARC1; p=reject; t=y; np=reject; psd=n",
    "pct": "v=DMARC1; p=reject; pct=50",
    "size": "v=DMARC1; p=reject; rua=mailto:a@dmarc.test!10m",
    "fo2": "v=DMARC1; p=reject; fo=2",
    "fo-bad": "v=DMARC1; p=reject; fo=1:x",
    "empty-rua": "v=DMARC1; p=reject; rua=",
    "dup": "v=DMARC1; p=reject; p=none",
    "nosemi": "v=DMARC1 p=reject",
    "lowerv": "v=dmarc1; p=reject",
    "notfirst": "p=reject; v=DMARC1",
    "nop": "v=DMARC1; sp=reject",
    "adkim": "v=DMARC1; p=reject; adkim=x",
    "https": "v=DMARC1; p=reject; rua=https://r.example/x",
}


def state_for(domain: str, public_b64: str, ed25519_b64: str | None = None) -> DomainState:
    """A state with one active RSA selector (SELECTOR) holding `public_b64`, and optionally an
    active Ed25519 selector (SELECTOR_ED25519) for dual signing."""
    entries = [active_selector(SELECTOR, public_b64)]
    if ed25519_b64 is not None:
        entries.append(active_selector(SELECTOR_ED25519, ed25519_b64))
    return DomainState(domain=domain, selectors=entries)


def host_config(key_dir: str = "keys", nameservers: dict[str, list[str]] | None = None) -> str:
    """host.yaml: the private keys live in `key_dir` (relative to the file); `nameservers`
    per zone override the providers'."""
    text = f"key_dir: {key_dir}\n"
    if nameservers:
        text += "nameservers:\n" + "".join(
            f"  {zone}: [{', '.join(servers)}]\n" for zone, servers in nameservers.items()
        )
    return text


# -- editing what BIND serves, as someone would by hand (RFC 2136, like nsupdate) ------------


def _txt(value: str) -> dns.rdtypes.ANY.TXT.TXT:
    data = value.encode()
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)


def nsupdate(server: BindServer, zone: str, edits: list[tuple[str, str, str, list[str]]]) -> None:
    """Apply edits (`op` 'replace'/'add'/'delete', name, type, values) in one signed UPDATE."""
    keyring = dns.tsigkeyring.from_text({server.key_name: server.key_secret})
    update = dns.update.UpdateMessage(
        zone,
        keyring=keyring,
        keyname=dns.name.from_text(server.key_name),
        keyalgorithm=server.key_algorithm,
    )
    for op, name, rdtype, values in edits:
        owner = dns.name.from_text(name)
        if op == "delete":
            update.delete(owner, rdtype)
            continue
        rdatas = [
            _txt(v) if rdtype == "TXT" else dns.rdata.from_text("IN", rdtype, v) for v in values
        ]
        getattr(update, op)(owner, 300, *rdatas)
    response = dns.query.tcp(update, server.host, port=server.port, timeout=5)
    if response.rcode() != dns.rcode.NOERROR:
        raise RuntimeError(f"UPDATE {zone}: {dns.rcode.to_text(response.rcode())}")


def zone_transfer(server: BindServer, zone: str) -> dns.zone.Zone:
    """The zone as the server holds it (AXFR signed with its key)."""
    keyring = dns.tsigkeyring.from_text({server.key_name: server.key_secret})
    return dns.zone.from_xfr(
        dns.query.xfr(
            server.host,
            zone,
            port=server.port,
            keyring=keyring,
            keyname=server.key_name,
            keyalgorithm=server.key_algorithm,
            timeout=5,
            relativize=False,
        ),
        relativize=False,
    )


def serial_of(zone: dns.zone.Zone) -> int:
    """The zone's SOA serial."""
    serial: int = zone.find_rdataset("@", "SOA")[0].serial
    return serial


def with_serial(zone: dns.zone.Zone, serial: int) -> str:
    """The zone's text with its SOA serial replaced."""
    soa = zone.find_rdataset("@", "SOA")
    ttl, new = soa.ttl, soa[0].replace(serial=serial)
    soa.clear()
    soa.add(new, ttl)
    text: str = zone.to_text(relativize=False)
    return text


def ask(server: BindServer, name: str, rdtype: str) -> dns.message.Message:
    """One plain query to the server (for the cross-checks' resolvers)."""
    request = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    response, _ = dns.query.udp_with_fallback(request, server.host, port=server.port, timeout=2)
    return response
