"""`mailzone rotate` end to end on the built-in `local` provider, driven with `--now`.

Each test runs the real CLI in a subprocess against a temp repository and a temp host config
(key directory, Exim files and reload command all under tmp_path), so nothing outside tmp_path
is touched and no DNS server is needed: for `local`, the zone file is the live zone."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailzone.util.lock import exclusive
from tests.cli import Run, inproc, mailzone, refused

DOMAIN = "example.org"
ZONE_FILE = Path("build/zones/example.org.zone")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class Repo:
    """A temp repository with one domain made by `init`, and its host config."""

    def __init__(
        self,
        tmp: Path,
        *,
        mta: str = "exim",
        reload: list[str] | None = None,
        archive: bool = False,
        retire: str = "revoke",
        subprocess: bool = False,
    ) -> None:
        self.run = mailzone if subprocess else inproc
        self.root = tmp / "repo"
        self.root.mkdir(parents=True)
        self.keys = tmp / "keys"
        self.archive = tmp / "archive"
        self.exim = tmp / "exim"
        self.host = tmp / "etc" / "host.yaml"
        config: dict[str, Any] = {"key_dir": str(self.keys), "mta": {"kind": mta}}
        if mta == "exim":
            config["mta"].update(
                macros_file=str(self.exim / "localmacros"),
                lookup_file=str(self.exim / "selectors"),
                reload=reload if reload is not None else ["true"],
            )
        if archive:
            config["archive_dir"] = str(self.archive)
        self.write_host(config)
        run = self.cli("init", DOMAIN, "--mail-host", "mail.example.org", "--ipv4", "192.0.2.25")
        assert run.code == 0, run.err
        if retire != "revoke":
            spec = self.root / "zones" / f"{DOMAIN}.yaml"
            spec.write_text(spec.read_text().replace("dkim:\n", f"dkim:\n  retire: {retire}\n"))
        (first,) = self.selectors()
        self.t0 = datetime.fromisoformat(first["created"].replace("Z", "+00:00"))

    def write_host(self, config: dict[str, Any]) -> None:
        self.host.parent.mkdir(parents=True, exist_ok=True)
        self.host.write_text(yaml.safe_dump(config))

    def cli(self, *args: str) -> Run:
        return self.run(self.root, *args, "--host-config", str(self.host))

    def apply(self) -> str:
        return ok(self.run(self.root, "apply", "--yes"))

    def rotate(self, when: datetime, *args: str, subprocess: bool = False) -> Run:
        if subprocess:  # the real thing: a process with its own stdout
            return mailzone(
                self.root,
                "rotate",
                "--now",
                when.isoformat(),
                *args,
                "--host-config",
                str(self.host),
            )
        return self.cli("rotate", "--now", when.isoformat(), *args)

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load((self.root / "state" / f"{DOMAIN}.yaml").read_text())
        return data

    def selectors(self) -> list[dict[str, Any]]:
        return list(self.state().get("selectors", []))

    def phases(self) -> dict[str, str]:
        return {s["selector"]: s["phase"] for s in self.selectors()}

    def key(self, selector: str) -> Path:
        return self.keys / f"{DOMAIN}.{selector}.pem"

    def zone(self) -> str:
        return (self.root / ZONE_FILE).read_text()

    def served(self, selector: str) -> str | None:
        """The TXT value the zone file holds for the selector (strings joined), or None."""
        for line in self.zone().splitlines():
            if line.startswith(f"{selector}._domainkey "):
                return "".join(re.findall(r'"([^"]*)"', line))
        return None

    def signing(self) -> dict[str, list[str]]:
        """The Exim lookup file: domain → selectors."""
        path = self.exim / "selectors"
        out = {}
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                domain, _, rest = line.partition(":")
                out[domain.strip()] = [s.strip() for s in rest.split(":")]
        return out

    def snapshot(self) -> dict[str, bytes]:
        """Bytes and modes of every file that rotate may write."""
        found = {}
        for base in (self.root / "state", self.root / "build", self.keys, self.exim, self.archive):
            for path in sorted(base.rglob("*")) if base.exists() else []:
                if path.is_file():
                    found[str(path)] = path.read_bytes() + oct(path.stat().st_mode).encode()
        return found


def public_of(repo: Repo, selector: str) -> str:
    entry = next(s for s in repo.selectors() if s["selector"] == selector)
    return str(entry["public_key"])


def ok(run: Run) -> str:
    assert run.code == 0, (run.out, run.err)
    assert "error" not in run.err, run.err
    return run.out


def due_line(out: str) -> str:
    return next(line for line in out.splitlines() if "next step due" in line or "next due" in line)


def assert_noop_reads_no_key(repo: Repo, when: datetime, subprocess: bool = False) -> None:
    """A run with nothing due prints so, changes no byte, and reads no private key: every key file
    holds garbage during the run (its mode stays right: rotate does look at the signing keys'
    modes, never at their content)."""
    saved = {p: (p.read_bytes(), p.stat().st_mode) for p in repo.keys.glob("*.pem")}
    for path in saved:
        path.write_bytes(b"not a key\n")
    try:
        before = repo.snapshot()
        out = ok(repo.rotate(when, subprocess=subprocess))
        assert "nothing due for 1 domain(s); next due" in out, out
        assert repo.snapshot() == before
    finally:
        for path, (data, mode) in saved.items():
            path.write_bytes(data)
            path.chmod(mode)


def test_full_lifecycle_with_exim_revoke_and_apply(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    (first,) = repo.phases()
    assert repo.phases() == {first: "pending"}
    assert repo.key(first).stat().st_mode & 0o777 == 0o600
    repo.apply()
    assert f"p={public_of(repo, first)}" in (repo.served(first) or "")
    t0 = repo.t0

    # the zone serves it: noted, activation due 24h later
    out = ok(repo.rotate(t0 + HOUR))
    assert repo.state()["selectors"][0]["visible_since"]
    assert f"{(t0 + HOUR + DAY):%Y-%m-%d %H:%M}" in due_line(out)
    assert repo.signing() == {}  # nothing signs yet (the Exim files exist, empty)

    # after 24h: active, and Exim signs with it
    now = t0 + HOUR + DAY
    out = ok(repo.rotate(now))
    assert f"{DOMAIN}: sign rsa mail with {first} (active)" in out
    assert f"next step due {t0 + timedelta(days=90):%Y-%m-%d %H:%M}" in out
    assert repo.phases() == {first: "active"}
    assert repo.signing() == {DOMAIN: [first]}
    assert "mta: wrote" in out

    # idempotent: same --now again changes nothing and reads no key
    assert_noop_reads_no_key(repo, now, subprocess=True)
    assert_noop_reads_no_key(repo, now + 10 * DAY)

    # 90 days: a new pending selector, published at once with --apply (json output stays json)
    now = t0 + timedelta(days=90, hours=2)
    run = repo.rotate(now, "--apply", "--format", "json", subprocess=True)
    assert run.code == 0, run.err
    data = json.loads(run.out)
    (second,) = [s for s in repo.phases() if s != first]
    assert data["domains"][0]["done"] == [
        f"new rsa-2048 key for selector {second}",
        f"publish {second} (pending)",
    ]
    assert data["errors"] == []
    assert data["domains"][0]["waiting"] == [
        f"{second} published now; the next rotate checks that every nameserver serves it"
    ]
    assert "applied" in run.err  # the apply summary, kept off stdout
    assert repo.phases() == {first: "active", second: "pending"}
    assert repo.key(second).stat().st_mode & 0o777 == 0o600
    assert f"p={public_of(repo, second)}" in (repo.served(second) or "")
    assert repo.signing() == {DOMAIN: [first]}
    assert "BEGIN PRIVATE KEY" not in run.out + run.err

    # seen in DNS; switched 24h later: the old one retires (still published, key kept)
    ok(repo.rotate(now + HOUR, "--apply"))
    switch = now + HOUR + DAY
    out = ok(repo.rotate(switch, "--apply"))
    assert f"sign rsa mail with {second} (active)" in out
    assert f"stop signing with {first} (retiring)" in out
    assert f"next step due {switch + 7 * DAY:%Y-%m-%d %H:%M}" in out
    assert repo.phases() == {first: "retiring", second: "active"}
    assert repo.signing() == {DOMAIN: [second]}
    assert f"p={public_of(repo, first)}" in (repo.served(first) or "")
    assert repo.key(first).exists()
    assert_noop_reads_no_key(repo, switch + HOUR)

    # +7d: revoked (an empty key in DNS), key still here
    out = ok(repo.rotate(switch + 7 * DAY, "--apply"))
    assert f"revoke {first} (publish an empty key)" in out
    assert "applied" in out
    assert repo.phases() == {first: "revoked", second: "active"}
    assert repo.served(first) == "v=DKIM1; k=rsa; p="
    assert repo.key(first).exists()

    # +30d: tombstone, record removed by the apply; the key waits for the next run
    out = ok(repo.rotate(switch + 30 * DAY, "--apply"))
    assert f"remove {first} from DNS" in out
    assert f"waiting: {first} removed from DNS now; its key is deleted once" in out
    assert "mailzone apply" not in out
    assert repo.phases()[first] == "tombstone"
    assert repo.served(first) is None
    assert repo.key(first).exists()

    # the next run sees it gone: key deleted, selector forgotten
    out = ok(repo.rotate(switch + 30 * DAY + HOUR, "--apply"))
    assert f"delete the private key of {first}" in out
    assert repo.phases() == {second: "active"}
    assert not repo.key(first).exists()
    assert repo.key(second).exists()
    assert repo.signing() == {DOMAIN: [second]}
    assert_noop_reads_no_key(repo, switch + 30 * DAY + HOUR)


def test_retire_remove_with_archive_dir_moves_the_key(tmp_path: Path) -> None:
    repo = Repo(tmp_path, mta="none", archive=True, retire="remove")
    (first,) = repo.phases()
    repo.apply()
    t0 = repo.t0
    ok(repo.rotate(t0 + HOUR))
    ok(repo.rotate(t0 + HOUR + DAY))
    assert repo.phases() == {first: "active"}
    now = t0 + timedelta(days=91)
    ok(repo.rotate(now, "--apply"))
    ok(repo.rotate(now + HOUR))
    switch = now + HOUR + DAY
    ok(repo.rotate(switch))
    (second,) = [s for s, p in repo.phases().items() if p == "active"]
    assert repo.phases()[first] == "retiring"
    assert_noop_reads_no_key(repo, switch + 6 * DAY)

    # remove: at +7d the record goes at once (no revoked phase)
    out = ok(repo.rotate(switch + 7 * DAY))
    assert f"remove {first} from DNS" in out
    assert "DNS changes are in state/: run `mailzone apply`" in out
    assert repo.phases()[first] == "tombstone"
    assert repo.served(first) is not None  # not applied yet: the key stays
    key_bytes = repo.key(first).read_bytes()
    out = ok(repo.rotate(switch + 7 * DAY + HOUR))
    assert f"waiting: {first} still served: " in out
    assert repo.key(first).exists()

    repo.apply()
    assert repo.served(first) is None
    out = ok(repo.rotate(switch + 7 * DAY + 2 * HOUR))
    assert f"delete the private key of {first}" in out
    assert repo.phases() == {second: "active"}
    assert not repo.key(first).exists()
    archived = repo.archive / f"{DOMAIN}.{first}.pem"
    assert archived.read_bytes() == key_bytes
    assert archived.stat().st_mode & 0o777 == 0o600


def test_reload_failure_exits_1_and_the_next_run_finishes_the_switch(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    (first,) = repo.phases()
    repo.apply()
    ok(repo.rotate(repo.t0 + HOUR))
    config = yaml.safe_load(repo.host.read_text())
    config["mta"]["reload"] = ["false"]
    repo.write_host(config)
    now = repo.t0 + HOUR + DAY

    run = repo.rotate(now)
    assert "MTA not switched: reload command 'false' exited 1" in refused(run)
    assert "the next rotate retries" in run.err
    (entry,) = repo.selectors()
    assert entry["phase"] == "active"
    assert entry["mta_done"] is False

    # still failing: still exit 1, still not done
    assert "reload command 'false'" in refused(repo.rotate(now + HOUR))
    assert repo.selectors()[0]["mta_done"] is False

    config["mta"]["reload"] = ["true"]
    repo.write_host(config)
    out = ok(repo.rotate(now + 2 * HOUR))
    assert "mta_done" not in repo.selectors()[0]  # true, the usual value, is not written
    assert repo.signing() == {DOMAIN: [first]}
    assert f"{DOMAIN}: the MTA now signs rsa mail with {first} (earlier switch completed)" in out
    assert_noop_reads_no_key(repo, now + 3 * HOUR)


def test_a_second_rotate_while_one_runs_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    repo.apply()
    ok(repo.rotate(repo.t0 + HOUR))
    before = repo.snapshot()
    with exclusive(repo.root / "state" / ".mailzone.lock", "mailzone run"):
        run = repo.rotate(repo.t0 + 2 * DAY, "--lock-timeout", "0", subprocess=True)
    error = refused(run)
    assert error.startswith(f"another mailzone run (pid {os.getpid()}) holds "), error
    assert "state/.mailzone.lock; did not wait (--lock-timeout 0)" in error
    assert repo.snapshot() == before
    ok(repo.rotate(repo.t0 + 2 * DAY))  # free again once the holder is gone


def test_bad_now_is_one_line(tmp_path: Path) -> None:
    repo = Repo(tmp_path, mta="none")
    before = repo.snapshot()
    error = refused(repo.cli("rotate", "--now", "next tuesday"))
    assert error.startswith("--now: 'next tuesday' is not an ISO 8601 time")
    assert repo.snapshot() == before


# -- faults and bad input: one line, exit 1, nothing changed, no key lost ----------------------


def ready_to_activate(tmp_path: Path) -> tuple[Repo, str, datetime]:
    """A repo whose first selector is served and due to become active at the returned time."""
    repo = Repo(tmp_path)
    (first,) = repo.phases()
    repo.apply()
    ok(repo.rotate(repo.t0 + HOUR))
    return repo, first, repo.t0 + HOUR + DAY


def test_missing_key_for_the_selector_being_activated(tmp_path: Path) -> None:
    repo, first, when = ready_to_activate(tmp_path)
    repo.key(first).rename(tmp_path / "elsewhere.pem")
    before = repo.snapshot()
    error = refused(repo.rotate(when))
    assert error == (
        f"{DOMAIN}: no private key for selector {first} in {repo.keys}; run rotate on the mail "
        "host that holds it"
    )
    assert repo.snapshot() == before
    assert repo.phases() == {first: "pending"}
    (tmp_path / "elsewhere.pem").rename(repo.key(first))
    ok(repo.rotate(when))
    assert repo.phases() == {first: "active"}


def test_key_whose_public_half_does_not_match_the_state(tmp_path: Path) -> None:
    repo, first, when = ready_to_activate(tmp_path)
    original = repo.key(first).read_bytes()
    other = Repo(tmp_path / "other")  # its init made another RSA key
    (other_sel,) = other.phases()
    repo.key(first).unlink()
    repo.key(first).write_bytes(other.key(other_sel).read_bytes())
    repo.key(first).chmod(0o600)
    before = repo.snapshot()
    error = refused(repo.rotate(when))
    assert error == (
        f"{DOMAIN}: {repo.key(first)}: its public half does not match the fingerprint of {first} "
        f"in state/{DOMAIN}.yaml; not switching to it"
    )
    assert repo.snapshot() == before
    repo.key(first).write_bytes(original)
    ok(repo.rotate(when))


def test_world_readable_key_is_refused_not_used(tmp_path: Path) -> None:
    repo, first, when = ready_to_activate(tmp_path)
    repo.key(first).chmod(0o644)
    before = repo.snapshot()
    error = refused(repo.rotate(when))
    assert error == (
        f"{DOMAIN}: {repo.key(first)}: mode 0644 lets every user read this DKIM private key; "
        f"not switching to {first} until it is fixed; run: chmod 600 {repo.key(first)}"
    )
    assert repo.snapshot() == before
    assert repo.key(first).exists()


def edit_state(repo: Repo, selector: str, **changes: Any) -> None:
    path = repo.root / "state" / f"{DOMAIN}.yaml"
    data = yaml.safe_load(path.read_text())
    for entry in data["selectors"]:
        if entry["selector"] == selector:
            entry.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=1000))


@pytest.mark.parametrize("case", ["pending_switched", "revoked_before_switched", "two_active"])
def test_impossible_hand_edited_state_names_file_and_line(tmp_path: Path, case: str) -> None:
    repo = Repo(tmp_path, mta="none")
    (first,) = repo.phases()
    t0 = repo.t0
    state_file = repo.root / "state" / f"{DOMAIN}.yaml"
    if case == "pending_switched":
        edit_state(repo, first, switched=(t0 + DAY).isoformat())
        expected = "a pending selector cannot have been switched or revoked"
    elif case == "revoked_before_switched":
        edit_state(
            repo,
            first,
            phase="revoked",
            switched=(t0 + 2 * DAY).isoformat(),
            revoked=(t0 + DAY).isoformat(),
        )
        expected = "revoked is before switched"
    else:
        other = Repo(tmp_path / "other", mta="none")
        data = yaml.safe_load(state_file.read_text())
        second = dict(other.selectors()[0], selector="s2")
        data["selectors"][0]["phase"] = "active"
        data["selectors"].append(second | {"phase": "active"})
        state_file.write_text(yaml.safe_dump(data, sort_keys=False, width=1000))
        expected = f"2 active rsa selectors ({first}, s2); at most one"
    before = repo.snapshot()
    for command in (["validate"], ["rotate", "--now", (t0 + 3 * DAY).isoformat()]):
        run = repo.cli(*command) if command[0] == "rotate" else inproc(repo.root, *command)
        error = refused(run)
        assert re.match(rf"state/{DOMAIN}\.yaml:\d+: ", error), error
        assert expected in error, error
        assert repo.snapshot() == before
        assert repo.key(first).exists()


@pytest.mark.parametrize(
    ("dkim", "field", "expected"),
    [
        ("  revoke_after: 30d\n  forget_after: 30d\n", "dkim", "revoke_after (30d) must be shorter than forget_after (30d)"),
        ("  algorithms: [dsa]\n", "dkim.algorithms[0]", "'dsa' is not one of rsa, ed25519"),
        ("  rotate_every: 90 days\n", "dkim.rotate_every", "'90 days' is not a duration"),
    ],
)  # fmt: skip
def test_bad_dkim_policy_names_file_line_and_field(
    tmp_path: Path, dkim: str, field: str, expected: str
) -> None:
    repo = Repo(tmp_path, mta="none")
    spec = repo.root / "zones" / f"{DOMAIN}.yaml"
    spec.write_text(spec.read_text().replace("dkim:\n", "dkim:\n" + dkim))
    before = repo.snapshot()
    error = refused(repo.rotate(repo.t0 + 2 * DAY))
    assert re.match(rf"zones/{DOMAIN}\.yaml:\d+: {re.escape(field)}: ", error), error
    assert expected in error, error
    assert repo.snapshot() == before


def test_a_time_before_the_state_is_refused_not_a_traceback(tmp_path: Path) -> None:
    # a clock set back (or a mistyped --now) must not write impossible timestamps
    repo = Repo(tmp_path)
    (first,) = repo.phases()
    repo.apply()
    ok(repo.rotate(repo.t0 + HOUR))
    before = repo.snapshot()
    error = refused(repo.rotate(repo.t0 - 400 * DAY, subprocess=True))
    seen = repo.t0 + HOUR  # visible_since, the latest time in the state
    assert error == (
        f"{DOMAIN}: the time {repo.t0 - 400 * DAY:%Y-%m-%d %H:%M} UTC is before the "
        f"visible_since of {first} ({seen:%Y-%m-%d %H:%M} UTC) in state/{DOMAIN}.yaml; "
        "is the clock right?"
    )
    assert repo.snapshot() == before


def _snapshot(tmp: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under tmp (repository, key directory, Exim files), with its mode."""
    return {
        str(p.relative_to(tmp)): (p.read_bytes(), p.stat().st_mode)
        for p in sorted(tmp.rglob("*"))
        if p.is_file()
    }


