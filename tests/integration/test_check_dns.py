"""`mailzone check` against real BIND9 on 127.0.0.1, which is both the zones' authoritative
server (providers' `mailzone: nameservers`, read by the drift check) and the `--nameserver`
resolver (it answers authoritatively for every zone the checks ask about).

One BIND serves every case's mail domain (written by `mailzone apply`, then broken by hand where
a case needs it) and the crafted zones around them (tests/check_zones.py): reverse zones, SPF
include targets, a DMARC report destination, blocklists. Each broken case fails exactly the
expected finding(s) and nothing else. SPF verdicts are cross-checked against pyspf, SPF and DMARC
parsing against checkdmarc, both asking the same BIND.

Nothing leaves the loopback interface: every `mailzone` process and the in-process cross-checks
run under tests/netguard.py, which blocks and records any other destination."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import checkdmarc.dmarc
import checkdmarc.spf
import checkdmarc.utils
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest
import spf

from mailzone.check.dmarc import check_dmarc
from mailzone.check.env import CheckEnv
from mailzone.check.families import NAMES as FAMILIES
from mailzone.dkim import keys
from mailzone.dkim.store import KeyStore
from mailzone.dns.query import Dns
from mailzone.octo.authority import Authorities
from mailzone.repo.state import save_state
from mailzone.spec.host import HostConfig
from mailzone.spf.evaluate import Reply, check_host
from tests import netguard
from tests.check_zones import (
    CASES,
    DKIM_BROKEN,
    DKIM_DNS,
    DKIM_FILE,
    DKIM_REVOKED,
    DKIM_TWO,
    DMARC_RECORDS,
    DMARC_RUA,
    DMARC_TAG,
    DMARC_TYPO,
    GOOD,
    LISTED,
    LISTED6,
    MX_ADDRESS,
    MX_CNAME,
    NS_DOWN,
    NS_UNKNOWN,
    NULL_MX,
    PROBE,
    PTR_MISSING,
    PTR_OTHER,
    PTR_UNCONFIRMED,
    REFUSED,
    SELECTOR,
    SELECTOR_ED25519,
    SOA_SPLIT,
    SPF_BIG,
    SPF_GAP,
    SPF_LOOKUPS,
    SPF_TEMP,
    SPF_TWO,
    SPF_VOIDS,
    SUBDOMAIN,
    V6_NO_PTR,
    Case,
    ask,
    crafted_zones,
    ed25519_private,
    host_config,
    nsupdate,
    serial_of,
    state_for,
    with_serial,
    zone_transfer,
)
from tests.cli import Run, mailzone, write_provider
from tests.helpers import rsa_key, rsa_public_b64, write_spec
from tests.servers import BindServer, absolute, find_binary

pytestmark = pytest.mark.integration

DNS_FAMILIES = ("drift", "spf", "dkim", "dmarc", "mx", "rdns", "blocklist")
# Families that are not DNS checks (SMTP/HTTPS probes) are skipped: this file is about DNS.
OTHER_FAMILIES = tuple(f for f in FAMILIES if f not in DNS_FAMILIES)


@dataclass
class World:
    """The shared BIND servers and the repository whose specs they serve."""

    root: Path
    server: BindServer
    second: BindServer
    closed_port: int  # a nameserver that never answers
    guard_log: Path
    pythonpath: str
    checked: dict[tuple[str, ...], Checked] = field(default_factory=dict)  # runs, by arguments
    batch: tuple[int, dict[str, Checked]] | None = None  # the run over every domain

    @property
    def resolver(self) -> str:
        return f"127.0.0.1:{self.server.port}"


def _provider(server: BindServer, *nameservers: str) -> dict[str, Any]:
    config = server.provider_config()
    config["mailzone"] = {"nameservers": list(nameservers)}
    return config


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if find_binary(BindServer.binary) is None:
        pytest.skip("named is not installed (needed for the check integration tests)")
    crafted = crafted_zones()
    zones = [absolute(case.zone or case.domain) for case in CASES] + list(crafted)
    # A nameserver that never answers: a UDP port held open (so no one else takes it) and
    # never read. Its queries time out, as for a server that is down behind a firewall.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    second = BindServer()  # started below, once the first one has the zone to copy
    server = BindServer(zone_texts=crafted)
    try:
        server.start(zones)
        root = tmp_path_factory.mktemp("check-repo")
        guard_dir = tmp_path_factory.mktemp("netguard")
        guard_log = guard_dir / "blocked.log"
        guard_log.touch()
        (guard_dir / "sitecustomize.py").write_text(netguard.sitecustomize_source(guard_log))
        world = World(root, server, second, silent.getsockname()[1], guard_log, str(guard_dir))
        main = world.resolver
        write_provider(root, "bind", _provider(server, main))
        write_provider(root, "bind-down", _provider(server, main, f"127.0.0.1:{world.closed_port}"))
        write_provider(root, "bind-split", _provider(server, main))
        plain = server.provider_config()  # no `mailzone:` section: NS records decide
        write_provider(root, "bind-plain", plain)
        (root / "host.yaml").write_text(host_config("keys"))
        override = {NS_DOWN.domain: [main], NS_UNKNOWN.domain: [main]}
        (root / "host-ns.yaml").write_text(host_config("keys", override))
        store = KeyStore(root / "keys")
        for case in CASES:
            write_spec(root, case.domain, case.spec())
            save_state(root, state_for(case.domain, rsa_public_b64(2048, 0)))
        ed_public = keys.public_key_of(ed25519_private()).p
        save_state(root, state_for(GOOD.domain, rsa_public_b64(2048, 0), ed_public))
        store.write(GOOD.domain, SELECTOR, keys.private_key_pem(rsa_key(2048, 0)))
        store.write(GOOD.domain, SELECTOR_ED25519, keys.private_key_pem(ed25519_private()))
        store.write(DKIM_FILE.domain, SELECTOR, keys.private_key_pem(rsa_key(2048, 1)))

        applied = run(world, "apply", "--yes")
        assert applied.code == 0, applied.out + applied.err

        # by hand, after mailzone: what each broken case is about
        other_key = f"v=DKIM1; k=rsa; p={rsa_public_b64(2048, 1)}"
        nsupdate(server, SPF_TWO.domain, [("add", SPF_TWO.domain, "TXT", ["v=spf1 -all"])])
        nsupdate(server, NULL_MX.domain, [("replace", NULL_MX.domain, "MX", ["0 ."])])
        name = f"{SELECTOR}._domainkey.{DKIM_TWO.domain}"
        nsupdate(server, DKIM_TWO.domain, [("add", name, "TXT", [other_key])])
        nsupdate(
            server,
            SPF_GAP.domain,
            [
                ("replace", SPF_GAP.domain, "TXT", ["v=spf1 ip4:198.51.100.1 ~all"]),
                ("delete", SPF_GAP.mail, "TXT", []),
            ],
        )
        nsupdate(server, MX_ADDRESS.domain, [("replace", MX_ADDRESS.mail, "A", ["198.51.100.35"])])
        for case, value in (
            (DKIM_DNS, other_key),
            (DKIM_REVOKED, "v=DKIM1; k=rsa; p="),
            (DKIM_BROKEN, f"v=DKIM1; k=rsa; p={rsa_public_b64(2048, 0)[:200]}"),
        ):
            name = f"{SELECTOR}._domainkey.{case.domain}"
            nsupdate(server, case.domain, [("replace", name, "TXT", [value])])
        for case, value in (
            (DMARC_TYPO, "v=DMARC1; p=quarantin"),
            (DMARC_TAG, f"v=DMARC1; p=reject; rua2=mailto:dmarc@{DMARC_TAG.domain}"),
        ):
            nsupdate(server, case.domain, [("replace", f"_dmarc.{case.domain}", "TXT", [value])])

        # a secondary that serves the same records under a newer serial
        zone = zone_transfer(server, SOA_SPLIT.domain)
        second.zone_texts[absolute(SOA_SPLIT.domain)] = with_serial(zone, serial_of(zone) + 5)
        second.start([SOA_SPLIT.domain])
        write_provider(root, "bind-split", _provider(server, main, f"127.0.0.1:{second.port}"))
        yield world
    finally:
        silent.close()
        second.stop()
        server.stop()


@pytest.fixture(autouse=True)
def _nothing_left_loopback(world: World) -> Iterator[None]:
    yield
    blocked = world.guard_log.read_text()
    assert blocked == "", f"a packet would have left 127.0.0.1:\n{blocked}"


def run(world: World, *args: str) -> Run:
    """`mailzone` under the loopback guard."""
    return mailzone(world.root, *args, env={"PYTHONPATH": world.pythonpath})


@dataclass(frozen=True)
class Checked:
    code: int
    report: dict[str, Any]  # this domain's entry of `--format json`
    text: str  # `--problems` text output

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list(self.report["findings"])


def _check_args(world: World, host: str, blocklists: tuple[str, ...]) -> list[str]:
    args = ["--nameserver", world.resolver, "--host-config", str(world.root / host)]
    for listed in blocklists:
        args += ["--blocklist", listed]
    for family in OTHER_FAMILIES:
        args += ["--skip", family]
    return args


def _json_and_text(world: World, args: list[str]) -> tuple[int, dict[str, Any], str]:
    """One `check` as JSON and as `--problems` text (two processes at once); both exit alike."""
    with ThreadPoolExecutor(2) as pool:
        json_run = pool.submit(run, world, *args, "--format", "json")
        text_run = pool.submit(run, world, *args, "--problems")
        as_json, as_text = json_run.result(), text_run.result()
    assert as_json.code == as_text.code, (as_json, as_text)
    assert as_json.err == "", as_json.err
    data = json.loads(as_json.out)
    assert data["failed"] is (as_json.code == 3)
    return as_json.code, data, as_text.out


def every_domain(world: World) -> tuple[int, dict[str, Checked]]:
    """`mailzone check` of every domain in one run (cached): its exit code, and per domain the
    JSON report and the domain's part of the text output."""
    if world.batch is None:
        args = ["check", *_check_args(world, "host.yaml", ("bl.test+6",)), "--timeout", "1"]
        code, data, text = _json_and_text(world, args)
        parts: dict[str, list[str]] = {}
        for line in text.splitlines():
            if line.startswith("== "):
                current = parts.setdefault(line[3:], [])
            current.append(line)
        world.batch = (
            code,
            {
                report["domain"]: Checked(
                    3 if report["counts"]["fail"] else 0,
                    report,
                    "\n".join(parts[report["domain"]]) + "\n",
                )
                for report in data["domains"]
            },
        )
    return world.batch


