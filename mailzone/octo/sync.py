"""Plan and apply per zone: desired records → octoDNS provider, with ownership and guards.

mailzone drives the providers directly (octoDNS's Manager takes only a config file), so it
runs what the Manager would: the processor hooks and `raise_if_unsafe()`."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from octodns.provider.plan import UnsafePlan
from octodns.zone import Zone

from mailzone.errors import MailzoneError
from mailzone.octo import fastpath
from mailzone.octo import providers as provider_files
from mailzone.octo.desired import (
    DesiredData,
    add_records,
    desired_data,
    lean_zone,
    registry_notes,
)
from mailzone.octo.guards import GuardHit
from mailzone.octo.ownership import MtaStsRemovalError, ZoneReport
from mailzone.octo.processor import MailzoneProcessor, ZoneOptions
from mailzone.octo.registry import REGISTRY_NAME
from mailzone.octo.thresholds import RecordPlan
from mailzone.records.model import relative_name
from mailzone.repo.project import Domain, Project, removed_domains
from mailzone.repo.shard import Shard
from mailzone.repo.state import stale_states
from mailzone.spec.state import PUBLISHED_PHASES
from mailzone.util.files import write_atomic

log = logging.getLogger("mailzone.sync")


@dataclass
class ZoneTask:
    """One zone at one provider, and the domains mailzone manages in it."""

    zone: str
    provider: str
    domains: list[Domain]
    forget: list[Domain] = field(default_factory=list)
    release: list[str] = field(default_factory=list)
    sub_zones: set[str] = field(default_factory=set)
    scope: frozenset[str] | None = None  # names this run may change (rotate --apply); None: all
    # forget: per forgotten domain, the registry entries mailzone could have made (may delete)
    deletable: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass
class ZonePlan:
    """What one zone needs, or why it could not be planned."""

    task: ZoneTask
    plan: Any = None  # octodns Plan, None when nothing changes
    report: ZoneReport = field(default_factory=ZoneReport)
    guard: list[GuardHit] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    error: str | None = None
    command: str = "apply"  # the command that applies this plan: refusals name its flags
    prefiltered: bool = False  # found unchanged by `fastpath`, without octoDNS's plan

    @property
    def zone(self) -> str:
        """Zone name without the trailing dot."""
        return self.task.zone

    @property
    def changes(self) -> list[Any]:
        """octoDNS changes (Create/Update/Delete)."""
        return list(self.plan.changes) if self.plan is not None else []

    @property
    def pending(self) -> bool:
        """Whether applying would change something (or wait for --adopt)."""
        return bool(self.changes or self.report.pending_adoptions)


@dataclass
class ZoneOutcome:
    """What apply did to one zone."""

    zone: str
    domains: list[str]
    status: str  # applied | unchanged | error
    message: str = ""
    changes: int = 0
    backup: Path | None = None
    reported: bool = False  # the error was already shown with the plan

    @property
    def error_line(self) -> str:
        """The message, prefixed with the zone unless it names it first already (plan errors)."""
        if self.message.startswith(f"{self.zone}: "):
            return self.message
        return f"{self.zone}: {self.message}"


class ProviderCache:
    """Builds each configured provider once per run (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, Any] = {}
        self._writers: dict[str, int] = {}
        self._creates: dict[str, bool] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Any:
        """The provider instance; raises MailzoneError when its file or class is wrong."""
        with self._lock:
            if name not in self._built:
                try:
                    defn = provider_files.load_provider_def(self.root, name)
                    self._built[name] = provider_files.build_provider(defn)
                    self._writers[name] = provider_files.write_concurrency(defn)
                    self._creates[name] = provider_files.creates_zones(defn)
                except MailzoneError as err:
                    self._built[name] = err
            built = self._built[name]
        if isinstance(built, MailzoneError):
            raise built
        return built

    def writers(self, name: str) -> int:
        """How many zones of this provider may be written at once (1 if it could not be built)."""
        return self._writers.get(name, 1)

    def creates_zones(self, name: str) -> bool:
        """Whether apply may create a zone this provider does not have."""
        return self._creates.get(name, False)


