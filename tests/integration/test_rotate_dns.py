"""`mailzone rotate` against real BIND servers: a key becomes active only once EVERY authoritative
nameserver serves it, and a forgotten key is deleted only once NO nameserver serves it.

Two BIND servers play a zone's primary and a secondary that has not caught up: `apply` writes to
the first (RFC 2136), and the test writes the second directly, so it can lag, hold an old value,
or be fixed. The provider file lists both under `mailzone: nameservers`. Every rotate run is the
real CLI in a subprocess with `--now`.

An unreachable nameserver is not an error of rotate: it did nothing wrong, DNS is just not ready.
So the run exits 0 with a `waiting:` line naming the server, and switches nothing."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from octodns.record import Record
from octodns.zone import Zone

from mailzone.dkim import keys
from mailzone.dkim.store import KeyStore
from mailzone.octo import registry
from mailzone.repo.state import load_state, save_state
from mailzone.spec import dkim_key
from mailzone.spec.state import DomainState, SelectorState
from tests.cli import Run, changes, mailzone, write_provider
from tests.helpers import basic_spec, write_spec
from tests.servers import (
    BindServer,
    DnsServer,
    ServerFactory,
    free_port,
    make_provider,
    query,
    txt_values,
)

pytestmark = pytest.mark.integration

DOMAIN = "example.org"
ZONE = "example.org."
T0 = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def endpoint(server: DnsServer) -> str:
    return f"{server.host}:{server.port}"


def serve(server: DnsServer, selector: str, value: str | None) -> None:
    """Make `server` hold `value` at the selector's name (None: no record), outside mailzone."""
    provider = make_provider(server, "someone-else")
    current = Zone(ZONE, [])
    provider.populate(current)
    desired = Zone(ZONE, [])
    for record in current.records:
        if record.name != f"{selector}._domainkey":
            desired.add_record(record, lenient=True)
    if value is not None:
        data = {"type": "TXT", "ttl": 300, "value": value.replace(";", "\\;")}
        desired.add_record(Record.new(desired, f"{selector}._domainkey", data))
    provider.apply(provider.plan(desired))


class Site:
    """A repository published to `primary`, whose provider names every server in `servers`."""

    def __init__(
        self, tmp: Path, primary: DnsServer, servers: list[str], spec_extra: str = ""
    ) -> None:
        self.root = tmp / "repo"
        self.keys = tmp / "keys"
        self.host = tmp / "host.yaml"
        self.host.write_text(yaml.safe_dump({"key_dir": str(self.keys)}))
        config: dict[str, Any] = primary.provider_config()
        config["mailzone"] = {"nameservers": servers}
        write_provider(self.root, "target", config)
        spec = basic_spec(provider="target")
        write_spec(self.root, DOMAIN, spec + "dkim:\n  algorithms: [ed25519]\n" + spec_extra)
        self.store = KeyStore(self.keys)

    def add(self, selector: str, phase: str, created: datetime, **times: Any) -> dkim_key.PublicKey:
        """A selector with a fresh Ed25519 key on disk and in the state."""
        private = keys.generate_private_key("ed25519", 256)
        self.store.write(DOMAIN, selector, keys.private_key_pem(private))
        public = keys.public_key_of(private)
        state = load_state(self.root, DOMAIN)
        entry = SelectorState.of_key(selector, public, phase, created, **times)
        save_state(self.root, state.model_copy(update={"selectors": [*state.selectors, entry]}))
        return public

    def state(self) -> DomainState:
        return load_state(self.root, DOMAIN)

    def phases(self) -> dict[str, str]:
        return {s.selector: s.phase for s in self.state().selectors}

    def apply(self) -> None:
        run = mailzone(self.root, "apply", "--yes")
        assert run.code == 0, run.err

    def rotate(self, when: datetime, *args: str) -> Run:
        return mailzone(
            self.root, "rotate", "--now", when.isoformat(), "--host-config", str(self.host), *args
        )


def test_activation_waits_for_every_nameserver_and_names_the_one_that_lags(
    tmp_path: Path, bind_factory: ServerFactory[BindServer]
) -> None:
    primary, secondary = bind_factory(zones=[ZONE]), bind_factory(zones=[ZONE])
    site = Site(tmp_path, primary, [endpoint(primary), endpoint(secondary)])
    key = site.add("new", "pending", T0, changed=T0)
    site.apply()
    name = f"new._domainkey.{ZONE}"
    assert txt_values(primary, name) == [key.txt_value()]
    assert txt_values(secondary, name) == []

    run = site.rotate(T0 + HOUR)
    assert run.code == 0, run.err
    assert f"waiting: new not yet served everywhere: {endpoint(secondary)}: missing" in run.out
    assert endpoint(primary) not in run.out
    assert site.state().selectors[0].visible_since is None

    # the secondary answers another (old) key: still no switch, and it says so
    other = keys.public_key_of(keys.generate_private_key("ed25519", 256))
    serve(secondary, "new", other.txt_value())
    run = site.rotate(T0 + 2 * HOUR)
    assert run.code == 0, run.err
    assert f"{endpoint(secondary)}: old value: {other.txt_value()}" in run.out
    assert site.phases() == {"new": "pending"}

    # fixed: seen everywhere from now, active after activate_delay (24h)
    serve(secondary, "new", key.txt_value())
    seen = T0 + 3 * HOUR
    run = site.rotate(seen)
    assert run.code == 0, run.err
    assert f"next due {seen + timedelta(hours=24):%Y-%m-%d %H:%M}" in run.out
    assert site.state().selectors[0].visible_since == seen
    assert site.phases() == {"new": "pending"}
    run = site.rotate(seen + timedelta(hours=24))
    assert run.code == 0, run.err
    assert "sign ed25519 mail with new (active)" in run.out
    assert site.phases() == {"new": "active"}