def check(
    world: World,
    case: Case,
    *extra: str,
    blocklists: tuple[str, ...] = (),
    host: str = "host.yaml",
) -> Checked:
    """`mailzone check DOMAIN` as JSON and as `--problems` text. With no options, the domain's
    part of the run over every domain (`every_domain`)."""
    if not extra and not blocklists and host == "host.yaml":
        reports = every_domain(world)[1]
        assert case.domain in reports, " ".join(sorted(reports))
        return reports[case.domain]
    args = ["check", case.domain, *_check_args(world, host, blocklists or ("bl.test+6",))]
    args += extra
    if tuple(args) in world.checked:  # the cross-checks look at the same runs again
        return world.checked[tuple(args)]
    code, data, text = _json_and_text(world, args)
    (report,) = data["domains"]
    assert report["domain"] == case.domain
    world.checked[tuple(args)] = Checked(code, report, text)
    return world.checked[tuple(args)]


@dataclass(frozen=True)
class Expect:
    """A non-pass finding a case must produce: family, status, and phrases of its subject,
    message and fix."""

    check: str
    status: str
    subject: str
    message: str
    fix: str

    def matches(self, finding: dict[str, Any]) -> bool:
        return (
            finding["check"] == self.check
            and finding["status"] == self.status
            and self.subject in finding["subject"]
            and self.message in finding["message"]
            and self.fix in (finding["fix"] or "")
        )


