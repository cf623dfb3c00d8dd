"""End to end: DKIM rotation never breaks signing, with a real Exim and a real BIND on loopback.

Everything is done through the `mailzone` CLI in a subprocess (init, apply, rotate with `--now`
time travel, keys list, mta exim --check), with a host config whose key directory, Exim macros
file (Debian's exim4.conf.localmacros) and selector lookup file live in a private temp tree. Exim
is configured only from what mailzone wrote there: the macros file is put before Debian's
template exactly as update-exim4.conf does (see tests/exim_rig.py). Each message is verified
with dkimpy against what BIND serves at that moment. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli import Run, mailzone, write_provider
from tests.exim_rig import (
    EXIM_USER,
    SENDER,
    UPDATE_EXIM4_CONF,
    USER_LOCALMACROS,
    EximRig,
    exim_rig,
    message,
    signatures,
    signing_selectors,
    verify_each,
)
from tests.servers import LOOPBACK, BindServer, txt_values

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

DOMAIN = "example.org"
REVOKED = "v=DKIM1; k=rsa; p="


@dataclass
class Site:
    """A mailzone repository, a mail host's config and files, BIND, and the private Exim."""

    repo: Path
    host_config: Path
    etc: Path
    keys: Path
    reloads: Path
    bind: BindServer
    exim: EximRig

    @property
    def macros_file(self) -> Path:
        return self.etc / "exim4.conf.localmacros"

    @property
    def lookup_file(self) -> Path:
        return self.etc / "mailzone-dkim-selectors"

    def run(self, *args: str) -> Run:
        return mailzone(self.repo, *args)

    def ok(self, *args: str) -> Run:
        result = self.run(*args)
        assert result.code == 0, f"mailzone {' '.join(args)}\n{result.out}\n{result.err}"
        return result

    def rotate(self, when: datetime, *args: str) -> Run:
        return self.ok(
            "rotate", "--now", when.isoformat(), "--host-config", str(self.host_config), *args
        )

    def apply(self) -> Run:
        return self.ok("apply", "--yes")

    def state(self) -> dict[str, dict[str, Any]]:
        """selector -> its entry in state/example.org.yaml."""
        data = yaml.safe_load((self.repo / "state" / f"{DOMAIN}.yaml").read_text())
        return {s["selector"]: s for s in data.get("selectors", [])}

    def phases(self) -> dict[str, str]:
        return {name: entry["phase"] for name, entry in self.state().items()}

    def served(self, selector: str) -> list[str]:
        """What BIND answers for the selector's TXT record."""
        return txt_values(self.bind, f"{selector}._domainkey.{DOMAIN}.")

    def published_value(self, selector: str) -> str:
        """The TXT value the state says the selector's record holds."""
        entry = self.state()[selector]
        return f"v=DKIM1; k={entry['algorithm']}; p={entry['public_key']}"

    def key_file(self, selector: str) -> Path:
        return self.keys / f"{DOMAIN}.{selector}.pem"

    def send(self, subject: str) -> bytes:
        """Submit a message through Exim configured from the macros file mailzone merged."""
        conf = self.exim.config_from(self.macros_file.read_text())
        return self.exim.deliver(conf, message(subject))

    def verifies(self, received: bytes) -> list[bool]:
        return verify_each(received, self.bind)

    def keys_list(self) -> list[dict[str, Any]]:
        out = self.ok("keys", "list", "--format", "json", "--host-config", str(self.host_config))
        rows: list[dict[str, Any]] = json.loads(out.out)
        return rows

    def set_dkim(self, **policy: Any) -> None:
        """Replace the spec's dkim section (init writes `dkim: {import: []}`)."""
        path = self.repo / "zones" / f"{DOMAIN}.yaml"
        spec = yaml.safe_load(path.read_text())
        spec["dkim"] = policy
        path.write_text(yaml.safe_dump(spec, sort_keys=False))


