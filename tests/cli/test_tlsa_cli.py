"""`mailzone tlsa current|add-next|show|deploy-hook` through the CLI, against the `local` target
(its zone file is the live zone, so `rotate` and the hook see what `apply` published): bad input
is one line, exit 1, nothing written; the hook installs a certificate only while DANE holds."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
import yaml

from mailzone.records.tlsa import spki_sha256
from tests.cli import Run, files, mailzone, refused
from tests.helpers import basic_spec, commit_all, git, write_spec

HOST = "mail.example.org"
DANE = "dnssec: true\ndane: {}\n"


def lineage(where: Path, ca: trustme.CA, name: str = HOST) -> Path:
    """A certbot lineage directory (cert.pem, fullchain.pem, privkey.pem) for a new key."""
    cert = ca.issue_cert(name)
    where.mkdir(parents=True)
    cert.cert_chain_pems[0].write_to_path(str(where / "cert.pem"))
    (where / "fullchain.pem").write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(where / "privkey.pem"))
    return where


def spki(directory: Path) -> str:
    return spki_sha256((directory / "cert.pem").read_bytes())


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_spec(root, "example.org", basic_spec(extra=DANE))
    return root


def state(root: Path) -> dict[str, object]:
    data = yaml.safe_load((root / "state" / "example.org.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_current_and_next_are_recorded_published_and_shown(
    repo: Path, tmp_path: Path, ca: trustme.CA
) -> None:
    a, b = lineage(tmp_path / "a", ca), lineage(tmp_path / "b", ca)

    first = mailzone(repo, "tlsa", "current", HOST, "--key", str(a / "privkey.pem"))
    second = mailzone(repo, "tlsa", "add-next", HOST, "--cert", str(b / "cert.pem"))

    assert first.code == 0 and second.code == 0, first.err + second.err
    assert "mailzone apply" in first.out and "commit state/example.org.yaml" in second.out
    tlsa = state(repo)["tlsa"]
    assert [(k["host"], k["role"], k["spki_sha256"]) for k in tlsa] == [  # type: ignore[attr-defined]
        (HOST, "current", spki(a)),
        (HOST, "next", spki(b)),
    ]
    key_text = (a / "privkey.pem").read_text()
    for path, data in files(repo).items():
        assert b"PRIVATE KEY" not in data, path
    assert "PRIVATE" not in first.out + first.err and key_text not in first.out
    records = mailzone(repo, "records", "example.org").out
    assert f"_25._tcp.mail 300 IN TLSA 3 1 1 {spki(a)}" in records
    assert f"_25._tcp.mail 300 IN TLSA 3 1 1 {spki(b)}" in records
    shown = mailzone(repo, "tlsa", "show")
    assert shown.code == 0
    assert f"{HOST}: current {spki(a)[:16]}…" in shown.out
    assert f"{HOST}: next    {spki(b)[:16]}…" in shown.out
    assert "mailzone rotate notes when every nameserver serves it" in shown.out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["current", "mx.example.org", "--cert", "{a}"], "mx.example.org is not a DANE host"),
        (["add-next", HOST, "--cert", "{b}"], f"{HOST} has no current key yet"),
        (["current", HOST, "--cert", "{a}", "--key", "{a}"], "--cert FILE or --key FILE"),
        (["current", HOST], "--cert FILE or --key FILE"),
        (["current", HOST, "--cert", "{spec}"], "--cert: "),
        (["current", HOST, "--key", "{missing}"], "--key: "),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    repo: Path, tmp_path: Path, ca: trustme.CA, args: list[str], fragment: str
) -> None:
    a, b = lineage(tmp_path / "a", ca), lineage(tmp_path / "b", ca)
    given = {
        "a": str(a / "cert.pem"),
        "b": str(b / "cert.pem"),
        "spec": str(repo / "zones" / "example.org.yaml"),
        "missing": str(tmp_path / "nope.pem"),
    }
    before = files(repo)

    run = mailzone(repo, "tlsa", *[arg.format(**given) for arg in args])

    assert fragment in refused(run)
    assert files(repo) == before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["add-next", HOST, "--cert", "{a}"], "this is the current key"),
        (["add-next", HOST, "--cert", "{c}"], "already has a next key"),
        (["current", HOST, "--cert", "{c}"], "already has a current key"),
    ],
)
def test_a_second_key_for_a_role_is_refused_without_replace(
    repo: Path, tmp_path: Path, ca: trustme.CA, args: list[str], fragment: str
) -> None:
    a, b, c = (lineage(tmp_path / n, ca) for n in "abc")
    assert mailzone(repo, "tlsa", "current", HOST, "--cert", str(a / "cert.pem")).code == 0
    assert mailzone(repo, "tlsa", "add-next", HOST, "--cert", str(b / "cert.pem")).code == 0
    before = files(repo)

    given = {n: str(d / "cert.pem") for n, d in zip("abc", (a, b, c), strict=True)}
    run = mailzone(repo, "tlsa", *[arg.format(**given) for arg in args])

    assert fragment in refused(run)
    assert files(repo) == before
    replaced = mailzone(repo, "tlsa", *[arg.format(**given) for arg in args], "--replace")
    assert (replaced.code == 1) == (fragment == "this is the current key"), replaced.err


# -- the deploy hook ---------------------------------------------------------------------------


class Site:
    """A repository applied to the `local` target, with keys A (current) and B (next) staged
    and published, and a host config whose tls section installs into `mta/`."""

    def __init__(self, tmp: Path, ca: trustme.CA) -> None:
        self.root = tmp / "repo"
        write_spec(self.root, "example.org", basic_spec(extra=DANE))
        self.a, self.b, self.c = (lineage(tmp / n, ca) for n in "abc")
        self.mta = tmp / "mta"
        self.mta.mkdir()
        (self.mta / "cert.pem").write_text("old certificate\n")
        (self.mta / "key.pem").write_text("old key\n")
        self.host = tmp / "host.yaml"
        self.host.write_text(
            yaml.safe_dump(
                {
                    "tls": {
                        "cert": str(self.mta / "cert.pem"),
                        "key": str(self.mta / "key.pem"),
                        "reload": [["touch", str(self.mta / "reloaded")]],
                    }
                }
            )
        )
        self.run("tlsa", "current", HOST, "--cert", str(self.a / "cert.pem"))
        self.run("tlsa", "add-next", HOST, "--cert", str(self.b / "cert.pem"))
        self.run("apply", "--yes")

    def run(self, *args: str, lineage: Path | None = None, names: str = HOST) -> Run:
        with pytest.MonkeyPatch.context() as env:  # certbot's variables are no secret
            if lineage is not None:
                env.setenv("RENEWED_LINEAGE", str(lineage))
                env.setenv("RENEWED_DOMAINS", names)
            env.setenv("MAILZONE_HOST_CONFIG", str(self.host))
            done = mailzone(self.root, *args)
        if lineage is None:
            assert done.code == 0, done.out + done.err
        return done

    def hook(self, lineage: Path, *args: str, names: str = HOST) -> Run:
        return self.run("tlsa", "deploy-hook", *args, lineage=lineage, names=names)

    def installed(self) -> bytes:
        return (self.mta / "key.pem").read_bytes()


def keys_of(root: Path) -> list[tuple[str, str]]:
    return [(k["role"], k["spki_sha256"]) for k in state(root)["tlsa"]]  # type: ignore[attr-defined]


def test_rotate_notes_when_every_nameserver_serves_the_next_key(
    tmp_path: Path, ca: trustme.CA
) -> None:
    site = Site(tmp_path, ca)
    assert "visible_since" not in state(site.root)["tlsa"][1]  # type: ignore[index]

    done = mailzone(site.root, "rotate", "--dry-run", env={"MAILZONE_HOST_CONFIG": str(site.host)})
    assert done.code == 2, done.err
    assert "note that every nameserver serves the TLSA of the next key" in done.out
    assert "visible_since" not in state(site.root)["tlsa"][1]  # type: ignore[index]
    done = site.run("rotate", "--now", "2027-01-04T06:00:00Z")

    assert state(site.root)["tlsa"][1]["visible_since"] == "2027-01-04T06:00:00Z"  # type: ignore[index]
    assert "may go live from 2027-01-04 06:10 UTC" in done.out
    shown = site.run("tlsa", "show")
    assert "served everywhere since 2027-01-04 06:00 UTC" in shown.out
    assert "may go live from 2027-01-04 06:10 UTC at the earliest" in shown.out


def test_the_hook_waits_2_ttl_for_the_next_key_then_installs_and_promotes_it(
    tmp_path: Path, ca: trustme.CA
) -> None:
    site = Site(tmp_path, ca)
    t0 = datetime.now(UTC).replace(microsecond=0)
    commit_all(site.root)

    early = site.hook(site.b, "--now", t0.isoformat())

    assert "wait 10m more" in refused(early)
    assert site.installed() == b"old key\n" and not (site.mta / "reloaded").exists()
    assert state(site.root)["tlsa"][1]["visible_since"] == t0.isoformat().replace("+00:00", "Z")  # type: ignore[index]

    later = (t0 + timedelta(minutes=10)).isoformat()
    done = site.hook(site.b, "--now", later, "--commit")

    assert done.code == 0, done.err
    assert site.installed() == (site.b / "privkey.pem").read_bytes()
    assert (site.mta / "cert.pem").read_bytes() == (site.b / "fullchain.pem").read_bytes()
    assert stat.S_IMODE((site.mta / "key.pem").stat().st_mode) == 0o600
    assert (site.mta / "reloaded").exists()
    assert keys_of(site.root) == [("current", spki(site.b))]
    assert "git: committed" in done.out
    assert git(site.root, "status", "--porcelain").strip() == ""
    assert "mailzone tlsa deploy-hook" in git(site.root, "log", "-1", "--format=%s")


def test_the_hook_installs_a_renewal_that_keeps_the_current_key(
    tmp_path: Path, ca: trustme.CA
) -> None:
    site = Site(tmp_path, ca)

    done = site.hook(site.a)

    assert done.code == 0, done.err
    assert "unchanged" in done.out
    assert site.installed() == (site.a / "privkey.pem").read_bytes()
    assert keys_of(site.root) == [("current", spki(site.a)), ("next", spki(site.b))]


def test_the_hook_refuses_a_key_without_tlsa_unless_forced(tmp_path: Path, ca: trustme.CA) -> None:
    site = Site(tmp_path, ca)
    before = keys_of(site.root)

    done = site.hook(site.c)

    assert "has no TLSA" in refused(done)
    assert site.installed() == b"old key\n"
    assert not (site.mta / "reloaded").exists()
    assert keys_of(site.root) == before  # only the next key's visibility is noted
    forced = site.hook(site.c, "--force")
    assert forced.code == 0, forced.err
    assert site.installed() == (site.c / "privkey.pem").read_bytes()
    assert keys_of(site.root) == [("current", spki(site.c)), ("next", spki(site.b))]


def test_the_hook_leaves_another_names_certificate_alone(tmp_path: Path, ca: trustme.CA) -> None:
    site = Site(tmp_path, ca)
    done = site.hook(site.c, names="www.example.org")
    assert done.code == 0 and "nothing installed" in done.out
    assert site.installed() == b"old key\n"


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("no-lineage", "RENEWED_LINEAGE is not set"),
        ("no-tls", "the host config has no tls section"),
        ("wrong-key", "not the private key of"),
        ("bad-wait", "--wait: "),
        ("one-file", "cert and key must be two files"),
    ],
)
def test_the_hooks_bad_input_is_one_line_and_changes_nothing(
    tmp_path: Path, ca: trustme.CA, setup: str, fragment: str
) -> None:
    site = Site(tmp_path, ca)
    args: list[str] = []
    given: Path | None = site.b
    if setup == "no-lineage":
        given = None
    elif setup == "no-tls":
        site.host.write_text("{}\n")
    elif setup == "one-file":
        tls = {"cert": str(site.mta / "both.pem"), "key": str(site.mta / "both.pem")}
        site.host.write_text(yaml.safe_dump({"tls": tls}))
    elif setup == "wrong-key":
        (site.b / "privkey.pem").write_bytes((site.a / "privkey.pem").read_bytes())
    else:
        args = ["--wait", "soon"]
    before = files(site.root)

    if given is None:
        env = {"MAILZONE_HOST_CONFIG": str(site.host)}
        done = mailzone(site.root, "tlsa", "deploy-hook", env=env, unset=("RENEWED_LINEAGE",))
    else:
        done = site.hook(given, *args)

    assert fragment in refused(done)
    assert files(site.root) == before
    assert site.installed() == b"old key\n"


def test_a_failed_reload_says_what_was_installed_and_keeps_the_state(
    tmp_path: Path, ca: trustme.CA
) -> None:
    site = Site(tmp_path, ca)
    config = yaml.safe_load(site.host.read_text())
    config["tls"]["reload"] = [["false"]]
    site.host.write_text(yaml.safe_dump(config))
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert site.hook(site.b, "--now", later).code == 1  # notes B served; waits 2 x TTL

    done = site.hook(site.b, "--now", (datetime.now(UTC) + timedelta(hours=2)).isoformat())

    error = refused(done)
    assert "but reload command 'false' exited 1" in error and str(site.mta / "key.pem") in error
    assert site.installed() == (site.b / "privkey.pem").read_bytes()
    assert keys_of(site.root) == [("current", spki(site.a)), ("next", spki(site.b))]


def test_the_hook_with_wait_looks_again_until_the_next_key_is_safe(
    tmp_path: Path, ca: trustme.CA
) -> None:
    site = Site(tmp_path, ca)
    t0 = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
    site.run("rotate", "--now", t0.isoformat())  # every nameserver serves B's TLSA since t0

    almost = (t0 + timedelta(minutes=10) - timedelta(seconds=2)).isoformat()
    done = site.hook(site.b, "--now", almost, "--wait", "1m")

    assert done.code == 0, done.err
    assert "waiting: " in done.err and "wait 2s more" in done.err
    assert site.installed() == (site.b / "privkey.pem").read_bytes()
    assert keys_of(site.root) == [("current", spki(site.b))]
