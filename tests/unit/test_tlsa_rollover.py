"""The DANE key rollover's pure decisions (`mailzone.dkim.tlsa`): staging a current or next key,
noting when every nameserver serves a staged key's TLSA, promoting it, and whether certbot's new
certificate may go live; `served_by_all` for a TLSA set; installing a certificate and its key
together (`replace_together`)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailzone.dkim.tlsa import Verdict, decide, note_visible, promote, safe_wait, stage
from mailzone.dkim.tlsa_deploy import Deployed, deploy_when_safe
from mailzone.dns.query import Answer, served_by_all
from mailzone.errors import MailzoneError
from mailzone.spec.state import TlsaKey
from mailzone.util.files import replace_together

HOST = "mail.example.org"
A, B, C = "a" * 64, "b" * 64, "c" * 64
T0 = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
WAIT = timedelta(minutes=10)


def key(
    spki: str, role: str = "current", since: datetime | None = None, host: str = HOST
) -> TlsaKey:
    return TlsaKey.model_validate(
        {"host": host, "role": role, "spki_sha256": spki, "added": T0, "visible_since": since}
    )


def roles(keys: list[TlsaKey]) -> list[tuple[str, str, str]]:
    return [(k.host, k.role, k.spki_sha256[0]) for k in keys]


# -- the deploy decision: every branch -------------------------------------------------------


def test_the_current_key_is_installed_and_nothing_changes() -> None:
    verdict = decide([key(A), key(B, "next")], HOST, A, T0, WAIT)
    assert verdict.action == "install" and verdict.installs
    assert "unchanged" in verdict.reason


def test_the_next_key_served_for_2_ttl_is_promoted() -> None:
    keys = [key(A), key(B, "next", since=T0)]
    verdict = decide(keys, HOST, B, T0 + WAIT, WAIT)
    assert verdict.action == "promote" and verdict.installs


def test_the_next_key_served_for_less_than_2_ttl_waits_until_it_is_safe() -> None:
    keys = [key(A), key(B, "next", since=T0)]
    verdict = decide(keys, HOST, B, T0 + WAIT - timedelta(seconds=1), WAIT)
    assert verdict.action == "wait" and not verdict.installs
    assert verdict.ready == T0 + WAIT
    assert "wait 1s more" in verdict.reason


def test_the_next_key_not_yet_served_waits_for_apply() -> None:
    verdict = decide([key(A), key(B, "next")], HOST, B, T0, WAIT)
    assert verdict.action == "wait" and verdict.ready is None
    assert "mailzone apply" in verdict.reason


def test_force_installs_a_next_key_not_yet_served_and_promotes_it() -> None:
    verdict = decide([key(A), key(B, "next")], HOST, B, T0, WAIT, force=True)
    assert verdict.action == "promote"


def test_a_key_without_tlsa_is_refused() -> None:
    verdict = decide([key(A), key(B, "next", since=T0)], HOST, C, T0 + WAIT, WAIT)
    assert verdict.action == "refuse" and not verdict.installs
    assert "no TLSA" in verdict.reason and "add-next" in verdict.reason


def test_a_key_without_tlsa_is_installed_with_force() -> None:
    assert decide([key(A)], HOST, C, T0, WAIT, force=True).action == "promote"


def test_another_hosts_keys_do_not_count() -> None:
    other = [key(A, host="mx2.example.org"), key(B, "next", T0, host="mx2.example.org")]
    assert decide(other, HOST, A, T0 + WAIT, WAIT).action == "refuse"
    assert decide(other, HOST, B, T0 + WAIT, WAIT).action == "refuse"


def test_the_wait_is_two_of_the_longer_ttl() -> None:
    assert safe_wait(300, 60) == timedelta(minutes=10)
    assert safe_wait(60, 3600) == timedelta(hours=2)


# -- staging -----------------------------------------------------------------------------------


def test_current_then_next_are_staged_in_order() -> None:
    keys = stage([], HOST, "current", A, T0)
    keys = stage(keys, HOST, "next", B, T0)
    assert roles(keys) == [(HOST, "current", "a"), (HOST, "next", "b")]


def test_staging_the_same_key_again_changes_nothing() -> None:
    keys = [key(A), key(B, "next", since=T0)]
    assert stage(keys, HOST, "next", B, T0 + WAIT) == keys
    assert stage(keys, HOST, "current", A, T0 + WAIT) == keys


@pytest.mark.parametrize(
    ("keys", "role", "spki", "fragment"),
    [
        ([], "next", B, "has no current key yet"),
        ([key(A)], "next", A, "this is the current key"),
        ([key(A), key(B, "next")], "next", C, "already has a next key"),
        ([key(A)], "current", B, "already has a current key"),
    ],
)
def test_staging_is_refused(keys: list[TlsaKey], role: str, spki: str, fragment: str) -> None:
    with pytest.raises(MailzoneError, match=fragment):
        stage(keys, HOST, role, spki, T0)  # type: ignore[arg-type]


def test_replace_swaps_the_next_key_and_forgets_its_visibility() -> None:
    keys = stage([key(A), key(B, "next", since=T0)], HOST, "next", C, T0, replace=True)
    assert roles(keys) == [(HOST, "current", "a"), (HOST, "next", "c")]
    assert keys[1].visible_since is None


def test_replace_of_the_current_key_drops_a_next_key_equal_to_it() -> None:
    keys = stage([key(A), key(B, "next")], HOST, "current", B, T0, replace=True)
    assert roles(keys) == [(HOST, "current", "b")]


# -- visibility and promotion ------------------------------------------------------------------


def test_visibility_is_noted_once_kept_and_reset_when_a_server_stops_serving() -> None:
    keys = [key(A), key(B, "next")]
    seen = note_visible(keys, {(HOST, B): True}, T0)
    assert seen[1].visible_since == T0
    later = note_visible(seen, {(HOST, B): True}, T0 + WAIT)
    assert later[1].visible_since == T0  # since when, not last seen
    assert note_visible(later, {(HOST, B): False}, T0 + WAIT)[1].visible_since is None
    assert note_visible(later, {}, T0 + WAIT) == later  # not asked: unchanged
    assert note_visible(keys, {(HOST, A): True}, T0) == keys  # a current key is not tracked


def test_promote_makes_the_next_key_current_and_drops_the_old_one() -> None:
    keys = promote([key(A), key(B, "next", since=T0), key(C, host="mx2.example.org")], HOST, B, T0)
    assert roles(keys) == [(HOST, "current", "b"), ("mx2.example.org", "current", "c")]
    assert keys[0].visible_since == T0


def test_promote_of_a_forced_unknown_key_keeps_the_staged_next() -> None:
    keys = promote([key(A), key(B, "next")], HOST, C, T0)
    assert roles(keys) == [(HOST, "current", "c"), (HOST, "next", "b")]


# -- served_by_all for TLSA -------------------------------------------------------------------


@dataclass
class Fake:
    label: str
    answer: Answer

    def query(self, name: str, rdtype: str) -> Answer:
        assert rdtype == "TLSA"
        return self.answer


def test_a_tlsa_value_counts_as_served_when_every_server_has_it_in_its_set() -> None:
    both = Answer("NOERROR", [f"3 1 1 {A.upper()}", f"3 1 1 {B}"], 300)
    old = Answer("NOERROR", [f"3 1 1 {A}"], 300)
    wanted = f"3 1 1 {B}"

    assert served_by_all([Fake("ns1", both), Fake("ns2", both)], "_25._tcp.x.", wanted, "TLSA").ok
    shown = served_by_all([Fake("ns1", both), Fake("ns2", old)], "_25._tcp.x.", wanted, "TLSA")
    assert not shown.ok
    assert shown.per_server == {"ns1": "ok", "ns2": f"old value: 3 1 1 {A}"}
    assert not served_by_all([], "_25._tcp.x.", wanted, "TLSA").ok


# -- installing the certificate and key together ------------------------------------------------


def test_replace_together_writes_every_file_with_its_mode(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("old cert")
    key.write_text("old key")

    replace_together([(key, b"new key", 0o600, None), (cert, b"new cert", 0o644, None)])

    assert (key.read_bytes(), cert.read_bytes()) == (b"new key", b"new cert")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cert.pem", "key.pem"]


def test_replace_together_changes_nothing_when_one_file_cannot_be_written(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("old key")
    missing = tmp_path / "gone" / "cert.pem"  # its folder does not exist

    with pytest.raises(OSError):
        replace_together([(key, b"new key", 0o600, None), (missing, b"new cert", 0o644, None)])

    assert key.read_text() == "old key"
    assert [p.name for p in tmp_path.iterdir()] == ["key.pem"]  # no temp file left


# -- the deploy hook's --wait --------------------------------------------------------------------


class Clock:
    """A monotonic clock that moves only when the code sleeps."""

    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def passes(ready: datetime | None, seen: list[datetime]) -> Callable[[datetime], Deployed]:
    """A deploy pass that waits until `ready` (None: until it is published, never here)."""

    def one_pass(now: datetime) -> Deployed:
        seen.append(now)
        if ready is not None and now >= ready:
            return Deployed({HOST: Verdict("promote", "safe")})
        return Deployed({HOST: Verdict("wait", "not yet", ready)})

    return one_pass


def test_wait_sleeps_until_the_key_is_safe_then_installs() -> None:
    clock, seen = Clock(), []
    done = deploy_when_safe(
        passes(T0 + timedelta(seconds=45), seen), T0, WAIT, lambda _: None, clock, clock.sleep
    )
    assert done.installs
    assert seen == [T0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=45)]
    assert clock.slept == [30.0, 15.0]  # at most POLL at a time


def test_wait_gives_up_when_patience_is_over_and_without_wait_looks_once() -> None:
    clock, seen = Clock(), []
    done = deploy_when_safe(
        passes(None, seen), T0, timedelta(seconds=50), lambda _: None, clock, clock.sleep
    )
    assert done.verdicts[HOST].action == "wait"
    assert seen == [T0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=50)]
    once: list[datetime] = []
    deploy_when_safe(passes(None, once), T0, timedelta(0), lambda _: None, clock, clock.sleep)
    assert once == [T0]


def test_wait_stops_at_a_refusal() -> None:
    clock = Clock()
    refusal = Deployed({HOST: Verdict("refuse", "no TLSA")})
    done = deploy_when_safe(lambda _: refusal, T0, WAIT, lambda _: None, clock, clock.sleep)
    assert done is refusal and clock.slept == []