def assert_exactly(checked: Checked, expected: list[Expect]) -> None:
    """The expected findings each once, every other finding a pass, every family run, and the
    exit code and text output that go with it."""
    problems = [f for f in checked.findings if f["status"] != "pass"]
    for want in expected:
        hits = [f for f in problems if want.matches(f)]
        assert len(hits) == 1, f"{want} not found exactly once in {json.dumps(problems, indent=1)}"
        problems.remove(hits[0])
        finding = hits[0]
        # text output: the finding's line, its fix right under it
        lines = checked.text.splitlines()
        (at,) = [i for i, line in enumerate(lines) if finding["message"] in line]
        mark = {"fail": "FAIL", "unknown": "??", "warn": "WARN"}[want.status]
        assert lines[at].startswith(mark) and f" {want.check} " in lines[at], lines[at]
        assert lines[at + 1].strip() == f"fix: {finding['fix']}", lines[at + 1]
    assert problems == [], f"unexpected: {json.dumps(problems, indent=1)}"
    ran = {f["check"] for f in checked.findings}
    assert ran == set(DNS_FAMILIES), ran
    failed = any(want.status == "fail" for want in expected)
    assert checked.code == (3 if failed else 0), checked.text
    assert not [line for line in checked.text.splitlines() if line.startswith("ok ")]


# -- the good case ---------------------------------------------------------------------------


def test_applied_domain_with_rdns_and_no_listing_passes_every_check(world: World) -> None:
    checked = check(world, GOOD, blocklists=("bl.test+6",))

    assert checked.code == 0, checked.text
    assert_exactly(checked, [])
    assert checked.report["counts"]["pass"] == len(checked.findings)
    by_subject = {f["subject"]: f["message"] for f in checked.findings}
    # each family looked at what it should, through BIND
    assert "serial" in by_subject[f"{GOOD.domain} SOA"]
    assert by_subject[f"{GOOD.domain} limits"].startswith("1 of 10 DNS lookups, 0 of 2 void")
    assert by_subject[f"{GOOD.domain} from 2001:db8::10"].endswith(": pass")
    assert by_subject[f"HELO {GOOD.mail} from 203.0.113.10"].endswith(": pass")
    assert by_subject[f"{SELECTOR} (active)"].endswith("rsa-2048 as declared")
    assert by_subject[f"{SELECTOR_ED25519} (active)"].endswith("ed25519-256 as declared")
    assert "authorises reports" in by_subject["rua mailto:agg@reports.test"]
    assert by_subject[f"MX {GOOD.mail}"].endswith("203.0.113.10, 2001:db8::10")
    assert by_subject["PTR 2001:db8::10"] == f"2001:db8::10 → {GOOD.mail} → 2001:db8::10"
    assert by_subject["2001:db8::10 in bl.test"] == "2001:db8::10 is not listed by bl.test"
    assert checked.text.splitlines() == [
        f"== {GOOD.domain}",
        f"{GOOD.domain}: {len(checked.findings)} pass, 0 warn, 0 fail, 0 unknown",
    ]


def test_domain_inside_a_parent_zone_passes_every_check(world: World) -> None:
    checked = check(world, SUBDOMAIN)

    assert_exactly(checked, [])
    by_subject = {f["subject"]: f["message"] for f in checked.findings}
    assert by_subject["parent.example SOA"].startswith("serial ")
    assert f"TXT _dmarc.{SUBDOMAIN.domain}" in by_subject
    assert (
        by_subject["rua mailto:dmarc@parent.example"]
        == "rua: parent.example is inside parent.example"
    )
    assert (
        by_subject[f"PTR {SUBDOMAIN.ipv4}"]
        == f"{SUBDOMAIN.ipv4} → {SUBDOMAIN.mail} → {SUBDOMAIN.ipv4}"
    )


def test_all_domains_in_one_run_fail_exactly_the_broken_ones(world: World) -> None:
    code, reports = every_domain(world)

    assert code == 3
    assert set(reports) == {case.domain for case in CASES}
    failing = {d for d, r in reports.items() if r.report["counts"]["fail"]}
    # a refused or dead blocklist, an oversized SPF record, an unresolvable include: no fail
    passing = {GOOD.domain, REFUSED.domain, SPF_BIG.domain, SPF_TEMP.domain, PTR_OTHER.domain}
    passing.add(SUBDOMAIN.domain)
    assert failing == {c.domain for c in CASES} - passing


# -- broken cases ----------------------------------------------------------------------------


def _drift(name: str) -> Expect:
    return Expect("drift", "fail", f"TXT {name}", "want ", "mailzone apply")


