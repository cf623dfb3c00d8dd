"""Checks over the `local` target's zone file standing in for the resolver (no network):
DMARC p=none ageing, and the state recording since when the policy is live. Each repository is
made by the real CLI (`init`, `apply`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from mailzone.check.dmarc import check_dmarc
from mailzone.check.env import CheckEnv
from mailzone.dns.query import Answer, Dns
from mailzone.octo.authority import Authorities, ZoneFile
from mailzone.records.model import txt_rdata
from mailzone.repo.project import load_project
from mailzone.spec.host import load_host_config
from tests.cli import mailzone


class ZoneFileDns(Dns):
    """Answers 'resolver' questions from one zone file."""

    def __init__(self, zone_file: ZoneFile) -> None:
        super().__init__(("127.0.0.1", 9))
        self.zone_file = zone_file

    def resolve(self, name: str, rdtype: str) -> Answer:
        return self.zone_file.query(name, rdtype)


def _env(root: Path, now: datetime) -> CheckEnv:
    host = load_host_config(None, root)
    dns = ZoneFileDns(ZoneFile(root / "build" / "zones" / "example.org.zone", "example.org"))
    return CheckEnv(root, host, dns, Authorities(root, host, dns), now)


def test_p_none_is_fine_at_first_and_a_warning_after_thirty_days(tmp_path: Path) -> None:
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1"
    )
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    state = yaml.safe_load((tmp_path / "state" / "example.org.yaml").read_text())
    assert state["dmarc"]["policy"] == "none"
    since = datetime.fromisoformat(state["dmarc"]["since"])
    domain = load_project(tmp_path).domains["example.org"]

    early = {f.subject: f for f in check_dmarc(domain, _env(tmp_path, since + timedelta(days=3)))}
    late = {f.subject: f for f in check_dmarc(domain, _env(tmp_path, since + timedelta(days=45)))}

    policy = "_dmarc.example.org policy"
    assert early[policy].status == "pass"
    assert late[policy].status == "warn"
    assert "p=none for 45 days" in late[policy].message
    assert "quarantine" in late[policy].fix
    assert early["_dmarc.example.org"].status == "pass"


def test_a_new_policy_restarts_the_clock(tmp_path: Path) -> None:
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1"
    )
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    spec = tmp_path / "zones" / "example.org.yaml"
    spec.write_text(spec.read_text().replace("policy: none", "policy: quarantine"))
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0

    state = yaml.safe_load((tmp_path / "state" / "example.org.yaml").read_text())

    assert state["dmarc"]["policy"] == "quarantine"
    assert datetime.fromisoformat(state["dmarc"]["since"]) <= datetime.now(UTC)
    domain = load_project(tmp_path).domains["example.org"]
    found = check_dmarc(domain, _env(tmp_path, datetime.now(UTC) + timedelta(days=400)))
    assert [f.status for f in found] == ["pass", "pass"]  # the record, and rua inside the zone


def test_a_key_with_whitespace_inside_p_is_a_warning(tmp_path: Path) -> None:
    from mailzone.check.dkim import check_dkim

    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1"
    )
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    zone_file = tmp_path / "build" / "zones" / "example.org.zone"
    domain = load_project(tmp_path).domains["example.org"]
    (entry,) = domain.state.selectors
    # the key broken in two, as a key pasted with a line break ends up
    spaced = f"v=DKIM1; k=rsa; p={entry.public_key[:100]} {entry.public_key[100:]}"
    lines = [
        f"{entry.selector}._domainkey 3600 IN TXT {txt_rdata(spaced)}"
        if line.startswith(f"{entry.selector}._domainkey")
        else line
        for line in zone_file.read_text().splitlines()
    ]
    zone_file.write_text("\n".join(lines) + "\n")

    (finding,) = check_dkim(domain, _env(tmp_path, datetime.now(UTC)))[:1]

    assert finding.status == "warn"
    assert "whitespace inside p=" in finding.message


def test_no_answer_from_the_resolver_is_unknown_an_error_answer_fails(tmp_path: Path) -> None:
    from mailzone.check.spf import check_spf

    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1"
    )
    domain = load_project(tmp_path).domains["example.org"]
    env = _env(tmp_path, datetime.now(UTC))

    class Silent(Dns):
        def resolve(self, name: str, rdtype: str) -> Answer:
            return Answer("", error="timeout")

    class Failing(Dns):
        def resolve(self, name: str, rdtype: str) -> Answer:
            return Answer("SERVFAIL", error="SERVFAIL")

    env.dns = Silent(("127.0.0.1", 9))
    (silent,) = check_spf(domain, env)
    env.dns = Failing(("127.0.0.1", 9))
    (failing,) = check_spf(domain, env)

    assert (silent.status, failing.status) == ("unknown", "fail")
    assert "no answer (timeout)" in silent.message
    assert "SERVFAIL" in failing.message


def test_message_from_a_subdomain_aligns_through_the_dmarc_tree_walk(
    tmp_path: Path, private_key_dir: Path
) -> None:
    import dkim

    from mailzone.check.message import message_verdict

    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1"
    )
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    (key,) = private_key_dir.glob("example.org.*.pem")
    selector = key.name[len("example.org.") : -len(".pem")]
    body = (
        b"From: Alice <alice@shop.example.org>\r\nTo: bob@example.net\r\n"
        b"Subject: hi\r\n\r\nHello.\r\n"
    )
    signed = dkim.sign(body, selector.encode(), b"example.org", key.read_bytes()) + body

    report = message_verdict(signed, "198.51.100.9", _env(tmp_path, datetime.now(UTC)))
    found = {f.check: f for f in report.findings}

    assert found["dkim"].status == "pass"
    assert found["dmarc"].status == "pass", found["dmarc"].message
    assert "DKIM d=example.org" in found["dmarc"].message

    unsigned = message_verdict(body, "198.51.100.9", _env(tmp_path, datetime.now(UTC)))
    verdict = {f.check: f for f in unsigned.findings}["dmarc"]
    assert verdict.status == "fail"
    assert "p=reject" in verdict.message  # the subdomain policy (sp=reject) of example.org