def test_unreachable_nameserver_means_waiting_not_switching(
    tmp_path: Path, bind_factory: ServerFactory[BindServer]
) -> None:
    primary = bind_factory(zones=[ZONE])
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    site = Site(tmp_path, primary, [endpoint(primary), closed])
    site.add("new", "pending", T0, changed=T0)
    site.apply()
    before = (site.root / "state" / f"{DOMAIN}.yaml").read_bytes()

    run = site.rotate(T0 + timedelta(days=3))
    assert run.code == 0, run.err
    assert run.err == ""
    waiting = f"waiting: new not yet served everywhere: {closed}: (timeout|connection refused)"
    assert re.search(waiting, run.out), run.out
    assert site.phases() == {"new": "pending"}
    assert (site.root / "state" / f"{DOMAIN}.yaml").read_bytes() == before


def test_negative_ttl_longer_than_activate_delay_delays_activation(
    tmp_path: Path, bind_factory: ServerFactory[BindServer]
) -> None:
    # the test servers' SOA says 300 s of negative caching; the policy asks for only 60 s and the
    # record TTL is 60 s: resolvers may still cache "no such key" for 300 s after it appears
    primary = bind_factory(zones=[ZONE])
    site = Site(tmp_path, primary, [endpoint(primary)], spec_extra="  activate_delay: 1m\n")
    spec = site.root / "zones" / f"{DOMAIN}.yaml"
    spec.write_text(spec.read_text().replace("ttl: 300", "ttl: 60"))
    site.add("new", "pending", T0, changed=T0)
    site.apply()

    seen = T0 + HOUR
    run = site.rotate(seen)
    assert run.code == 0, run.err
    assert f"next due {seen + timedelta(seconds=300):%Y-%m-%d %H:%M}" in run.out
    run = site.rotate(seen + timedelta(seconds=240))  # past activate_delay, inside the TTL
    assert run.code == 0, run.err
    assert site.phases() == {"new": "pending"}
    run = site.rotate(seen + timedelta(seconds=300))
    assert "sign ed25519 mail with new (active)" in run.out
    assert site.phases() == {"new": "active"}


def test_tombstone_key_is_deleted_only_once_gone_from_every_server(
    tmp_path: Path, bind_factory: ServerFactory[BindServer]
) -> None:
    primary, secondary = bind_factory(zones=[ZONE]), bind_factory(zones=[ZONE])
    site = Site(tmp_path, primary, [endpoint(primary), endpoint(secondary)])
    now = T0 + timedelta(days=40)
    active = site.add("cur", "active", T0 + timedelta(days=20), switched=T0 + timedelta(days=21))
    old = site.add(
        "old", "tombstone", T0, switched=T0 + timedelta(days=1), revoked=T0 + timedelta(days=31)
    )
    site.apply()  # the primary serves the active key only
    serve(secondary, "cur", active.txt_value())
    serve(secondary, "old", old.txt_value())  # the secondary still serves the forgotten one
    assert txt_values(primary, f"old._domainkey.{ZONE}") == []

    run = site.rotate(now)
    assert run.code == 0, run.err
    assert f"waiting: old still served: {endpoint(secondary)}: still served: " in run.out
    assert site.store.path(DOMAIN, "old").exists()
    assert site.phases() == {"cur": "active", "old": "tombstone"}

    serve(secondary, "old", None)
    run = site.rotate(now + HOUR)
    assert run.code == 0, run.err
    assert "delete the private key of old" in run.out
    assert not site.store.path(DOMAIN, "old").exists()
    assert site.store.path(DOMAIN, "cur").exists()
    assert site.phases() == {"cur": "active"}