BROKEN: list[tuple[Case, list[Expect]]] = [
    (
        SPF_LOOKUPS,
        [
            Expect(
                "spf",
                "fail",
                f"{SPF_LOOKUPS.domain} limits",
                "evaluation ends in permerror",
                "flatten nested includes",
            )
        ],
    ),
    (
        SPF_TWO,
        [
            Expect(
                "spf",
                "fail",
                SPF_TWO.domain,
                "2 SPF records at spf-two.example: receivers answer permerror",
                "delete every v=spf1 record but the one",
            ),
            _drift(SPF_TWO.domain),  # the second record is a hand edit: drift says so too
        ],
    ),
    (
        SPF_VOIDS,
        [
            Expect(
                "spf",
                "fail",
                f"{SPF_VOIDS.domain} limits",
                "evaluation ends in permerror",
                "2 void",
            )
        ],
    ),
    (
        DKIM_DNS,
        [
            Expect(
                "dkim",
                "fail",
                f"{SELECTOR} (active)",
                "serves another key than the state declares",
                "mailzone apply",
            ),
            _drift(f"{SELECTOR}._domainkey.{DKIM_DNS.domain}"),
        ],
    ),
    (
        DKIM_TWO,
        [
            Expect(
                "dkim",
                "fail",
                f"{SELECTOR} (active)",
                "2 TXT records (verifiers need one)",
                "delete every TXT record there but the one mailzone publishes",
            ),
            _drift(f"{SELECTOR}._domainkey.{DKIM_TWO.domain}"),
        ],
    ),
    (
        DKIM_BROKEN,
        [
            Expect(
                "dkim",
                "fail",
                f"{SELECTOR} (active)",
                "verifiers reject the record",
                "mailzone apply",
            ),
            _drift(f"{SELECTOR}._domainkey.{DKIM_BROKEN.domain}"),
        ],
    ),
    (
        DKIM_FILE,
        [
            Expect(
                "dkim",
                "fail",
                f"{SELECTOR} (active)",
                "does not match the published key: every signature fails",
                "restore the right key file",
            )
        ],
    ),
    (
        DKIM_REVOKED,
        [
            Expect(
                "dkim",
                "fail",
                f"{SELECTOR} (active)",
                "the active selector is revoked (empty p=)",
                "rotate --emergency",
            ),
            _drift(f"{SELECTOR}._domainkey.{DKIM_REVOKED.domain}"),
        ],
    ),
    (
        DMARC_TYPO,
        [
            Expect(
                "dmarc",
                "fail",
                f"_dmarc.{DMARC_TYPO.domain}",
                "p=quarantin is not valid",
                "fix `dmarc:` in the spec",
            ),
            _drift(f"_dmarc.{DMARC_TYPO.domain}"),
        ],
    ),
    (
        DMARC_TAG,
        [
            Expect(
                "dmarc",
                "fail",
                f"_dmarc.{DMARC_TAG.domain}",
                "unknown tag 'rua2' (a typo?)",
                "fix `dmarc:` in the spec",
            ),
            _drift(f"_dmarc.{DMARC_TAG.domain}"),
        ],
    ),
    (
        DMARC_RUA,
        [
            Expect(
                "dmarc",
                "fail",
                "rua mailto:agg@reports.test",
                f"reports.test does not authorise reports for {DMARC_RUA.domain}",
                f'publish TXT "v=DMARC1" at {DMARC_RUA.domain}._report._dmarc.reports.test',
            )
        ],
    ),
    (
        MX_CNAME,
        [
            Expect(
                "mx",
                "fail",
                "MX mx.other.test",
                "is a CNAME (to real.other.test.); RFC 5321 forbids it",
                "point the MX at the canonical name",
            )
        ],
    ),
    (
        SPF_GAP,
        [
            Expect(
                "spf",
                "fail",
                f"{SPF_GAP.domain} from 203.0.113.34",
                f"203.0.113.34 ({SPF_GAP.mail}): softfail",
                "list the address in the spec's hosts (role send) and apply",
            ),
            Expect(
                "spf",
                "fail",
                f"HELO {SPF_GAP.mail} from 203.0.113.34",
                f"HELO {SPF_GAP.mail} at 203.0.113.34: none",
                "it publishes the HELO record",
            ),
            _drift(SPF_GAP.domain),
            _drift(SPF_GAP.mail),
        ],
    ),
    (
        MX_ADDRESS,
        [
            Expect(
                "mx",
                "fail",
                f"MX {MX_ADDRESS.mail}",
                f"MX target {MX_ADDRESS.mail}: A lacks 203.0.113.35",
                "run `mailzone apply`",
            ),
            Expect(
                "rdns",
                "fail",
                "PTR 203.0.113.35",
                "does not resolve back to 203.0.113.35 (not forward-confirmed)",
                f"give {MX_ADDRESS.mail} an A record 203.0.113.35",
            ),
            Expect("drift", "fail", f"A {MX_ADDRESS.mail}", "served", "mailzone apply"),
        ],
    ),
    (
        PTR_OTHER,
        [
            Expect(
                "rdns",
                "warn",
                "PTR 203.0.113.33",
                f"203.0.113.33 → smtp33.other.test, not the host's name {PTR_OTHER.mail}",
                "make the MTA say HELO smtp33.other.test",
            )
        ],
    ),
    (
        NULL_MX,
        [
            Expect(
                "mx",
                "fail",
                NULL_MX.domain,
                f"{NULL_MX.domain} publishes the null MX (RFC 7505): it accepts no mail",
                "run `mailzone apply`",
            ),
            Expect("drift", "fail", f"MX {NULL_MX.domain}", "want ", "mailzone apply"),
        ],
    ),
    (
        PTR_MISSING,
        [
            Expect(
                "rdns",
                "fail",
                "PTR 203.0.113.21",
                "203.0.113.21 has no PTR record",
                f"set its PTR to {PTR_MISSING.mail}",
            )
        ],
    ),
    (
        PTR_UNCONFIRMED,
        [
            Expect(
                "rdns",
                "fail",
                "PTR 203.0.113.22",
                "203.0.113.22 → stranger.other.test, which does not resolve back to 203.0.113.22",
                "give stranger.other.test an A record 203.0.113.22",
            )
        ],
    ),
    (
        V6_NO_PTR,
        [
            Expect(
                "rdns",
                "fail",
                "PTR 2001:db8::23",
                "2001:db8::23 has no PTR record",
                "stop the MTA from sending over IPv6 (Exim: disable_ipv6 = true)",
            )
        ],
    ),
    (
        LISTED,
        [
            Expect(
                "blocklist",
                "fail",
                "203.0.113.24 in bl.test",
                # the list's TXT reason as text, not as quoted rdata
                "203.0.113.24 is listed by bl.test (127.0.0.2): listed: spam trap hits (test)",
                "request delisting from bl.test",
            )
        ],
    ),
    (
        SOA_SPLIT,
        [
            Expect(
                "drift",
                "fail",
                f"{SOA_SPLIT.domain} SOA",
                "SOA serials differ",
                "zone transfers from the primary",
            )
        ],
    ),
]


