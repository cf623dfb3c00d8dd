"""A key file that mailzone did not write is never adopted: selector names are predictable, so
someone may put a key at the next selector's path before `rotate` makes it (issue 11). Weak or
foreign keys already in use are refused by `rotate` and shown by `keys list`."""

from __future__ import annotations

import json
import os
import pwd
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

import mailzone.dkim.store as store_mod
from mailzone.dkim import keys
from tests.cli import Run, inproc, refused
from tests.helpers import rsa_key
from tests.servers import in_ci

DOMAIN = "example.org"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def pem_of(bits: int) -> bytes:
    data: bytes = rsa_key(bits).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


class Repo:
    """A repository made by `init` (its first selector pending), on the `local` provider."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "repo"
        self.root.mkdir(parents=True)
        self.keys = tmp / "keys"
        self.host = tmp / "host.yaml"
        self.host.write_text(yaml.safe_dump({"key_dir": str(self.keys), "mta": {"kind": "none"}}))
        ok(self.cli("init", DOMAIN, "--mail-host", "mail.example.org", "--ipv4", "192.0.2.25"))
        (self.first,) = self.phases()
        created = self.selectors()[0]["created"]
        self.t0 = datetime.fromisoformat(created.replace("Z", "+00:00"))
        self.due = self.t0 + timedelta(days=90, hours=2)  # the next selector is made then

    def activate(self) -> Repo:
        """Publish the first selector and make it active."""
        ok(inproc(self.root, "apply", "--yes"))
        ok(self.rotate(self.t0 + HOUR))
        ok(self.rotate(self.t0 + HOUR + DAY))
        assert self.phases() == {self.first: "active"}
        return self

    def cli(self, *args: str) -> Run:
        return inproc(self.root, *args, "--host-config", str(self.host))

    def rotate(self, when: datetime, *args: str) -> Run:
        return self.cli("rotate", "--now", when.isoformat(), *args)

    def selectors(self) -> list[dict[str, Any]]:
        data = yaml.safe_load((self.root / "state" / f"{DOMAIN}.yaml").read_text())
        return list(data.get("selectors", []))

    def phases(self) -> dict[str, str]:
        return {s["selector"]: s["phase"] for s in self.selectors()}

    def key(self, selector: str) -> Path:
        return self.keys / f"{DOMAIN}.{selector}.pem"

    def next_selector(self) -> str:
        """The selector the due run makes, as its dry run says."""
        run = self.rotate(self.due, "--dry-run", "--format", "json")
        assert run.code == 2, run.err
        (line,) = [x for x in json.loads(run.out)["domains"][0]["done"] if x.startswith("new ")]
        return str(line.rsplit(" ", 1)[1])

    def plant(self, selector: str, data: bytes) -> Path:
        path = self.key(selector)
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def state_bytes(self) -> bytes:
        return (self.root / "state" / f"{DOMAIN}.yaml").read_bytes()


def ok(run: Run) -> str:
    assert run.code == 0, (run.out, run.err)
    return run.out


def file_of(path: Path) -> tuple[bytes, int, int]:
    st = os.lstat(path)
    return path.read_bytes(), st.st_mode, st.st_uid


def chown_to_nobody(path: Path) -> None:
    """Give `path` to `nobody`: only root can; CI runs as root, so there it never skips."""
    if os.geteuid() != 0 and not in_ci():
        pytest.skip("chown to another user needs root")
    os.chown(path, pwd.getpwnam("nobody").pw_uid, -1)


def assert_planted_refused(repo: Repo, planted: Path, selector: str) -> None:
    state, before = repo.state_bytes(), file_of(planted)
    error = refused(repo.rotate(repo.due))
    assert error == (
        f"{DOMAIN}: {planted}: a key file already exists for new selector {selector} of "
        f"{DOMAIN}; mailzone did not write it: remove it or investigate"
    )
    assert repo.state_bytes() == state  # no state names the planted key
    assert file_of(planted) == before  # nor is it touched


def test_a_weak_key_planted_at_the_next_selectors_path_is_refused_not_adopted(
    tmp_path: Path,
) -> None:
    repo = Repo(tmp_path).activate()
    selector = repo.next_selector()
    planted = repo.plant(selector, pem_of(1024))
    assert_planted_refused(repo, planted, selector)

    # removed: the run makes its own key, of the spec's size
    planted.unlink()
    ok(repo.rotate(repo.due))
    assert repo.phases() == {repo.first: "active", selector: "pending"}
    entry = next(s for s in repo.selectors() if s["selector"] == selector)
    assert entry["bits"] == 2048
    made = serialization.load_pem_private_key(planted.read_bytes(), None)
    assert keys.public_key_of(made).fingerprint == entry["fingerprint"]  # type: ignore[arg-type]


def test_a_planted_key_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    repo = Repo(tmp_path).activate()
    selector = repo.next_selector()
    planted = repo.plant(selector, pem_of(2048))
    chown_to_nobody(planted)
    assert_planted_refused(repo, planted, selector)


def test_a_key_left_by_a_crashed_run_is_taken_back_unless_its_owner_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repo(tmp_path).activate()
    selector = repo.next_selector()

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the state was not saved")

    monkeypatch.setattr("mailzone.dkim.rotate.save_state", crash)
    with pytest.raises(RuntimeError, match="not saved"):
        repo.rotate(repo.due)
    monkeypatch.undo()
    left = repo.key(selector)
    assert left.exists() and selector not in repo.phases()

    chown_to_nobody(left)
    state = repo.state_bytes()
    error = refused(repo.rotate(repo.due))
    assert error.startswith(f"{DOMAIN}: {left}: owned by nobody, not by "), error
    assert error.endswith(f"not using it for new selector {selector}; run: chown root {left}")
    assert repo.state_bytes() == state

    os.chown(left, os.geteuid(), -1)  # its own key again: the next run takes it back
    ok(repo.rotate(repo.due))
    entry = next(s for s in repo.selectors() if s["selector"] == selector)
    made = serialization.load_pem_private_key(left.read_bytes(), None)
    assert keys.public_key_of(made).fingerprint == entry["fingerprint"]  # type: ignore[arg-type]
    assert not (repo.keys / store_mod.NEW_KEYS).exists()  # the state names it now


def test_a_weak_active_key_is_refused_by_rotate_and_shown_by_keys_list(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    source = tmp_path / "legacy.pem"
    source.write_bytes(pem_of(1024))
    source.chmod(0o600)
    ok(repo.cli("keys", "import", DOMAIN, "legacy", str(source), "--created", "2026-01-05"))
    stored = repo.key("legacy")

    run = repo.cli("keys", "list")
    assert run.code == 0, run.err
    assert f"warning: {DOMAIN} legacy: {stored}: an RSA-1024 key, weaker than the 2048 bits" in (
        run.err
    )
    row = next(line for line in run.out.splitlines() if " legacy " in line)
    assert row.split()[-1] == "unusable"

    error = refused(repo.rotate(repo.t0 + HOUR))
    assert error == (
        f"{DOMAIN}: {stored}: an RSA-1024 key, weaker than the 2048 bits mailzone signs with: "
        f"replace it; run: mailzone rotate --emergency {DOMAIN}"
    )
    assert repo.phases() == {repo.first: "pending", "legacy": "active"}


def test_import_does_not_take_over_a_key_file_owned_by_another_user(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    source = tmp_path / "legacy.pem"
    source.write_bytes(pem_of(2048))
    source.chmod(0o600)
    planted = repo.plant("legacy", source.read_bytes())  # the very key, but not mailzone's file
    chown_to_nobody(planted)
    state = repo.state_bytes()
    error = refused(repo.cli("keys", "import", DOMAIN, "legacy", str(source)))
    assert error.startswith(f"{planted}: owned by nobody, not by "), error
    assert repo.state_bytes() == state