def _preview(repo: Repo, tmp: Path, when: datetime, *args: str) -> tuple[Run, dict[str, Any]]:
    """`rotate --dry-run` (text, then json) at `when`: asserts it wrote nothing at all."""
    before = _snapshot(tmp)
    text = repo.rotate(when, "--dry-run", *args)
    as_json = repo.rotate(when, "--dry-run", "--format", "json", *args)
    assert _snapshot(tmp) == before  # no key, state, MTA file, zone change, lock or .gitignore
    assert text.code == as_json.code, (text, as_json)
    return text, json.loads(as_json.out)


def test_dry_run_writes_nothing_and_says_what_the_real_run_then_does(tmp_path: Path) -> None:
    # given a repository made by init (first key pending) and an Exim host config
    repo = Repo(tmp_path)
    t0, (first,) = repo.t0, list(repo.phases())
    moments = [t0 + HOUR, t0 + 2 * HOUR, t0 + 27 * HOUR, t0 + 30 * HOUR]
    moments += [t0 + timedelta(days=91), t0 + timedelta(days=92, hours=4)]
    moments += [t0 + timedelta(days=100), t0 + timedelta(days=130), t0 + timedelta(days=131)]
    due_seen = 0
    for when in moments:
        # when previewed, then run for real (with --apply: the zone file is the live DNS)
        preview, data = _preview(repo, tmp_path, when, "--apply")
        real = repo.rotate(when, "--apply", "--format", "json")
        assert real.code == 0, real.err
        done = json.loads(real.out)["domains"][0]["done"]
        # then the preview named exactly the steps the run took, each with a reason,
        # and exit code 2 exactly when something was due
        (domain,) = data["domains"]
        assert domain["done"] == done
        assert all(step["why"] for step in domain["steps"])
        assert data["schema_version"] == 1 and data["dry_run"] is True
        assert (preview.code == 2) == data["due"], preview
        if done:
            assert preview.code == 2
            due_seen += 1
            for line, step in zip(done, domain["steps"], strict=True):
                assert f"{DOMAIN}: due: {line}; why: {step['why']}" in preview.out
        assert preview.out.splitlines()[-1].startswith("dry run: nothing was written")
    assert due_seen >= 4  # publish, switch, new key, revoke, forget...
    assert first not in repo.phases() or repo.phases()[first] != "active"