@pytest.mark.parametrize(("case", "expected"), BROKEN, ids=[c.domain for c, _ in BROKEN])
def test_broken_case_fails_exactly_what_is_broken(
    world: World, case: Case, expected: list[Expect]
) -> None:
    checked = check(world, case)

    assert_exactly(checked, expected)


def test_soa_serials_differ_names_both_servers(world: World) -> None:
    checked = check(world, SOA_SPLIT)

    (soa,) = [f for f in checked.findings if f["subject"] == f"{SOA_SPLIT.domain} SOA"]
    assert f"127.0.0.1:{world.server.port} " in soa["message"]
    assert f"127.0.0.1:{world.second.port} " in soa["message"]
    records = [f for f in checked.findings if f["check"] == "drift" and f is not soa]
    assert records and all("by 2 source(s)" in f["message"] for f in records)


def test_unreachable_authoritative_server_fails_drift_and_the_rest_still_runs(
    world: World,
) -> None:
    closed = f"127.0.0.1:{world.closed_port}"

    checked = check(world, NS_DOWN)

    assert_exactly(
        checked,
        [
            Expect(
                "drift",
                "fail",
                closed,
                f"{closed} does not answer for {NS_DOWN.domain}: ",
                "other checks still ran",
            )
        ],
    )
    (down,) = [f for f in checked.findings if f["subject"] == closed]
    assert down["message"].endswith(": timeout"), down["message"]
    records = [f for f in checked.findings if f["check"] == "drift" and f["status"] == "pass"]
    assert len(records) >= 5 and all("by 1 source(s)" in f["message"] for f in records[1:])


def test_listed_ipv6_address_fails_only_where_the_list_takes_ipv6(world: World) -> None:
    expected = Expect(
        "blocklist",
        "fail",
        "2001:db8::28 in bl.test",
        "2001:db8::28 is listed by bl.test (127.0.0.3)",
        "request delisting from bl.test",
    )

    assert_exactly(check(world, LISTED6, blocklists=("bl.test+6",)), [expected])

    ipv4_only = check(world, LISTED6, blocklists=("bl.test",))
    assert_exactly(ipv4_only, [])
    assert [f["subject"] for f in ipv4_only.findings if f["check"] == "blocklist"] == [
        "203.0.113.28 in bl.test"
    ]


def test_spf_record_over_450_octets_warns(world: World) -> None:
    checked = check(world, SPF_BIG)

    assert_exactly(
        checked,
        [
            Expect(
                "spf",
                "warn",
                f"{SPF_BIG.domain} size",
                "octets (over 450: answers may not fit UDP)",
                "fewer ip4:/ip6: networks",
            )
        ],
    )
    (size,) = [f for f in checked.findings if f["subject"] == f"{SPF_BIG.domain} size"]
    record = f"v=spf1 ip4:{SPF_BIG.ipv4} " + " ".join(f"ip4:{a}" for a in SPF_BIG.ip4) + " ~all"
    assert size["message"].startswith(f"the SPF record is {len(record)} octets")


def test_without_configured_nameservers_drift_names_the_fix_and_the_rest_still_runs(
    world: World,
) -> None:
    checked = check(world, NS_UNKNOWN)

    assert_exactly(
        checked,
        [
            Expect(
                "drift",
                "fail",
                NS_UNKNOWN.domain,
                "no authoritative nameserver to compare with: ns-unknown.example.: none of its "
                f"nameservers (ns1.test.invalid.) resolves to an address via {world.resolver}",
                "set `nameservers` in the provider file (mailzone: section) or the host config",
            )
        ],
    )


@pytest.mark.parametrize("case", [NS_DOWN, NS_UNKNOWN], ids=lambda c: c.domain)
def test_host_config_nameservers_override_the_providers(world: World, case: Case) -> None:
    checked = check(world, case, host="host-ns.yaml")

    assert_exactly(checked, [])
    drift = [f for f in checked.findings if f["check"] == "drift"]
    assert len(drift) >= 6 and all("1 source(s)" in f["message"] for f in drift[1:])


def test_spf_include_that_cannot_be_resolved_is_unknown_not_a_limits_failure(
    world: World,
) -> None:
    checked = check(world, SPF_TEMP)

    assert_exactly(
        checked,
        [
            Expect(
                "spf",
                "unknown",
                f"{SPF_TEMP.domain} limits",
                "evaluation ends in temperror",
                "retry; check the nameservers",
            )
        ],
    )


def test_blocklist_refusing_not_answering_or_not_working_is_unknown(world: World) -> None:
    checked = check(world, REFUSED, blocklists=("refuse.test", "missing.test", "empty.test"))

    assert_exactly(
        checked,
        [
            Expect(
                "blocklist",
                "unknown",
                "203.0.113.25 in refuse.test",
                "refuse.test refused the query (127.255.255.254)",
                "a resolver of your own (--nameserver)",
            ),
            Expect(
                "blocklist",
                "unknown",
                "203.0.113.25 in missing.test",
                "missing.test: no answer for 203.0.113.25 (REFUSED)",
                "retry later",
            ),
            Expect(
                "blocklist",
                "unknown",
                "203.0.113.25 in empty.test",
                "empty.test does not list its test address 127.0.0.2 (RFC 5782)",
                "check the list's zone name (--blocklist)",
            ),
        ],
    )
    assert checked.code == 0


# -- cross-checks: pyspf and checkdmarc against the same BIND --------------------------------


