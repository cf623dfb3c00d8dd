"""A mail host for the OpenDKIM and rspamd rotation tests: a mailzone repository, a host config
naming the MTA, a key directory, and the test BIND, driven through the `mailzone` CLI.

`signing_site(root, bind, mta)` writes the provider and host config under `root` and runs
`mailzone init` (one pending RSA selector). `first_and_second_key(site, sign)` walks rotation
through its phases with `--now` (apply, seen, active; 90 days on: publish, apply, seen, switch)
and hands back what the MTA signed while each key was active. The MTA itself is the caller's:
`sign(subject)` returns a signed message. Exim's own test (test_rotation_exim.py) goes further.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.cli import Run, mailzone, write_provider
from tests.exim_rig import signing_selectors, verify_each
from tests.servers import LOOPBACK, BindServer, txt_values

DOMAIN = "example.org"
SENDER = f"sender@{DOMAIN}"
RECIPIENT = "rcpt@example.net"


@dataclass
class SigningSite:
    repo: Path
    host_config: Path
    keys: Path
    bind: BindServer

    def ok(self, *args: str) -> Run:
        result = mailzone(self.repo, *args)
        assert result.code == 0, f"mailzone {' '.join(args)}\n{result.out}\n{result.err}"
        return result

    def rotate(self, when: datetime) -> Run:
        return self.ok("rotate", "--now", when.isoformat(), "--host-config", str(self.host_config))

    def apply(self) -> Run:
        return self.ok("apply", "--yes")

    def phases(self) -> dict[str, str]:
        data = yaml.safe_load((self.repo / "state" / f"{DOMAIN}.yaml").read_text())
        return {s["selector"]: s["phase"] for s in data.get("selectors", [])}

    def served(self, selector: str) -> list[str]:
        return txt_values(self.bind, f"{selector}._domainkey.{DOMAIN}.")

    def verifies(self, received: bytes) -> list[bool]:
        return verify_each(received, self.bind)


def signing_site(root: Path, bind: BindServer, mta: dict[str, Any], **host: Any) -> SigningSite:
    """A repository at root/repo signing example.org through `mta` (the host config's `mta:`),
    keys in root/keys; `host` adds host config keys (e.g. key_group)."""
    repo, keys = root / "repo", root / "keys"
    repo.mkdir()
    host_config = root / "host.yaml"
    host_config.write_text(yaml.safe_dump({"key_dir": str(keys), "mta": mta, **host}))
    provider = bind.provider_config()
    provider["mailzone"] = {"nameservers": [f"{LOOPBACK}:{bind.port}"]}
    write_provider(repo, "bind", provider)
    site = SigningSite(repo, host_config, keys, bind)
    site.ok(
        "init",
        DOMAIN,
        *("--mail-host", f"mail.{DOMAIN}", "--ipv4", "192.0.2.25", "--provider", "bind"),
        *("--host-config", str(host_config)),
    )
    return site


@dataclass
class Rotation:
    first: str
    second: str
    signed_first: bytes  # while the first key was active
    signed_second: bytes  # after the switch to the second


def first_and_second_key(site: SigningSite, sign: Callable[[str, str], bytes]) -> Rotation:
    """Activate init's key, sign; rotate to a second key, sign. `sign(subject, selector)` returns
    the message the MTA signed once it signs with `selector` (the MTA may reload lazily)."""
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    (first,) = site.phases()
    site.apply()
    site.rotate(t0)
    site.rotate(t0 + timedelta(hours=25))
    assert site.phases() == {first: "active"}
    signed_first = sign("signed with the first key", first)

    t90 = t0 + timedelta(days=90)
    site.rotate(t90)
    (second,) = set(site.phases()) - {first}
    site.apply()
    site.rotate(t90)
    site.rotate(t90 + timedelta(hours=25))
    assert site.phases() == {first: "retiring", second: "active"}
    assert site.served(first) and site.served(second)
    signed_second = sign("signed with the second key", second)
    return Rotation(first, second, signed_first, signed_second)


def signed_by(received: bytes) -> list[str]:
    """The selectors of the message's DKIM-Signature headers."""
    return signing_selectors(received)