def zone_tasks(
    project: Project,
    selected: Sequence[Domain],
    include_stale: bool = False,
    shard: Shard | None = None,
) -> list[ZoneTask]:
    """Group the selected domains' zones; each task holds every project domain of that zone.

    `include_stale`: also read the zones (those in `shard`, if given) of domains whose spec is
    gone but whose last version in git, or whose state, says where they were published, so
    plan can warn that their records are still there."""
    keys = {(d.zone, d.spec.provider) for d in selected}
    if include_stale:
        gone = {(s.zone, s.provider) for s in stale_states(project.root, project.names)}
        gone |= {
            (d.zone, d.spec.provider) for d in removed_domains(project.root, project.names).values()
        }
        for zone, provider in gone:
            if zone and provider and (shard is None or shard.holds(zone)):
                keys.add((zone, provider))
    members: dict[tuple[str, str], list[Domain]] = defaultdict(list)
    for domain in project.domains.values():
        members[(domain.zone, domain.spec.provider)].append(domain)
    subs: dict[str, set[str]] = defaultdict(set)
    zones = {zone for zone, _ in members}
    for zone in zones:
        labels = zone.split(".")
        for i in range(1, len(labels)):  # every ancestor that is itself a zone gets this one
            parent = ".".join(labels[i:])
            if parent in zones:
                subs[parent].add(".".join(labels[:i]))
    return [
        ZoneTask(
            zone,
            provider,
            sorted(members[(zone, provider)], key=lambda d: d.name),
            sub_zones=subs[zone],
        )
        for zone, provider in sorted(keys)
    ]


def rotation_tasks(project: Project, names: Sequence[str]) -> list[ZoneTask]:
    """The zones of the named domains for `rotate --apply`: each may change only the DKIM
    selectors in those domains' states (their records and registry entries); every other
    pending change is held for `mailzone apply` and listed in the plan's `report.held`."""
    rotated = project.select(list(names))
    tasks = zone_tasks(project, rotated)
    for task in tasks:
        task.scope = frozenset(
            relative_name(f"{sel.selector}._domainkey.{domain.name}", task.zone)
            for domain in rotated
            if domain.zone == task.zone and domain.spec.provider == task.provider
            for sel in domain.state.selectors
        )
    return tasks


def _protected(task: ZoneTask) -> frozenset[str]:
    names = set()
    for domain in [*task.domains, *task.forget]:
        for sel in domain.state.selectors:
            if sel.phase in (*PUBLISHED_PHASES, "revoked"):
                names.add(relative_name(f"{sel.selector}._domainkey.{domain.name}", task.zone))
    return frozenset(names)


def plan_zone(
    task: ZoneTask, cache: ProviderCache, known: set[str], adopt: bool = False
) -> ZonePlan:
    """Read the live zone and compute the changes for one task."""
    result = ZonePlan(task)
    try:
        provider = cache.get(task.provider)
        per_domain = [(d.name, d.records) for d in task.domains]
        per_domain += [(d.name, []) for d in task.forget]
        per_domain += [(name, []) for name in task.release]
        data = desired_data(
            per_domain,
            ttl=min((d.spec.ttl for d in task.domains), default=3600),
            notes={d.name: registry_notes(d) for d in task.domains},
        )
        if _prefilter(task, provider, data, known, result):
            return result
        desired = Zone(f"{task.zone}.", task.sub_zones)
        add_records(desired, data)
        processor = MailzoneProcessor("mailzone", adopt=adopt)
        processor.zone_options[desired.name] = ZoneOptions(
            protected=_protected(task),
            release=frozenset(task.release),
            scope=task.scope,
            deletable=task.deletable,
        )
        plan = RecordPlan.of(provider.plan(desired, processors=[processor]))
        # exists is None when the provider cannot tell: taken as existing, as octoDNS does
        if plan is not None and plan.exists is False and not cache.creates_zones(task.provider):
            raise provider_files.missing_zone(task.zone, task.provider)
        result.plan = plan
        result.report = processor.reports.get(desired.name, ZoneReport())
        if result.plan is not None:
            result.guard = processor.violations(result.plan)
        gone = {*(d.name for d in task.forget), *task.release}
        result.orphans = sorted(
            d for d in result.report.live_registry if d not in known and d not in gone
        )
    except MtaStsRemovalError as err:  # the field is gone: point at the spec's `domain:` line
        spec = next((d for d in task.domains if d.name == err.domain), None)
        where = spec.doc.where(("domain",)) if spec is not None else err.domain
        result.error = f"{where}: {err.message}"
    except MailzoneError as err:
        result.error = str(err)
    except Exception as err:  # a provider failing (server down, refused, timeout, auth)
        log.debug("plan %s failed", task.zone, exc_info=True)
        result.error = provider_error_text(task.zone, task.provider, err)
    finally:
        for domain in task.domains:  # planned: only this zone's plan needed them
            domain.drop_records()
    return result