@pytest.fixture
def offline(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process: any packet that would leave loopback fails the test."""
    netguard.install(world.guard_log, monkeypatch.setattr)
    yield


def _bind_lookup(world: World) -> Any:
    def lookup(name: str, rdtype: str) -> Reply:
        response = ask(world.server, name, rdtype)
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return Reply(error=dns.rcode.to_text(rcode))
        wanted = dns.rdatatype.from_text(rdtype)
        out: list[str] = []
        for rrset in response.answer:
            if rrset.rdtype != wanted:
                continue
            for rdata in rrset:
                if rdtype == "TXT":
                    out.append(b"".join(rdata.strings).decode())
                else:
                    out.append(rdata.to_text())
        return Reply(tuple(out))

    return lookup


def _pyspf_lookup(world: World) -> Any:
    def lookup(name: str, qtype: str, *args: object, **kwargs: object) -> list[Any]:
        response = ask(world.server, name, qtype)
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise spf.TempError(f"DNS {dns.rcode.to_text(rcode)}")
        out: list[Any] = []
        for rrset in response.answer:
            if dns.rdatatype.to_text(rrset.rdtype) != qtype:
                continue
            for rdata in rrset:
                if qtype == "TXT":
                    out.append(((name, qtype), tuple(rdata.strings)))
                elif qtype == "MX":
                    pref, host = rdata.preference, rdata.exchange
                    out.append(((name, qtype), (pref, host.to_text(True))))
                elif qtype == "PTR":
                    out.append(((name, qtype), rdata.target.to_text(True)))
                else:
                    out.append(((name, qtype), rdata.to_text()))
        return out

    return lookup


SPF_EXPECTED = [
    # (domain, ip, helo, the result pyspf and mailzone both give)
    (GOOD.domain, PROBE, "", "softfail"),
    (GOOD.domain, "203.0.113.10", "", "pass"),
    (GOOD.domain, "2001:db8::10", "", "pass"),
    (GOOD.domain, "198.51.100.7", "", "pass"),  # through include:_spf.inc.test
    (GOOD.domain, "203.0.113.10", GOOD.mail, "pass"),  # the HELO record
    (GOOD.domain, "198.51.100.7", GOOD.mail, "fail"),
    (SPF_LOOKUPS.domain, PROBE, "", "permerror"),  # 11 lookups through nested includes
    (SPF_LOOKUPS.domain, "203.0.113.11", "", "pass"),  # ip4: matches before any include
    (SPF_TWO.domain, "203.0.113.12", "", "permerror"),
    (SPF_VOIDS.domain, PROBE, "", "permerror"),  # 3 void lookups
    (SPF_VOIDS.domain, "203.0.113.13", "", "pass"),
    # the mechanisms and limits over real DNS (records in inc.test)
    ("n1.inc.test", PROBE, "", "fail"),  # exactly 10 lookups: still evaluated
    ("voids2.inc.test", PROBE, "", "fail"),  # exactly 2 void lookups: still evaluated
    ("mx.inc.test", "203.0.113.10", "", "pass"),
    ("mx.inc.test", "2001:db8::10", "", "pass"),
    ("mx.inc.test", "203.0.113.11", "", "fail"),
    ("a24.inc.test", "198.51.100.200", "", "pass"),
    ("a24.inc.test", "198.51.101.1", "", "fail"),
    ("ptr.inc.test", "203.0.113.10", "", "pass"),  # PTR mail.good.example, confirmed
    ("ptr.inc.test", "203.0.113.22", "", "fail"),  # PTR stranger.other.test
    ("exists.inc.test", "203.0.113.10", "", "pass"),  # %{ir}.%{v} macro
    ("exists.inc.test", "203.0.113.11", "", "fail"),
    ("redirect.inc.test", "198.51.100.7", "", "pass"),
    ("redirect.inc.test", "192.0.2.1", "", "fail"),
    ("outside.inc.test", "192.0.2.1", "", "temperror"),  # BIND refuses: not its zone
    ("noinc.inc.test", "192.0.2.1", "", "permerror"),  # include: of a domain without SPF
    ("redir-none.inc.test", "192.0.2.1", "", "permerror"),  # redirect= to one
    ("incpass.inc.test", "192.0.2.1", "", "pass"),
    ("dualcidr.inc.test", "198.51.100.200", "", "pass"),
    ("dualcidr.inc.test", "2001:db8:1::ffff", "", "pass"),
    ("dualcidr.inc.test", "2001:db8:2::1", "", "fail"),
    ("manymx.inc.test", "192.0.2.99", "", "permerror"),  # 11 MX names for one mx
    ("macro-l.inc.test", "192.0.2.1", "", "pass"),
    ("exp.inc.test", "192.0.2.1", "", "fail"),
    ("upper.inc.test", "198.51.100.7", "", "pass"),
    ("mxvoid.inc.test", "192.0.2.1", "", "pass"),  # 2 voids, then a match
    ("ptrself.inc.test", "203.0.113.10", "", "fail"),  # its PTR name is not in ptrself.inc.test
    ("redir-all.inc.test", "192.0.2.1", "", "fail"),  # redirect= is ignored after all
    ("two-redir.inc.test", "192.0.2.1", "", "permerror"),
    ("unknown-mod.inc.test", "192.0.2.1", "", "pass"),  # unknown modifiers are ignored
    ("bad-ip4.inc.test", "192.0.2.1", "", "permerror"),
    ("inc-soft.inc.test", "192.0.2.1", "", "pass"),  # ~all inside include: no match
    ("inc-nx.inc.test", "192.0.2.1", "", "permerror"),  # include: of a missing domain
    ("exists-void.inc.test", "192.0.2.1", "", "permerror"),  # 3 void exists:
    ("mx-void.inc.test", "192.0.2.1", "", "permerror"),  # 3 names without MX
    ("macro-p.inc.test", "203.0.113.10", "", "pass"),  # %{p}: the validated PTR name
    ("macro-p.inc.test", "203.0.113.22", "", "fail"),
    ("cname-a.inc.test", "198.51.100.30", "", "pass"),  # a: through a CNAME
    ("spaces.inc.test", "192.0.2.1", "", "pass"),
    ("neutral.inc.test", "192.0.2.1", "", "neutral"),
]
CHECKED_SPF = {case.domain: case for case in (GOOD, SPF_LOOKUPS, SPF_VOIDS)}


@pytest.mark.parametrize(
    ("domain", "ip", "helo", "expected"),
    SPF_EXPECTED,
    ids=[f"{d}-{ip}{'-helo' if h else ''}" for d, ip, h, _ in SPF_EXPECTED],
)
def test_spf_verdicts_agree_with_pyspf(
    world: World,
    offline: None,
    monkeypatch: pytest.MonkeyPatch,
    domain: str,
    ip: str,
    helo: str,
    expected: str,
) -> None:
    monkeypatch.setattr(spf, "DNSLookup", _pyspf_lookup(world))
    identity = helo or domain

    theirs, _explanation = spf.check2(i=ip, s=f"postmaster@{identity}", h=helo or "mta.test")
    ours = check_host(_bind_lookup(world), ip, identity, f"postmaster@{identity}", helo)

    assert (ours.result, theirs) == (expected, expected), ours.reason
    case = CHECKED_SPF.get(domain)
    if case is None:
        return
    # ... and `mailzone check` reports the same verdict
    subject = (
        f"{domain} limits"
        if ip == PROBE
        else f"HELO {helo} from {ip}"
        if helo
        else f"{domain} from {ip}"
    )
    found = [f for f in check(world, case).findings if f["subject"] == subject]
    if ip == PROBE:
        assert [f["status"] for f in found] == ["fail" if expected == "permerror" else "pass"]
    elif found:  # a sending address of the spec
        assert [f["status"] for f in found] == ["pass" if expected == "pass" else "fail"]
        assert found[0]["message"].endswith(f": {expected}") or expected != "pass"


def _checkdmarc_resolver(world: World) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(world.server.host, world.server.port)]
    resolver.timeout = resolver.lifetime = 2.0
    return resolver


@pytest.fixture
def checkdmarc_bind(world: World, offline: None) -> Iterator[dns.resolver.Resolver]:
    """A resolver for checkdmarc's `resolver=`: it then never builds one of its own (which
    would read /etc/resolv.conf). Its module-wide DNS cache is emptied around each test."""
    checkdmarc.utils.DNS_CACHE.clear()
    yield _checkdmarc_resolver(world)
    checkdmarc.utils.DNS_CACHE.clear()


def _our_findings(world: World, case: Case, family: str) -> list[dict[str, Any]]:
    return [f for f in check(world, case).findings if f["check"] == family]


@pytest.mark.parametrize(
    ("case", "error"),
    [
        (GOOD, None),
        (SPF_LOOKUPS, checkdmarc.spf.SPFTooManyDNSLookups),
        (SPF_VOIDS, checkdmarc.spf.SPFTooManyVoidDNSLookups),
        (SPF_TWO, checkdmarc.spf.MultipleSPFRTXTRecords),
    ],
    ids=lambda v: v.domain if isinstance(v, Case) else getattr(v, "__name__", str(v)),
)
def test_spf_record_problems_agree_with_checkdmarc(
    world: World,
    checkdmarc_bind: dns.resolver.Resolver,
    case: Case,
    error: type[Exception] | None,
) -> None:
    ours = _our_findings(world, case, "spf")
    ours_failed = [f for f in ours if f["status"] == "fail"]

    if error is None:
        theirs = checkdmarc.spf.get_spf_record(case.domain, resolver=checkdmarc_bind)
        assert ours_failed == []
        limits = next(f for f in ours if f["subject"] == f"{case.domain} limits")
        assert limits["message"].startswith(f"{theirs['dns_lookups']} of 10 DNS lookups")
        assert theirs["void_dns_lookups"] == 0
    else:
        with pytest.raises(error):
            checkdmarc.spf.get_spf_record(case.domain, resolver=checkdmarc_bind)
        assert [f["subject"] for f in ours_failed] in (
            [f"{case.domain} limits"],
            [case.domain],
        )


@pytest.mark.parametrize(
    ("case", "error", "warning"),
    [
        (GOOD, None, None),
        (DMARC_TYPO, checkdmarc.dmarc.InvalidDMARCTagValue, None),
        # its grammar has no rua2, so a syntax error (InvalidDMARCTag is its subclass)
        (DMARC_TAG, checkdmarc.dmarc.DMARCSyntaxError, None),
        (DMARC_RUA, None, "does not indicate that it accepts DMARC reports"),
    ],
    ids=lambda v: v.domain if isinstance(v, Case) else str(getattr(v, "__name__", v)),
)
def test_dmarc_problems_agree_with_checkdmarc(
    world: World,
    checkdmarc_bind: dns.resolver.Resolver,
    case: Case,
    error: type[Exception] | None,
    warning: str | None,
) -> None:
    ours = _our_findings(world, case, "dmarc")
    ours_failed = [f for f in ours if f["status"] == "fail"]
    record = checkdmarc.dmarc.query_dmarc_record(case.domain, resolver=checkdmarc_bind)["record"]

    if error is not None:
        with pytest.raises(error):
            checkdmarc.dmarc.parse_dmarc_record(record, case.domain, resolver=checkdmarc_bind)
        assert [f["subject"] for f in ours_failed] == [f"_dmarc.{case.domain}"]
        return
    parsed = checkdmarc.dmarc.parse_dmarc_record(record, case.domain, resolver=checkdmarc_bind)
    unverified = [w for w in parsed["warnings"] if "accepts DMARC reports" in w]
    if warning is None:
        assert unverified == [] and ours_failed == []
        assert parsed["tags"]["p"]["value"] == "reject"
    else:
        assert len(unverified) == 1 and warning in unverified[0]
        assert [f["subject"] for f in ours_failed] == ["rua mailto:agg@reports.test"]


DMARC_AGREE = {  # label → valid for both mailzone and checkdmarc
    "full": True,
    "nospace": True,
    "trailing": True,
    "wsp": True,  # RFC 7489 ABNF allows whitespace around '='
    "upper": True,
    "bis": True,  # DMARCbis tags t=, np=, psd=
    "pct": True,  # removed by DMARCbis: both only warn
    "size": True,
    "fo2": False,
    "fo-bad": False,
    "empty-rua": False,
    "dup": False,
    "nosemi": False,
    "lowerv": False,
    "notfirst": False,
}
# Where mailzone is deliberately stricter: checkdmarc accepts with a warning.
DMARC_STRICTER = {
    "nop": "no p= tag",  # DMARCbis reads a missing p= as none; mailzone always writes p=
    "adkim": "adkim=x is not valid",  # receivers fall back to r; mailzone wants it fixed
    "https": "is not a mailto: URI",  # receivers send reports by mail only
}


@pytest.fixture
def check_env(world: World) -> CheckEnv:
    """The check's environment, in-process, asking BIND."""
    resolver = Dns(("127.0.0.1", world.server.port), timeout=2.0)
    host = HostConfig()
    return CheckEnv(
        world.root, host, resolver, Authorities(world.root, host, resolver), datetime.now(UTC)
    )


