"""One writing run per repository (`state/.mailzone.lock`), with real concurrent processes on a
real BIND: a second `apply` waits for the first and then applies, or gives up after
`--lock-timeout` naming the holder; `rotate` and `apply` at once both keep their state writes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.cli import Run, mailzone, write_provider
from tests.helpers import basic_spec, write_spec
from tests.servers import BindServer, query

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

LOCK = Path("state/.mailzone.lock")
# a mailzone run holding the lock until the test closes its stdin
HOLD = """
import sys
from pathlib import Path
from mailzone.util.lock import exclusive
with exclusive(Path(sys.argv[1]), "mailzone run"):
    print("held", flush=True)
    sys.stdin.read()
"""


def repository(root: Path, server: BindServer) -> Path:
    """example.org on the BIND server (provider `target`), with Ed25519 DKIM, not applied yet;
    its host config (keys in root/keys)."""
    write_provider(root, "target", server.provider_config())
    write_spec(
        root, "example.org", basic_spec(provider="target") + "dkim:\n  algorithms: [ed25519]\n"
    )
    host = root / "host.yaml"
    host.write_text(yaml.safe_dump({"key_dir": str(root / "keys")}))
    return host


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding tmp_path's lock; closing its stdin releases it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / LOCK)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    yield proc
    proc.kill()
    proc.wait()


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=10)


def in_background(root: Path, *args: str) -> Future[Run]:
    return ThreadPoolExecutor(1).submit(mailzone, root, *args)


def test_apply_waits_for_the_run_holding_the_lock_then_applies(
    tmp_path: Path, bind_server: BindServer, holder: subprocess.Popen[str]
) -> None:
    # given a repository whose lock another run holds
    repository(tmp_path, bind_server)
    # when apply starts, and the holder ends once apply says it waits for it
    err = tmp_path / "apply.err"
    with err.open("w") as sink:
        applying = subprocess.Popen(
            [sys.executable, "-m", "mailzone", "--root", str(tmp_path), "apply", "--yes"],
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )
    deadline = time.monotonic() + 30
    while "waiting for the lock" not in err.read_text() and applying.poll() is None:
        assert time.monotonic() < deadline, "apply never said it waits"
        time.sleep(0.05)
    assert applying.poll() is None, err.read_text()
    assert query(bind_server, "example.org.", "MX") == []  # nothing applied while it waits
    release(holder)
    out, _ = applying.communicate(timeout=60)
    # then apply said once that it waited, and for whom, and applied
    said = err.read_text()
    assert applying.returncode == 0, out + said
    assert said.count("waiting for the lock") == 1, said
    assert f"waiting for the lock held by pid {holder.pid} (state/.mailzone.lock)…" in said
    assert query(bind_server, "example.org.", "MX") == ["10 mail.example.org."]
    assert not (tmp_path / LOCK).exists()  # released: no file left behind


def test_apply_gives_up_after_the_lock_timeout_naming_the_holder(
    tmp_path: Path, bind_server: BindServer, holder: subprocess.Popen[str]
) -> None:
    repository(tmp_path, bind_server)

    started = time.monotonic()
    run = mailzone(tmp_path, "apply", "--yes", "--lock-timeout", "1")

    assert run.code == 1, run.out + run.err
    assert run.errors == [
        f"another mailzone run (pid {holder.pid}) holds state/.mailzone.lock; waited 1 s "
        "(--lock-timeout 1); try again when it ends"
    ]
    assert 1 <= time.monotonic() - started < 30
    assert query(bind_server, "example.org.", "MX") == []
    assert not (tmp_path / "state" / "example.org.yaml").exists()


def test_rotate_and_apply_at_once_both_keep_their_state_writes(
    tmp_path: Path, bind_server: BindServer
) -> None:
    # given a repository never applied, with no DKIM key yet
    host = repository(tmp_path, bind_server)
    # when rotate (makes the first selector) and apply (records where the domain is published)
    # run at the same time
    rotating = in_background(tmp_path, "rotate", "--host-config", str(host))
    applied = mailzone(tmp_path, "apply", "--yes")
    rotated = rotating.result(timeout=60)
    # then the state holds both: the selector rotate made and the zone apply published to
    assert applied.code == 0, applied.out + applied.err
    assert rotated.code == 0, rotated.out + rotated.err
    state = yaml.safe_load((tmp_path / "state" / "example.org.yaml").read_text())
    assert state["provider"] == "target" and state["zone"] == "example.org"
    (selector,) = state["selectors"]
    assert (tmp_path / "keys" / f"example.org.{selector['selector']}.pem").exists()