@pytest.fixture
def site(bind_server: BindServer) -> Iterator[Site]:
    with exim_rig("mailzone-rotation-") as exim:
        root = exim.root  # 0755: Debian-exim reaches the keys and the lookup file through it
        repo, etc, keys = root / "repo", root / "etc", root / "keys"
        repo.mkdir()
        etc.mkdir()
        etc.chmod(0o755)
        (etc / "update-exim4.conf.conf").write_text(UPDATE_EXIM4_CONF)
        # the admin's own localmacros, without a final newline: mailzone must merge into it
        (etc / "exim4.conf.localmacros").write_text(USER_LOCALMACROS)
        reloads = root / "reloads"
        host_config = root / "host.yaml"
        host_config.write_text(
            yaml.safe_dump(
                {
                    "key_dir": str(keys),
                    "key_group": EXIM_USER,
                    "mta": {
                        "kind": "exim",
                        "macros_file": str(etc / "exim4.conf.localmacros"),
                        "lookup_file": str(etc / "mailzone-dkim-selectors"),
                        "strict": True,
                        "reload": [["sh", "-c", f"echo reload >> {reloads}"]],
                    },
                }
            )
        )
        provider = bind_server.provider_config()
        provider["mailzone"] = {"nameservers": [f"{LOOPBACK}:{bind_server.port}"]}
        write_provider(repo, "bind", provider)
        site = Site(repo, host_config, etc, keys, reloads, bind_server, exim)
        site.ok(
            "init",
            DOMAIN,
            "--mail-host",
            f"mail.{DOMAIN}",
            "--ipv4",
            "192.0.2.25",
            "--provider",
            "bind",
            "--host-config",
            str(host_config),
        )
        yield site