def _dmarc_record_verdicts(
    label: str, env: CheckEnv, resolver: dns.resolver.Resolver
) -> tuple[list[Any], Exception | None, list[str]]:
    domain = SimpleNamespace(
        name=f"{label}.dmarc.test", zone="dmarc.test", state=SimpleNamespace(dmarc=None)
    )
    ours = [f for f in check_dmarc(domain, env) if f.status == "fail"]  # type: ignore[arg-type]
    try:
        record = checkdmarc.dmarc.query_dmarc_record(domain.name, resolver=resolver)["record"]
        parsed = checkdmarc.dmarc.parse_dmarc_record(record, domain.name, resolver=resolver)
    except (checkdmarc.dmarc.DMARCError, checkdmarc.dmarc.DMARCSyntaxError) as err:
        return ours, err, []
    return ours, None, list(parsed["warnings"])


@pytest.mark.parametrize(("label", "valid"), DMARC_AGREE.items(), ids=list(DMARC_AGREE))
def test_dmarc_record_syntax_agrees_with_checkdmarc(
    check_env: CheckEnv, checkdmarc_bind: dns.resolver.Resolver, label: str, valid: bool
) -> None:
    ours, theirs, _warnings = _dmarc_record_verdicts(label, check_env, checkdmarc_bind)

    assert (ours == [], theirs is None) == (valid, valid), (DMARC_RECORDS[label], ours, theirs)


