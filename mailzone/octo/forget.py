"""`mailzone forget`: stop managing a domain, optionally deleting the records mailzone created.

Where the domain lives comes from its spec; once the spec is gone, from its last version in
git, else `state/<domain>.yaml` (`init` and `rotate` record the zone and provider there), else
the newest backup under `build/backups/` whose registry lists the domain. `--zone`/`--provider`
override either.

With `--delete-records` it deletes only what the `_mailzone` registry in DNS claims for the
domain AND mailzone could have generated for it (`deletable_entries`): the registry is a TXT
record anyone with write access to the zone can edit."""

from __future__ import annotations

import re
from pathlib import Path

from mailzone.errors import MailzoneError
from mailzone.octo.local import MAX_ZONE_FILE_BYTES
from mailzone.octo.registry import REGISTRY_NAME, decode, entry, owner_key, split_key
from mailzone.octo.sync import ProviderCache, ZonePlan, ZoneTask, plan_zone
from mailzone.records.families import generates
from mailzone.records.model import relative_name
from mailzone.repo.project import Domain, load_project, removed_domains
from mailzone.repo.state import load_state
from mailzone.spec.types import idna_name
from mailzone.util.confine import is_inside, read_regular


def plan_forget(
    root: Path, domain: str, delete_records: bool, zone: str | None, provider: str | None
) -> tuple[ZonePlan, ProviderCache]:
    """Plan the zone with the domain dropped from the registry (records deleted or released)."""
    try:
        name = idna_name(domain)
        zone_name = idna_name(zone) if zone else None
    except ValueError as err:
        raise MailzoneError(str(err)) from None
    project = load_project(root)
    spec_domain = project.domains.pop(name, None)
    if spec_domain is None:  # removed: its last version in git, if the repository has one
        spec_domain = removed_domains(root, set(project.domains)).get(name)
    if spec_domain is not None:
        zone_name = zone_name or spec_domain.zone
        provider = provider or spec_domain.spec.provider
    elif zone_name is None or provider is None:
        found_zone, found_provider = where_published(root, name)
        zone_name = zone_name or found_zone or name
        provider = provider or found_provider
        if provider is None:
            raise MailzoneError(
                f"{name}: zones/{name}.yaml is gone and neither git, state/{name}.yaml nor a backup "
                f"in build/backups says where it was published: give --provider (and --zone)"
            )
    zone_name = zone_name or name
    members = [
        d for d in project.domains.values() if d.zone == zone_name and d.spec.provider == provider
    ]
    task = ZoneTask(zone_name, provider, sorted(members, key=lambda d: d.name))
    if delete_records:
        task.forget = [spec_domain or _stateless(root, name)]
        task.deletable = {name: deletable_entries(root, name, zone_name, spec_domain)}
    else:
        task.release = [name]
    cache = ProviderCache(root)
    zp = plan_zone(task, cache, set(project.domains) | {name})
    zp.command = "forget"
    if not zp.error and name not in zp.report.live_registry:
        zp.error = f"{name} is not in mailzone's registry of zone {zone_name} at provider {provider}: nothing to forget"
    return zp, cache


def deletable_entries(
    root: Path, name: str, zone: str, spec_domain: Domain | None
) -> frozenset[str]:
    """The registry entries mailzone could have generated for the domain in `zone`: its
    expansion (from the spec, or its last version in git, and the state; else the record sets
    an old state file says an apply generated, else those the newest backup of the zone lists
    for it) and a TXT per DKIM selector of its state, of a type some record family produces."""
    state = spec_domain.state if spec_domain is not None else load_state(root, name)
    made = set(state.records or ())
    if spec_domain is not None:
        made |= {owner_key(r) for r in spec_domain.records}
    elif state.records is None:
        made |= _backup_entries(root / "build" / "backups", name, zone)
    made |= {
        entry("TXT", relative_name(f"{sel.selector}._domainkey.{name}", zone))
        for sel in state.selectors
    }
    return frozenset(e for e in made if generates(*split_key(e)))


def where_published(root: Path, name: str) -> tuple[str | None, str | None]:
    """(zone, provider) where a domain whose spec is gone was last published: its state's, else
    the newest backup whose `_mailzone` registry lists it; (None, None) if neither knows."""
    state = load_state(root, name)
    if state.zone and state.provider:
        return state.zone, state.provider
    return _last_backup_listing(root / "build" / "backups", name)


def _last_backup_listing(folder: Path, name: str) -> tuple[str | None, str | None]:
    lines = _newest_backup_listing(folder, name)
    if lines is None:
        return None, None
    provider = next(
        (
            line[len("; provider ") :].split(";")[0].strip()
            for line in lines
            if line.startswith("; provider ")
        ),
        None,
    )
    zone = next(
        (line.split()[1].rstrip(".") for line in lines if line.startswith("$ORIGIN ")), None
    )
    return zone, provider or None


def _backup_entries(folder: Path, name: str, zone: str) -> set[str]:
    """The registry entries of the domain in the newest backup of `zone` that lists it."""
    lines = _newest_backup_listing(folder, name, zone)
    values = [
        "".join(_QUOTED.findall(line))
        for line in lines or ()
        if line.startswith(f"{REGISTRY_NAME} ")
    ]
    return set(decode(values).get(name, ()))


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _newest_backup_listing(folder: Path, name: str, zone: str = "*") -> list[str] | None:
    """The lines of the newest backup (of `zone`, or any) whose registry lists the domain."""
    listed = re.compile(r'^_mailzone\s.*\sTXT\s.*"mailzone:1 ' + re.escape(name) + r'[ "]')
    # `<zone>.<UTC time>.zone`: the newest first
    backups = sorted(
        folder.glob(f"{zone}.*.zone"), key=lambda p: p.name.rsplit(".", 2)[-2], reverse=True
    )
    for path in backups:
        if zone != "*" and path.name.rsplit(".", 2)[0] != zone:
            continue  # `example.org.*` also matches the zone example.org.uk
        if not is_inside(path, folder):  # a symlink out: not a backup mailzone wrote
            continue
        try:  # a FIFO is skipped, not waited on
            raw = read_regular(path, MAX_ZONE_FILE_BYTES)
            lines = raw.decode("utf-8").splitlines() if raw is not None else []
        except (OSError, ValueError):
            continue
        if any(listed.match(line) for line in lines):
            return lines
    return None


class _NoSpec:
    """Stands in for a domain whose spec is gone: only its state matters here."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.state = load_state(root, name)


def _stateless(root: Path, name: str) -> Domain:
    return _NoSpec(name, root)  # type: ignore[return-value]