def _prefilter(
    task: ZoneTask, provider: Any, data: list[DesiredData], known: set[str], result: ZonePlan
) -> bool:
    """Whether the zone is unchanged by `fastpath` (then `result` says so); False: plan it.
    It compares a `lean_zone`: octoDNS's zone and records are built only for a full plan."""
    reader = getattr(provider, "live_zone", None)
    plain = not (task.forget or task.release or task.scope is not None or task.sub_zones)
    if reader is None or not plain or task.deletable or not fastpath.enabled():
        return False
    live = reader(f"{task.zone}.")
    if not live.exists or live.opaque or (REGISTRY_NAME, "TXT") not in live.sets:
        return False  # `unchanged` would not judge it (a new zone, say): build nothing more
    try:
        desired = lean_zone(f"{task.zone}.", data)
    except Exception:  # a value octoDNS refuses: the full plan reports it in its words
        return False
    if desired is None:
        return False
    report = fastpath.unchanged(desired, live, provider.SUPPORTS, known)
    if report is None:
        return False
    provider.forget_live(desired.name)
    result.report = report
    result.prefiltered = True
    return True


def provider_error_text(zone: str, provider: str, err: Exception) -> str:
    """One line for an exception raised inside an octoDNS provider, naming the zone."""
    return f"{zone}: {provider_failure(provider, err)}"


