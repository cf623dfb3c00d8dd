"""`state/<domain>.yaml`: what mailzone decided (DKIM selectors, their keys and phases).

Written by mailzone only, committed to git; a hand edit that makes the state impossible is
refused with a clear error. Writes are atomic."""

from __future__ import annotations

from pathlib import Path

import yaml

from mailzone.spec.state import DomainState
from mailzone.spec.yamlfile import YamlDoc, load_yaml, validate
from mailzone.util.confine import confine
from mailzone.util.files import write_atomic

STATE_DIR = "state"
REPO_LOCK = ".mailzone.lock"  # in state/: one writing run per repository; never committed
LEGACY_LOCK = ".rotate.lock"  # rotate's own lock before REPO_LOCK: still git-ignored

HEADER = "# Written by mailzone. Do not edit by hand: commit it as it is.\n"


_BaseDumper: type[yaml.SafeDumper] = getattr(
    yaml, "CSafeDumper", yaml.SafeDumper
)  # libyaml's is faster


class StateDumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Writes every value out: no anchors or aliases, which mailzone's loader refuses."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def state_path(root: Path, domain: str) -> Path:
    """Where a domain's state lives."""
    return root / STATE_DIR / f"{domain}.yaml"


def load_state(root: Path, domain: str) -> DomainState:
    """The domain's state, or an empty one when there is no file yet."""
    path = state_path(root, domain)
    confine(root, path)
    if not path.exists():
        return DomainState(domain=domain)
    doc: YamlDoc = load_yaml(path)
    state = validate(DomainState, doc)
    if state.domain != domain:
        from mailzone.errors import SpecError

        raise SpecError(
            f"domain: '{state.domain}' does not match the file name", doc.where(("domain",))
        )
    return state


def record_publication(root: Path, state: DomainState, zone: str, provider: str) -> None:
    """Remember where a domain is published, so a removed spec can still be found in DNS
    (written by `init` and `rotate`, which run where state/ is committed; never by `apply`)."""
    if state_path(root, state.domain).exists() and (state.zone, state.provider) == (zone, provider):
        return
    current = load_state(root, state.domain)
    save_state(root, current.model_copy(update={"zone": zone, "provider": provider}))


def stale_states(root: Path, known: set[str]) -> list[DomainState]:
    """States whose spec is gone (their records may still be in DNS)."""
    folder = root / "state"
    if not folder.is_dir():
        return []
    names = sorted(p.name[: -len(".yaml")] for p in folder.glob("*.yaml"))
    return [load_state(root, n) for n in names if n not in known]


def save_state(root: Path, state: DomainState) -> Path:
    """Write the state atomically (temp file, fsync, rename)."""
    path = state_path(root, state.domain)
    confine(root, path.parent, writes=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = state.model_dump(mode="json", exclude_none=True)
    for entry in data["selectors"]:  # keep entries short: drop flags at their usual value
        for flag, usual in (("mta_done", True), ("urgent", False)):
            if entry.get(flag) == usual:
                del entry[flag]
    if not data.get("tlsa"):
        data.pop("tlsa", None)
    text = HEADER + yaml.dump(
        data, Dumper=StateDumper, sort_keys=False, default_flow_style=False, width=1000
    )
    write_atomic(path, text)
    return path


def forget_state(root: Path, name: str) -> None:
    """After a forget: a state with no DKIM selectors goes; one with keys only forgets the zone."""
    if (root / "zones" / f"{name}.yaml").exists():
        return
    state = load_state(root, name)
    if not state.selectors:
        state_path(root, name).unlink(missing_ok=True)
    elif state.zone is not None:
        save_state(root, state.model_copy(update={"zone": None, "provider": None}))
