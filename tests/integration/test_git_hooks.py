"""`mailzone hook install` with real git and a real BIND: a bare repository with the hooks, a
clone that pushes. A valid push is applied (BIND serves it), an invalid one is refused with the
error line shown to the pusher, and a push while another run holds the deploy checkout's lock
waits for it, then applies."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.cli import mailzone, write_provider
from tests.helpers import basic_spec, write_spec
from tests.servers import BindServer, query

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

ID = ("-c", "user.name=Tester", "-c", "user.email=tester@example.org")
SPEC = "zones/example.org.yaml"


def git(where: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["git", "-C", str(where), *ID, *args], capture_output=True, text=True, timeout=120
    )
    assert not check or done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(autouse=True)
def _no_git_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


class Server:
    """origin.git with the hooks (the TSIG secret only in its env file), and a clone holding
    example.org on the BIND server (provider `target`), not pushed yet."""

    def __init__(self, tmp: Path, bind: BindServer) -> None:
        self.origin = tmp / "origin.git"
        self.clone = tmp / "clone"
        self.checkout = tmp / "deploy"
        self.log = tmp / "apply.log"
        git(tmp, "init", "--quiet", "--bare", "-b", "main", str(self.origin))
        env_file = tmp / "env"
        env_file.write_text(f"TSIG_SECRET='{bind.key_secret}'\n")
        installed = mailzone(
            tmp,
            *("hook", "install", "--git-dir", str(self.origin), "--work-tree", str(self.checkout)),
            *("--env-file", str(env_file), "--log", str(self.log)),
        )
        assert installed.code == 0, installed.out + installed.err
        git(tmp, "clone", "--quiet", str(self.origin), str(self.clone))
        write_provider(
            self.clone, "target", {**bind.provider_config(), "key_secret": "env/TSIG_SECRET"}
        )
        write_spec(self.clone, "example.org", basic_spec(provider="target"))

    def commit(self, message: str, edit: tuple[str, str] | None = None) -> str:
        """Commit everything in the clone (after replacing edit[0] by edit[1] in the spec)."""
        if edit:
            spec = self.clone / SPEC
            spec.write_text(spec.read_text().replace(*edit))
        git(self.clone, "add", "--all")
        git(self.clone, "commit", "--quiet", "-m", message)
        return git(self.clone, "rev-parse", "HEAD").stdout.strip()

    def push(self, ref: str = "main") -> subprocess.CompletedProcess[str]:
        return git(self.clone, "push", "origin", f"HEAD:{ref}", check=False)

    def head(self) -> str:
        return git(self.origin, "rev-parse", "main").stdout.strip()


def test_a_push_of_a_valid_change_is_applied_and_served(
    tmp_path: Path, bind_server: BindServer
) -> None:
    # given the hooks, and a first push that publishes example.org
    server = Server(tmp_path, bind_server)
    server.commit("mail DNS")
    first = server.push()
    assert first.returncode == 0, first.stderr
    assert query(bind_server, "mail.example.org.", "A") == ["192.0.2.25"]

    # when a change of the mail host's address is pushed
    rev = server.commit("move mail", ("192.0.2.25", "192.0.2.26"))
    pushed = server.push()

    # then BIND serves it, the pusher saw the apply, and the log has it
    assert pushed.returncode == 0, pushed.stderr
    assert query(bind_server, "mail.example.org.", "A") == ["192.0.2.26"]
    assert f"remote: mailzone: apply of {rev} exited 0" in pushed.stderr
    assert "remote: applied   example.org" in pushed.stderr
    assert f"mailzone: apply of {rev} exited 0" in server.log.read_text()
    assert "192.0.2.26" in (server.checkout / SPEC).read_text()


def test_a_push_of_an_invalid_spec_is_refused_and_dns_is_unchanged(
    tmp_path: Path, bind_server: BindServer
) -> None:
    server = Server(tmp_path, bind_server)
    server.commit("mail DNS")
    assert server.push().returncode == 0
    before, log = server.head(), server.log.read_text()

    # when a spec with a bad DMARC policy and a changed address is pushed
    spec = (server.clone / SPEC).read_text().replace("192.0.2.25", "192.0.2.26")
    (server.clone / SPEC).write_text(spec.replace("policy: none", "policy: quarantaine"))
    server.commit("typo")
    pushed = server.push()

    # then the push is refused with mailzone's error line, nothing is applied
    assert pushed.returncode != 0
    line = next(n for n, text in enumerate(spec.splitlines(), 1) if "policy:" in text)
    assert (
        f"remote: error: {SPEC}:{line}: dmarc.policy: 'quarantaine' is not one of none, "
        "quarantine, reject (did you mean 'quarantine'?)"
    ) in pushed.stderr
    assert "pre-receive hook declined" in pushed.stderr
    assert server.head() == before
    assert query(bind_server, "mail.example.org.", "A") == ["192.0.2.25"]
    assert server.log.read_text() == log
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("mailzone-push.*"))

    # and the same commit on another branch passes through, neither validated nor applied
    other = server.push("wip")
    assert other.returncode == 0, other.stderr
    assert "mailzone" not in other.stderr
    assert query(bind_server, "mail.example.org.", "A") == ["192.0.2.25"]


def test_a_push_while_a_run_holds_the_lock_waits_for_it_then_applies(
    tmp_path: Path, bind_server: BindServer
) -> None:
    from mailzone.util.lock import exclusive

    server = Server(tmp_path, bind_server)
    server.commit("mail DNS")
    assert server.push().returncode == 0
    server.commit("move mail", ("192.0.2.25", "192.0.2.26"))

    # given another run holding the deploy checkout's lock until the push's apply waits for it
    held, served_meanwhile = threading.Event(), []

    def hold() -> None:
        with exclusive(server.checkout / "state" / ".mailzone.lock", "mailzone run"):
            held.set()
            deadline = time.monotonic() + 30
            while "waiting for the lock" not in server.log.read_text():
                assert time.monotonic() < deadline, "the push's apply never waited"
                time.sleep(0.05)
            served_meanwhile.extend(query(bind_server, "mail.example.org.", "A"))

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)

    # when the change is pushed
    pushed = server.push()
    holder.join(30)

    # then the push's apply said it waited for that run, and applied once it ended
    assert pushed.returncode == 0, pushed.stderr
    assert served_meanwhile == ["192.0.2.25"]
    assert f"remote: waiting for the lock held by pid {os.getpid()}" in pushed.stderr
    assert "remote: applied   example.org" in pushed.stderr
    assert query(bind_server, "mail.example.org.", "A") == ["192.0.2.26"]