def later() -> datetime:
    """A start time after `init`'s (a selector's times may not precede its creation)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


def reload_count(site: Site) -> int:
    return len(site.reloads.read_text().splitlines()) if site.reloads.exists() else 0


def activate_first_key(site: Site, t0: datetime, probe: bool = False) -> str:
    """init's pending selector: apply, seen at t0, active at t0+25h; return its name.
    `probe`: also prove that mail leaves unsigned (not deferred) until then."""
    (first,) = site.phases()
    assert site.phases() == {first: "pending"}
    assert site.served(first) == []
    site.apply()
    assert site.served(first) == [site.published_value(first)]
    site.rotate(t0)
    assert site.phases() == {first: "pending"}
    assert site.state()[first]["visible_since"] is not None
    assert site.lookup_file.read_text().splitlines()[1:] == []  # nothing signs yet
    if probe:
        assert signatures(site.send("before the first key is active")) == 0
    site.rotate(t0 + timedelta(hours=25))
    assert site.phases() == {first: "active"}
    assert site.lookup_file.read_text().splitlines()[-1] == f"{DOMAIN}: {first}"
    return first


def test_rotation_keeps_every_message_verifiable_until_the_old_key_is_revoked(
    site: Site,
) -> None:
    t0 = later()
    first = activate_first_key(site, t0, probe=True)
    assert reload_count(site) >= 1
    macros = site.macros_file.read_text()
    assert macros.startswith(USER_LOCALMACROS + "\n# BEGIN mailzone"), macros
    assert str(site.keys) in macros and str(site.lookup_file) in macros

    signed_first = site.send("signed with the first key")
    assert signing_selectors(signed_first) == [first]
    assert site.verifies(signed_first) == [True]

    # 90 days on: a new pending selector, published by apply, seen by the next run
    t90 = t0 + timedelta(days=90)
    site.rotate(t90)
    (second,) = set(site.phases()) - {first}
    assert site.phases() == {first: "active", second: "pending"}
    assert site.key_file(second).exists()
    assert site.served(second) == []  # rotate without --apply publishes nothing
    site.apply()
    assert site.served(second) == [site.published_value(second)]
    site.rotate(t90)
    assert site.state()[second]["visible_since"] is not None
    reloads = reload_count(site)
    signed_before_switch = site.send("signed before the switch")
    assert signing_selectors(signed_before_switch) == [first]  # still signing with the old key

    # 25 hours later: the switch
    switch = t90 + timedelta(hours=25)
    site.rotate(switch)
    assert site.phases() == {first: "retiring", second: "active"}
    assert site.lookup_file.read_text().splitlines()[-1] == f"{DOMAIN}: {second}"
    assert reload_count(site) == reloads + 1
    assert site.served(first) == [site.published_value(first)]  # retiring keys stay published
    assert site.served(second) == [site.published_value(second)]
    signed_after_switch = site.send("signed after the switch")
    assert signing_selectors(signed_after_switch) == [second]
    assert site.verifies(signed_after_switch) == [True]
    assert site.verifies(signed_before_switch) == [True]  # mail in flight still verifies

    # 7 days after the switch: the old key is revoked
    site.rotate(switch + timedelta(days=7))
    assert site.phases() == {first: "revoked", second: "active"}
    site.apply()
    assert site.served(first) == [REVOKED]
    assert site.served(second) == [site.published_value(second)]
    assert site.verifies(signed_before_switch) == [False]  # negative control
    assert site.verifies(signed_first) == [False]
    assert site.verifies(signed_after_switch) == [True]
    assert site.key_file(first).exists()  # kept until DNS no longer serves the selector

    # 30 days after the switch: tombstone, removed from DNS, then the private key goes
    forget = switch + timedelta(days=30)
    site.rotate(forget)
    assert site.phases() == {first: "tombstone", second: "active"}
    assert site.key_file(first).exists()
    site.apply()
    assert site.served(first) == []
    site.rotate(forget)
    assert site.phases() == {second: "active"}
    assert not site.key_file(first).exists()
    assert site.key_file(second).exists()
    assert [(r["selector"], r["phase"]) for r in site.keys_list()] == [(second, "active")]
    assert site.verifies(site.send("after the old key is gone")) == [True]


def test_dual_signing_rsa_and_ed25519_both_verify(site: Site) -> None:
    site.set_dkim(algorithms=["rsa", "ed25519"])
    t0 = later()
    site.rotate(t0)  # the ed25519 track starts: a second pending selector
    phases = site.phases()
    assert sorted(phases.values()) == ["pending", "pending"]
    assert {e["algorithm"] for e in site.state().values()} == {"rsa", "ed25519"}
    site.apply()
    for selector in phases:
        assert site.served(selector) == [site.published_value(selector)]
    site.rotate(t0)
    site.rotate(t0 + timedelta(hours=25))
    assert sorted(site.phases().values()) == ["active", "active"]
    by_algorithm = {e["algorithm"]: name for name, e in site.state().items()}

    received = site.send("dual")

    assert signing_selectors(received) == [by_algorithm["rsa"], by_algorithm["ed25519"]]
    assert b"a=rsa-sha256" in received and b"a=ed25519-sha256" in received
    assert site.verifies(received) == [True, True]


def test_mta_exim_check_finds_each_silent_failure_in_what_rotate_wrote(site: Site) -> None:
    first = activate_first_key(site, later())
    check = (
        "mta",
        "exim",
        "--check",
        "--etc-dir",
        str(site.etc),
        "--host-config",
        str(site.host_config),
    )

    good = site.run(*check)
    assert good.code == 0, good.out + good.err
    assert "fail:" not in good.out

    def fails_with(needle: str) -> None:
        result = site.run(*check)
        assert result.code == 3, result.out + result.err
        lines = [line for line in result.out.splitlines() if line.startswith("fail:")]
        assert any(needle in line for line in lines), result.out

    macros = site.macros_file.read_text()
    site.macros_file.write_text(macros.rstrip("\n"))
    fails_with("does not end with a newline")
    site.macros_file.write_text(macros)

    conf = site.etc / "update-exim4.conf.conf"
    conf.write_text(UPDATE_EXIM4_CONF.replace("'internet'", "'smarthost'"))
    fails_with("dc_eximconfig_configtype='smarthost'")
    conf.write_text(
        UPDATE_EXIM4_CONF.replace("dc_use_split_config='false'", "dc_use_split_config='true'")
    )
    fails_with("dc_use_split_config='true'")
    conf.write_text(UPDATE_EXIM4_CONF)

    override = site.etc / "exim4.conf"
    override.write_text("# a hand-made config\n")
    fails_with(f"{override} exists")
    override.unlink()

    key = site.key_file(first)
    key.chmod(0o600)
    fails_with(f"{key}: {EXIM_USER} cannot read")
    key.chmod(0o640)

    assert site.run(*check).code == 0  # every fault undone: healthy again


def test_emergency_rotation_publishes_switches_and_revokes_in_one_run(site: Site) -> None:
    t0 = later()
    old = activate_first_key(site, t0)
    signed_old = site.send("signed with the compromised key")
    assert site.verifies(signed_old) == [True]

    result = site.rotate(t0 + timedelta(hours=26), "--emergency", "--apply", DOMAIN)

    phases = site.phases()
    (new,) = set(phases) - {old}
    for step in (f"publish {new}", f"sign rsa mail with {new}", f"revoke {old}"):
        assert step in result.out, result.out
    assert phases == {old: "revoked", new: "active"}
    assert site.served(new) == [site.published_value(new)]
    assert site.served(old) == [REVOKED]
    assert site.lookup_file.read_text().splitlines()[-1] == f"{DOMAIN}: {new}"
    signed_new = site.send("signed after the emergency")
    assert signing_selectors(signed_new) == [new]
    assert site.verifies(signed_new) == [True]
    assert site.verifies(signed_old) == [False]


def test_rotate_rewrites_exim_files_someone_replaced(site: Site) -> None:
    t0 = later()
    first = activate_first_key(site, t0)
    wanted_macros = site.macros_file.read_text()
    wanted_lookup = site.lookup_file.read_text()
    # e.g. configuration management puts back the admin's own localmacros: Exim then signs nothing
    site.macros_file.write_text(USER_LOCALMACROS + "\n")
    assert signatures(site.send("without the mailzone block")) == 0
    reloads = reload_count(site)

    result = site.rotate(t0 + timedelta(days=2))  # nothing is due

    assert site.macros_file.read_text() == wanted_macros
    assert f"wrote {site.macros_file}" in result.out
    assert reload_count(site) == reloads + 1
    repaired = site.send("after rotate")
    assert signing_selectors(repaired) == [first]
    assert site.verifies(repaired) == [True]

    site.lookup_file.write_text("# emptied by hand\n")
    site.rotate(t0 + timedelta(days=3))
    assert site.lookup_file.read_text() == wanted_lookup
    assert reload_count(site) == reloads + 2

    site.rotate(t0 + timedelta(days=4))  # files as they should be: nothing written, no reload
    assert reload_count(site) == reloads + 2


def test_a_revocation_whose_apply_failed_is_published_by_the_next_rotate_apply(
    site: Site,
) -> None:
    t0 = later()
    first = activate_first_key(site, t0)
    signed_first = site.send("signed with the first key")
    t90 = t0 + timedelta(days=90)
    site.rotate(t90, "--apply")
    site.rotate(t90)
    switch = t90 + timedelta(hours=25)
    site.rotate(switch)
    (second,) = set(site.phases()) - {first}
    assert site.phases() == {first: "retiring", second: "active"}
    provider = site.repo / "providers" / "bind.yaml"
    good = provider.read_text()
    config = yaml.safe_load(good)
    config["key_secret"] = base64.b64encode(b"not the secret BIND knows 123456").decode()
    provider.write_text(yaml.safe_dump(config))

    failed = site.run(
        "rotate",
        "--now",
        (switch + timedelta(days=7)).isoformat(),
        "--apply",
        "--host-config",
        str(site.host_config),
    )

    assert failed.code == 1, failed.out + failed.err
    assert site.phases() == {first: "revoked", second: "active"}
    assert site.served(first) == [site.published_value(first)]  # the revocation did not go out
    assert site.verifies(signed_first) == [True]
    provider.write_text(good)  # the provider works again: the daily run must catch up

    site.rotate(switch + timedelta(days=8), "--apply")

    assert site.served(first) == [REVOKED]
    assert site.verifies(signed_first) == [False]


def _verdict(site: Site, received: bytes) -> dict[str, str]:
    """`mailzone check --message` on what Exim sent: check → status."""
    path = site.repo / "received.eml"
    path.write_bytes(received)
    run = site.run(
        "check",
        "--message",
        str(path),
        "--sender-ip",
        "192.0.2.25",
        "--mail-from",
        SENDER,
        "--nameserver",
        f"{LOOPBACK}:{site.bind.port}",
        "--format",
        "json",
    )
    assert run.code in (0, 3), run.err
    findings = json.loads(run.out)["domains"][0]["findings"]
    return {f["check"]: f["status"] for f in findings}


def test_check_message_judges_what_exim_signed(site: Site) -> None:
    t0 = later()
    activate_first_key(site, t0)
    received = site.send("judged by mailzone check")

    assert _verdict(site, received) == {"spf": "pass", "dkim": "pass", "dmarc": "pass"}

    site.rotate(t0 + timedelta(hours=26), "--emergency", DOMAIN, "--apply")  # revokes the key

    assert _verdict(site, received) == {"spf": "pass", "dkim": "fail", "dmarc": "pass"}


# -- the key files' mode and group, as each command on the Exim host judges them ---------------

OTHER_GROUP = "nogroup"  # exists on Debian; Debian-exim is not in it


def _check_dkim(site: Site) -> tuple[int, list[dict[str, Any]]]:
    """`mailzone check DOMAIN` against the test BIND (DNS families only): exit code and findings."""
    run = site.run(
        "check",
        DOMAIN,
        "--nameserver",
        f"{LOOPBACK}:{site.bind.port}",
        "--host-config",
        str(site.host_config),
        *("--skip", "rdns", "--skip", "blocklist", "--skip", "smtp", "--skip", "https"),
        "--format",
        "json",
    )
    assert run.code in (0, 3), run.out + run.err
    (report,) = json.loads(run.out)["domains"]
    return run.code, report["findings"]


def _suggested_modes_are_readable_by_exim(text: str) -> None:
    """Every chmod/chgrp a command suggests leaves the key readable by Debian-exim."""
    assert "chmod 600" not in text and "chmod 0600" not in text, text
    for words in (line.split() for line in text.replace("`", " ").splitlines()):
        for i, word in enumerate(words[:-1]):
            if word == "chgrp":
                assert words[i + 1] == EXIM_USER, text
            if word == "chmod":
                assert words[i + 1] in ("640", "0640"), text


def test_exim_host_keys_pass_every_command_and_a_wrong_mode_or_group_is_named_by_each(
    site: Site,
) -> None:
    # given the README's Exim host (key_group: Debian-exim), RSA and Ed25519 keys active
    site.set_dkim(algorithms=["rsa", "ed25519"])
    t0 = later()
    site.rotate(t0)
    site.apply()
    site.rotate(t0)
    site.rotate(t0 + timedelta(hours=25))
    by_algorithm = {e["algorithm"]: name for name, e in site.state().items()}
    assert sorted(site.phases().values()) == ["active", "active"]
    rsa, ed = (site.key_file(by_algorithm[a]) for a in ("rsa", "ed25519"))
    mta_check = ("mta", "exim", "--check", "--etc-dir", str(site.etc))
    mta_check += ("--host-config", str(site.host_config))
    noop = t0 + timedelta(hours=26)

    # then every command is content with the keys mailzone wrote (0640 root:Debian-exim)
    code, findings = _check_dkim(site)
    assert code == 0, findings
    dkim = [f for f in findings if f["check"] == "dkim"]
    assert [f["status"] for f in dkim] == ["pass", "pass"], dkim
    rows = site.keys_list()
    assert [(r["key_file"], r["key_problem"]) for r in rows] == [(True, None), (True, None)]
    assert site.run(*mta_check).code == 0
    quiet = site.rotate(noop)
    assert quiet.err == "", quiet.err

    # when one key is 0644 and the other belongs to another group
    rsa.chmod(0o644)
    shutil.chown(ed, group=OTHER_GROUP)

    # then each command names both files, and no fix leaves a key Exim cannot read
    code, findings = _check_dkim(site)
    assert code == 3
    failed = {f["message"].split(":")[0]: f for f in findings if f["status"] == "fail"}
    assert set(failed) == {str(rsa), str(ed)}, findings
    assert "lets every user read" in failed[str(rsa)]["message"]
    assert failed[str(rsa)]["fix"] == f"run `chmod 640 {rsa}`"
    assert (
        f"lets group {OTHER_GROUP} read this DKIM private key, not {EXIM_USER}"
        in (failed[str(ed)]["message"])
    )
    assert failed[str(ed)]["fix"] == f"run `chgrp {EXIM_USER} {ed} && chmod 640 {ed}`"

    listed = site.run("keys", "list", "--host-config", str(site.host_config))
    assert listed.code == 0
    assert listed.out.count("unusable") == 2, listed.out
    assert str(rsa) in listed.err and str(ed) in listed.err

    exim = site.run(*mta_check)
    assert exim.code == 3, exim.out
    assert f"fail: {ed}: {EXIM_USER} cannot read" in exim.out
    assert f"warn: {rsa}: mode 0644 lets every user" in exim.out

    rotated = site.run("rotate", "--now", noop.isoformat(), "--host-config", str(site.host_config))
    assert rotated.code == 1
    assert f"error: {DOMAIN}: {rsa}: mode 0644" in rotated.err
    assert f"error: {DOMAIN}: {ed}: mode 0640 lets group {OTHER_GROUP} read" in rotated.err

    every = "\n".join(
        [json.dumps(findings), listed.out + listed.err, exim.out, rotated.out + rotated.err]
    )
    _suggested_modes_are_readable_by_exim(every)

    # and the fixes `check` names make every command content again, and Exim signs with both
    for finding in failed.values():
        command = finding["fix"].removeprefix("run `").removesuffix("`")
        subprocess.run(["sh", "-c", command], check=True)
    assert _check_dkim(site)[0] == 0
    assert site.run(*mta_check).code == 0
    assert site.rotate(noop).err == ""
    assert site.verifies(site.send("signed after the fixes")) == [True, True]
