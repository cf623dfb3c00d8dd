"""Checks over the `local` target's zone file standing in for the resolver (no network):
DMARC p=none ageing, and the `_mailzone` registry recording since when the policy is live (apply
writes nothing under state/). Each repository is made by the real CLI (`init`, `apply`)."""

from __future__ import annotations

import re
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
from tests.helpers import commit_all, git


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


def _registry(root: Path) -> str:
    (line,) = [
        x
        for x in (root / "build" / "zones" / "example.org.zone").read_text().splitlines()
        if x.startswith("_mailzone")
    ]
    return line


def _noted(root: Path) -> tuple[str, datetime]:
    """The DMARC note of example.org's registry value in the zone file apply wrote."""
    (note,) = [t for t in _registry(root).strip('"').split() if t.startswith("dmarc=")]
    policy, _, day = note.removeprefix("dmarc=").strip('"').partition("@")
    return policy, datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_p_none_is_fine_at_first_and_a_warning_after_thirty_days(tmp_path: Path) -> None:
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1"
    )
    state_before = (tmp_path / "state" / "example.org.yaml").read_bytes()
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    assert (tmp_path / "state" / "example.org.yaml").read_bytes() == state_before
    policy, since = _noted(tmp_path)
    assert policy == "none"
    assert since.date() == datetime.now(UTC).date()
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
    zone = tmp_path / "build" / "zones" / "example.org.zone"
    zone.write_text(re.sub(r"dmarc=none@[0-9-]+", "dmarc=none@2020-01-01", zone.read_text()))
    assert _noted(tmp_path) == ("none", datetime(2020, 1, 1, tzinfo=UTC))
    assert mailzone(tmp_path, "plan", "--exit-code").returncode == 0  # the date is kept
    spec = tmp_path / "zones" / "example.org.yaml"
    spec.write_text(spec.read_text().replace("policy: none", "policy: quarantine"))
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0

    policy, since = _noted(tmp_path)

    assert policy == "quarantine"
    assert since.date() == datetime.now(UTC).date()
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


def test_a_state_file_from_before_the_notes_keeps_its_date(tmp_path: Path) -> None:
    """Repositories whose apply wrote `dmarc:` into state/ keep their p=none clock: the first
    apply with notes carries that date into DNS, and check reads it from there."""
    mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1"
    )
    path = tmp_path / "state" / "example.org.yaml"
    data = yaml.safe_load(path.read_text())
    data["dmarc"] = {"policy": "none", "since": "2026-01-02T03:04:05Z"}
    path.write_text(yaml.safe_dump(data))
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    assert _noted(tmp_path) == ("none", datetime(2026, 1, 2, tzinfo=UTC))
    del data["dmarc"]  # check reads the date from DNS, not from the file
    path.write_text(yaml.safe_dump(data))

    domain = load_project(tmp_path).domains["example.org"]
    late = {
        f.subject: f for f in check_dmarc(domain, _env(tmp_path, datetime(2026, 6, 1, tzinfo=UTC)))
    }

    assert "since 2026-01-02" in late["_dmarc.example.org policy"].message
    assert late["_dmarc.example.org policy"].status == "warn"


def test_apply_leaves_a_clean_clone_clean(tmp_path: Path) -> None:
    """GitOps: CI applies a fresh clone and commits nothing, so apply must not write what
    git tracks (state/) nor anything git does not ignore (build/, the lock)."""
    origin = tmp_path / "origin"
    origin.mkdir()
    mailzone(
        origin, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1"
    )
    commit_all(origin)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))

    assert mailzone(clone, "apply", "--yes").returncode == 0
    assert _noted(clone)[0] == "none"
    assert git(clone, "status", "--porcelain", "--ignored=no") == ""
    spec = clone / "zones" / "example.org.yaml"
    spec.write_text(spec.read_text().replace("policy: none", "policy: reject"))
    assert mailzone(clone, "apply", "--yes").returncode == 0
    assert git(clone, "status", "--porcelain") == " M zones/example.org.yaml\n"