def test_dry_run_with_a_future_now_leaves_later_runs_working(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    future = repo.t0 + timedelta(days=400)
    preview, _ = _preview(repo, tmp_path, future)
    assert preview.code == 2, preview  # a MTA file to write, at least
    # a normal run afterwards does not find a state from the future
    run = repo.rotate(repo.t0 + HOUR)
    assert run.code == 0, run.err
    assert "is the clock right" not in run.err


def test_dry_run_generates_no_key_and_nothing_due_exits_0(tmp_path: Path) -> None:
    repo = Repo(tmp_path, mta="none")
    (first,) = list(repo.phases())
    repo.apply()
    ok(repo.rotate(repo.t0 + HOUR))  # seen: waits activate_delay
    preview, data = _preview(repo, tmp_path, repo.t0 + 2 * HOUR)
    assert preview.code == 0, preview
    assert preview.out.splitlines()[-1] == "dry run: nothing was written; nothing is due"
    (domain,) = data["domains"]
    (wait,) = domain["waits"]
    assert wait["selector"] == first and wait["waits_for"] == "activate_delay"
    assert wait["until"] == (repo.t0 + HOUR + DAY).isoformat()
    # a new key is due at 90 days: the preview names it but makes none
    repo.rotate(repo.t0 + 26 * HOUR)
    preview, data = _preview(repo, tmp_path, repo.t0 + timedelta(days=91))
    assert preview.code == 2
    assert "due: new rsa-2048 key for selector" in preview.out
    assert "days old (rotate every 90d)" in preview.out
    assert sorted(p.name for p in repo.keys.iterdir()) == [f"{DOMAIN}.{first}.pem"]


def test_now_help_no_longer_calls_it_a_dry_run(tmp_path: Path) -> None:
    run = mailzone(tmp_path, "rotate", "--help")
    assert "dry runs)" not in run.out
    assert "--dry-run" in run.out


def test_a_switch_that_fails_prints_no_step_it_did_not_take(tmp_path: Path) -> None:
    """The signing key became a symlink loop: the switch fails, and the run does not claim it
    signs with the new selector (nor any other step of that domain)."""
    repo = Repo(tmp_path)
    (first,) = repo.phases()
    repo.apply()
    ok(repo.rotate(repo.t0 + HOUR))
    key = repo.key(first)
    key.unlink()
    key.symlink_to(key.name)  # ELOOP: Too many levels of symbolic links
    run = repo.rotate(repo.t0 + HOUR + DAY)
    assert run.code == 1, (run.out, run.err)
    assert "(active)" not in run.out, run.out
    assert f"error: {DOMAIN}: " in run.err and first in run.err, run.err
    assert repo.phases() == {first: "pending"}
    data = json.loads(repo.rotate(repo.t0 + HOUR + DAY, "--format", "json").out)
    assert data["domains"][0]["done"] == [] and data["domains"][0]["steps"] == []


def test_a_failed_mta_reload_does_not_claim_the_mta_signs(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    (first,) = repo.phases()
    repo.apply()
    ok(repo.rotate(repo.t0 + HOUR))
    host = yaml.safe_load(repo.host.read_text())
    host["mta"]["reload"] = ["false"]
    repo.write_host(host)
    run = repo.rotate(repo.t0 + HOUR + DAY)
    assert run.code == 1, (run.out, run.err)
    assert "MTA not switched" in run.err
    assert f"sign rsa mail with {first}" not in run.out, run.out
    assert (
        f"{DOMAIN}: {first} is the active rsa selector in the state, but the MTA does not sign "
        "with it yet"
    ) in run.out


def test_rotate_apply_that_publishes_a_revocation_says_so(tmp_path: Path) -> None:
    """A revocation left unpublished (rotate without --apply) is published by the next
    `rotate --apply`, whose lines then say it was published, not that `mailzone apply` will."""
    repo = Repo(tmp_path)
    (first,) = repo.phases()
    repo.apply()
    t0 = repo.t0
    ok(repo.rotate(t0 + HOUR))
    ok(repo.rotate(t0 + HOUR + DAY))
    now = t0 + timedelta(days=90, hours=2)
    ok(repo.rotate(now, "--apply"))
    ok(repo.rotate(now + HOUR, "--apply"))
    switch = now + HOUR + DAY
    ok(repo.rotate(switch, "--apply"))
    ok(repo.rotate(switch + 7 * DAY))  # revoked in the state, not published
    assert repo.phases()[first] == "revoked"
    assert f"p={public_of(repo, first)}" in (repo.served(first) or "")

    held = ok(repo.rotate(switch + 7 * DAY + HOUR))
    assert "(mailzone apply publishes it)" in held, held
    out = ok(repo.rotate(switch + 7 * DAY + HOUR, "--apply"))
    assert (repo.served(first) or "").endswith("p=")
    assert "mailzone apply publishes it" not in out, out
    assert f"{first} is revoked" in out and "published now" in out, out