def test_rotate_apply_publishes_only_its_selectors_and_leaves_spec_edits_to_apply(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    # given a published domain whose active key is due for rotation
    site = Site(tmp_path, dns_server, [endpoint(dns_server)])
    site.add("cur", "active", T0, switched=T0 + HOUR)
    site.apply()
    old_dmarc = txt_values(dns_server, f"_dmarc.{ZONE}")
    assert old_dmarc[0].startswith("v=DMARC1; p=none")
    # and spec edits nobody has applied yet (a new IPv4, a stricter DMARC policy)
    spec = site.root / "zones" / f"{DOMAIN}.yaml"
    text = spec.read_text().replace("192.0.2.25", "192.0.2.26")
    spec.write_text(text.replace("policy: none", "policy: quarantine"))

    # when rotate --apply starts a new selector
    run = site.rotate(T0 + timedelta(days=91), "--apply")

    # then the new selector is served, and nothing else changed in DNS or in the state
    assert run.code == 0, run.out + run.err
    new = next(s for s in site.state().selectors if s.phase == "pending")
    assert txt_values(dns_server, f"{new.selector}._domainkey.{ZONE}") == [new.key().txt_value()]
    assert txt_values(dns_server, f"_dmarc.{ZONE}") == old_dmarc
    assert query(dns_server, f"mail.{ZONE}", "A") == ["192.0.2.25"]
    assert "192.0.2.25" in txt_values(dns_server, ZONE)[0]
    assert dmarc_noted(dns_server) == "none"  # the DMARC record is apply's, and so is its note
    assert f"TXT/{new.selector}._domainkey" in registry_entries(dns_server)
    # and it says what is pending and which command publishes it
    pending = [line for line in run.out.splitlines() if "mailzone apply" in line]
    assert len(pending) == 1, run.out
    assert pending[0].startswith(f"{DOMAIN}: ") and "update TXT _dmarc" in pending[0], run.out
    assert "update A mail" in pending[0], run.out

    # and `mailzone apply` publishes the rest, and owns the new selector already
    plan = changes(site.root)
    assert ("update", f"_dmarc.{ZONE}", "TXT") in plan
    assert all("_domainkey" not in name for _, name, _ in plan), plan
    owned = registry_entries(dns_server)
    site.apply()
    assert txt_values(dns_server, f"_dmarc.{ZONE}")[0].startswith("v=DMARC1; p=quarantine")
    assert query(dns_server, f"mail.{ZONE}", "A") == ["192.0.2.26"]
    assert dmarc_noted(dns_server) == "quarantine"
    assert registry_entries(dns_server) == owned


def registry_entries(server: DnsServer) -> frozenset[str]:
    """What the served `_mailzone` registry says example.org owns."""
    return registry.decode(txt_values(server, f"_mailzone.{ZONE}"))[DOMAIN]


def dmarc_noted(server: DnsServer) -> str:
    """The DMARC policy the served registry notes for example.org (dated today)."""
    note = registry.decode_notes(txt_values(server, f"_mailzone.{ZONE}"))[DOMAIN]["dmarc"]
    policy, _, day = note.partition("@")
    assert day == datetime.now(UTC).date().isoformat()
    return policy


def _served(server: DnsServer) -> list[str]:
    """Every record the server serves in the zone, as text."""
    zone = Zone(ZONE, [])
    make_provider(server).populate(zone)
    return sorted(repr(record) for record in zone.records)


def test_dry_run_names_the_lagging_nameserver_and_changes_no_dns(
    tmp_path: Path, bind_factory: ServerFactory[BindServer]
) -> None:
    # given a key due for rotation, and a pending one the secondary does not serve yet
    primary, secondary = bind_factory(zones=[ZONE]), bind_factory(zones=[ZONE])
    site = Site(tmp_path, primary, [endpoint(primary), endpoint(secondary)])
    site.add("old", "active", T0 - timedelta(days=100), changed=T0, switched=T0)
    site.add("new", "pending", T0, changed=T0)
    site.apply()
    zones = (_served(primary), _served(secondary))
    files = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    # when previewed, even with --apply
    run = site.rotate(T0 + HOUR, "--dry-run", "--apply", "--format", "json")
    # then it waits for the secondary, by name, and changed nothing anywhere
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["schema_version"] == 1 and data["due"] is False
    (domain,) = data["domains"]
    assert {"selector": "new", "phase": "pending", "waits_for": "nameservers", "until": None,
            "nameservers": {endpoint(secondary): "missing"}} in domain["waits"]  # fmt: skip
    assert (_served(primary), _served(secondary)) == zones
    assert {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files
    # a revocation due: the preview says so (exit 2) and still publishes nothing
    serve(secondary, "new", site.state().selectors[1].key().txt_value())
    assert site.rotate(T0 + 2 * HOUR).code == 0
    assert site.rotate(T0 + 27 * HOUR).code == 0  # switched: old is retiring
    zones = (_served(primary), _served(secondary))
    files = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    run = site.rotate(T0 + 27 * HOUR + timedelta(days=8), "--dry-run", "--apply")
    assert run.code == 2, run.err
    assert "example.org: due: revoke old (publish an empty key); why: revoke_after (7d)" in run.out
    assert "--apply would publish the DNS changes of example.org" in run.out
    assert (_served(primary), _served(secondary)) == zones
    assert {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files