@pytest.mark.parametrize(("label", "ours_say"), DMARC_STRICTER.items(), ids=list(DMARC_STRICTER))
def test_dmarc_where_mailzone_is_stricter_than_checkdmarc(
    check_env: CheckEnv, checkdmarc_bind: dns.resolver.Resolver, label: str, ours_say: str
) -> None:
    ours, theirs, warnings = _dmarc_record_verdicts(label, check_env, checkdmarc_bind)

    assert theirs is None and warnings, DMARC_RECORDS[label]  # valid for checkdmarc, with a warning
    assert len(ours) == 1 and ours_say in ours[0].message, ours


def test_the_guard_blocks_a_packet_that_would_leave_loopback(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "blocked.log"
    netguard.install(log, monkeypatch.setattr)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        with pytest.raises(OSError, match="loopback guard"):
            udp.sendto(b"x", ("192.0.2.1", 53))
        udp.sendto(b"x", ("127.0.0.1", world.closed_port))  # loopback is fine
    assert log.read_text() == "sendto ('192.0.2.1', 53)\n"


def test_the_guard_is_live_in_mailzone_processes(world: World, tmp_path: Path) -> None:
    log = tmp_path / "blocked.log"
    (tmp_path / "sitecustomize.py").write_text(netguard.sitecustomize_source(log))
    args = ["check", GOOD.domain, "--nameserver", "192.0.2.53:53", "--timeout", "0.2"]
    args += ["--skip", "drift", "--blocklist", "none", "--format", "json"]
    for family in OTHER_FAMILIES:
        args += ["--skip", family]

    result = mailzone(world.root, *args, env={"PYTHONPATH": str(tmp_path)})

    blocked = log.read_text().splitlines()
    assert blocked and all(line.endswith(" ('192.0.2.53', 53)") for line in blocked), blocked
    assert "loopback guard" in result.out


def _check_every_domain(world: World, ahead: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every domain checked in-process (no SMTP or HTTPS), with or without the questions asked
    ahead; the reports and how many questions `query` itself had to send."""
    from mailzone.check import runner
    from mailzone.check.env import Blocklist
    from mailzone.repo.project import load_project

    dns_client = Dns(("127.0.0.1", world.server.port), timeout=1.0)
    sent: list[tuple[Any, ...]] = []
    asked = dns_client._ask

    def counted(*key: Any) -> Any:
        sent.append(key)
        return asked(*key)

    monkeypatch.setattr(dns_client, "_ask", counted)
    monkeypatch.setattr(runner, "AHEAD", 8)  # several batches over the cases' domains
    if not ahead:
        monkeypatch.setattr(runner, "ask_ahead", lambda domains, env: 0)
    host = HostConfig()
    env = CheckEnv(
        world.root,
        host,
        dns_client,
        Authorities(world.root, host, dns_client),
        datetime(2026, 12, 6, tzinfo=UTC),
        skip=frozenset(OTHER_FAMILIES),
        blocklists=(Blocklist("bl.test", ipv6=True),),
    )
    domains = sorted(load_project(world.root).domains.values(), key=lambda d: d.name)
    reports = runner.check_all(domains, env, jobs=4, processes=1)
    return reports, sent


def test_questions_asked_ahead_change_no_finding(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch's questions asked at once before its checks (`ask_ahead`) give every domain,
    broken ones included, the same findings as asking each question when a check needs it; and
    most questions were asked ahead, so the checks found them answered."""
    with monkeypatch.context() as patch:
        plain, sent_plain = _check_every_domain(world, False, patch)
    ahead, sent_ahead = _check_every_domain(world, True, monkeypatch)

    assert len(plain) == len(CASES) > 8
    assert [(r.domain, r.error, r.findings) for r in ahead] == [
        (r.domain, r.error, r.findings) for r in plain
    ]
    assert any(f.status == "fail" for r in ahead for f in r.findings)
    assert len(sent_ahead) < len(sent_plain) / 3, (len(sent_ahead), len(sent_plain))