def provider_failure(provider: str, err: Exception) -> str:
    """The same without the zone (an apply outcome's message: the zone is printed with it)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return f"provider '{provider}': {type(err).__name__}: {text}"


def plan_all(
    project: Project,
    tasks: Sequence[ZoneTask],
    cache: ProviderCache,
    adopt: bool = False,
    jobs: int = 4,
) -> list[ZonePlan]:
    """Plan every task; zones are read concurrently (the work is mostly waiting on servers)."""
    known = project.names | set(project.domains)
    if jobs <= 1 or len(tasks) <= 1:
        plans = [plan_zone(t, cache, known, adopt) for t in tasks]
    else:
        plans = _ahead(tasks, cache, known, adopt, jobs)
        if len(plans) < len(tasks):
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                rest = tasks[len(plans) :]
                plans += pool.map(lambda t: plan_zone(t, cache, known, adopt), rest)
    quiet = sum(p.prefiltered for p in plans)
    log.info(
        "plan: %d of %d zones unchanged by the pre-filter (no octoDNS plan)", quiet, len(plans)
    )
    return plans


class EarlyReads:
    """Zone reads begun while the specs load (`loaded`, called by `load_project` with each
    domain): its zone's read is sent ahead, at most `AHEAD` out at once, and the answers that
    have come are taken in without waiting (`poll_ahead`), so the server works while the specs
    load. For providers that can (PowerDNS, whose API spends about 1 ms of its own CPU a zone);
    the plans read the rest as before."""

    def __init__(self, cache: ProviderCache, shard: Shard | None, limit: int = 2000) -> None:
        self._cache, self._shard, self._limit = cache, shard, limit
        self._providers: dict[str, Any] = {}  # those that can take answers in early, by name
        self._zones: set[str] = set()
        self._queue: deque[tuple[str, str]] = deque()  # (provider, zone) not sent yet
        self._out: dict[str, int] = {}  # reads in flight, by provider

    def loaded(self, domain: Domain) -> None:
        """Send the domain's zone's read ahead, or queue it; take in what has come."""
        zone = domain.zone
        if zone not in self._zones and len(self._zones) < self._limit:
            self._zones.add(zone)
            name = domain.spec.provider
            if self._provider(name) is not None and (
                self._shard is None or self._shard.holds(zone)
            ):
                self._queue.append((name, f"{zone}."))
        for name, out in self._out.items():
            if out:
                self._out[name] = self._providers[name].poll_ahead()
        while self._queue and sum(self._out.values()) < AHEAD:
            name, zone_name = self._queue.popleft()
            if not self._providers[name].send_ahead(zone_name):
                self._queue.clear()  # the plans will find out why
                return
            self._out[name] = self._out.get(name, 0) + 1

    def _provider(self, name: str) -> Any:
        if name not in self._providers:
            try:
                provider = self._cache.get(name)
            except Exception:  # the plan reports the provider's error
                provider = None
            self._providers[name] = provider if hasattr(provider, "poll_ahead") else None
        return self._providers[name]


# zone reads sent ahead at most: BIND and PowerDNS's web server accept connections from a
# queue of about 10; past it the kernel drops a connection's handshake, which costs a second
# (PowerDNS, 1000 zones: 1.6 s with 8, 4.6 s with 16)
AHEAD = 8


def _ahead(
    tasks: Sequence[ZoneTask], cache: ProviderCache, known: set[str], adopt: bool, jobs: int
) -> list[ZonePlan]:
    """Plan the tasks in this thread, each zone's read sent up to `jobs` - 1 zones ahead
    (`send_ahead`: BIND's transfers, PowerDNS's GETs), so the server works on the next zones while this one is
    compared: threads would add CPU (the GIL) and overlap nothing more. The plans made, in
    order: fewer than the tasks once a zone's provider cannot send ahead, a send fails or a
    zone's plan fails (a server that cannot be reached, or does not answer: the rest are then
    planned in threads, as before, so their waits overlap)."""
    providers: dict[str, Any] = {}
    for task in tasks:
        if task.provider not in providers:
            try:
                providers[task.provider] = cache.get(task.provider)
            except Exception:  # the provider's own error is the zone plan's to report
                providers[task.provider] = None
        if not hasattr(providers[task.provider], "send_ahead"):
            return []
    plans: list[ZonePlan] = []
    sent = 0
    try:
        for index, task in enumerate(tasks):
            while sent < min(len(tasks), index + min(jobs, AHEAD)):
                ahead = tasks[sent]
                if not providers[ahead.provider].send_ahead(f"{ahead.zone}."):
                    return plans
                sent += 1
            plans.append(plan_zone(task, cache, known, adopt))
            if plans[-1].error:  # a server down or silent: the rest wait on it in threads
                return plans
        return plans
    finally:
        for provider in providers.values():
            provider.drop_ahead()


def apply_zone(
    zp: ZonePlan,
    cache: ProviderCache,
    backup_dir: Path,
    now: datetime,
    force: bool = False,
    adopt: bool = False,
) -> ZoneOutcome:
    """Apply one planned zone unless adoption, a guard or a threshold stops it."""
    names = [d.name for d in zp.task.domains] + [d.name for d in zp.task.forget] + zp.task.release
    outcome = ZoneOutcome(zp.zone, names, "error")
    if zp.error:
        outcome.message = zp.error
        outcome.reported = True
        return outcome
    if zp.report.pending_adoptions and not adopt:
        listed = ", ".join(f"{a.type} {a.name or '@'}" for a in zp.report.pending_adoptions)
        then = "" if zp.command == "apply" else f", then {zp.command} again"
        outcome.message = (
            f"live records not created by mailzone would be replaced ({listed}); "
            f"review them with plan, then apply --adopt{then}"
        )
        return outcome
    if zp.plan is None:
        outcome.status = "unchanged"
        return outcome
    if zp.guard and not force:
        outcome.message = (
            "refused: " + "; ".join(map(str, zp.guard)) + f" ({zp.command} --force to do it anyway)"
        )
        return outcome
    if not force:
        try:
            zp.plan.raise_if_unsafe()
        except UnsafePlan as err:
            outcome.message = (
                f"refused by octoDNS's safety check: {' '.join(str(err).split())} "
                f"({zp.command} --force to do it anyway)"
            )
            return outcome
    try:
        provider = cache.get(zp.task.provider)
        stuck = unsplittable_txt(zp.changes) if _chunks_txt(provider) else ""
        if stuck:
            outcome.message = stuck
            return outcome
        outcome.backup = write_backup(zp, backup_dir, now)
        provider.apply(zp.plan)
    except MailzoneError as err:
        outcome.message = str(err)
        return outcome
    except Exception as err:
        log.debug("apply %s failed", zp.zone, exc_info=True)
        outcome.message = provider_failure(zp.task.provider, err)
        return outcome
    outcome.status = "applied"
    outcome.changes = len(zp.changes)
    return outcome


def unsplittable_txt(changes: Sequence[Any]) -> str:
    """Why a TXT value of `changes` cannot be written, or "". octoDNS's record-level chunking
    (`chunked_value`: RFC 2136 updates to BIND, octodns-bind's zone files) cuts a value into
    255-character strings, never after a backslash, and so loops forever on a value that ends
    in one (a TXT string ending in `\\`) or holds 255 in a row. mailzone's values never do; a
    foreign value kept in the apex TXT set beside the SPF record can, and applying the zone
    would hang."""
    for change in changes:
        record = change.record
        if record._type not in ("TXT", "SPF"):
            continue
        size = getattr(record, "CHUNK_SIZE", 255)
        for text in map(str, record.values):
            if not _splits(text.replace('"', '\\"'), size):
                shown = text[:40] + ("..." if len(text) > 40 else "")
                return (
                    f"{record._type} {record.fqdn} value '{shown}' ({len(text)} characters): "
                    f"octoDNS cannot split it into {size}-character strings (it ends in a "
                    "backslash, or holds a string's length of them) and would never finish "
                    "writing it; not applied: change or remove that value by hand"
                )
    return ""


def _chunks_txt(provider: Any) -> bool:
    """Whether the provider writes TXT values through octoDNS's `chunked_value` (BIND by RFC
    2136, octodns-bind's zone files; PowerDNS and `local` take the values whole)."""
    from octodns_bind import Rfc2136Provider, ZoneFileProvider

    return isinstance(provider, (Rfc2136Provider, ZoneFileProvider))


def _splits(value: str, size: int) -> bool:
    """Whether octoDNS's `_legacy_chunked_value` cuts `value` (quotes escaped) and ends."""
    start, end = 0, len(value)
    while start < end:
        cut = min(size, end - start)
        while cut > 0 and value[start + cut - 1] == "\\":
            cut -= 1
        if cut == 0:
            return False
        start += cut
    return True


def apply_all(
    plans: Sequence[ZonePlan],
    cache: ProviderCache,
    backup_dir: Path,
    now: datetime,
    force: bool = False,
    adopt: bool = False,
    jobs: int = 4,
) -> list[ZoneOutcome]:
    """Apply every planned zone, in plan order in the result.

    Zones are independent, but not every backend takes concurrent writes (PowerDNS on sqlite
    answers 500 "database is locked"): each provider writes as many zones at once as its
    `write_concurrency` allows, capped by `jobs`."""
    outcomes: dict[int, ZoneOutcome] = {}
    by_provider: dict[str, list[int]] = defaultdict(list)
    for i, zp in enumerate(plans):
        by_provider[zp.task.provider].append(i)

    def one(i: int) -> tuple[int, ZoneOutcome]:
        return i, apply_zone(plans[i], cache, backup_dir, now, force, adopt)

    for provider, indexes in by_provider.items():
        workers = max(1, min(jobs, cache.writers(provider)))
        if workers == 1 or len(indexes) == 1:
            outcomes.update(one(i) for i in indexes)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                outcomes.update(pool.map(one, indexes))
    return [outcomes[i] for i in range(len(plans))]


def write_backup(zp: ZonePlan, backup_dir: Path, now: datetime) -> Path | None:
    """Save the live records as read, in zone-file form, before changing them (none if empty)."""
    records = [r for r in zp.plan.existing.records if not (r.name == "" and r._type == "NS")]
    if not records:
        return None  # a new zone: nothing to restore
    backup_dir.mkdir(parents=True, exist_ok=True)
    path = backup_dir / f"{zp.zone}.{now.strftime('%Y%m%dT%H%M%SZ')}.zone"
    lines = [
        f"; live records of {zp.zone} read by mailzone before apply, {now.isoformat()}",
        f"; provider {zp.task.provider}; restore by hand if an apply went wrong",
        f"$ORIGIN {zp.zone}.",
    ]
    for record in sorted(records, key=lambda r: (r.name, r._type)):
        rrset = record.to_rrset()
        name = record.name or "@"
        lines += [f"{name} {rrset.ttl} IN {rrset._type} {rdata}" for rdata in rrset.rdatas]
    write_atomic(path, "\n".join(lines) + "\n")
    return path
