"""`mailzone rotate`: advance each domain's DKIM lifecycle as far as is safe now.

A run, in this order, so that a crash anywhere converges on the next run without losing a key:

1. observe DNS, only for selectors waiting on it (pending ones, tombstones), for revoked
   ones (a revocation whose apply failed is published again) and for staged DANE keys (when
   every nameserver serves their TLSA: the certbot deploy hook waits 2 × TTL from then);
2. decide (`lifecycle.step`, a pure function of the state, the policy, the time and DNS);
3. generate the new keys (all cores), note their fingerprints and write them (never over a
   file that exists: one mailzone did not write is refused), before any state names them;
4. delete (or archive) the keys of selectors that no nameserver serves any more, then save the
   states (atomically): a key is never left behind by a state that forgot it;
5. write the MTA configuration, reload the MTA, then mark the switch complete;
6. `--apply`: publish through each domain's provider.

A run with nothing due reads no private key and asks DNS nothing (except, while a selector is
revoked, whether its empty key is served).

A dry run (`rotate --dry-run`) does steps 1 and 2 only: it says what each domain would do and
why, and writes nothing (no lock, no key, no state, no MTA file, no DNS change)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mailzone.dkim import keys, lifecycle, tlsa
from mailzone.dkim.store import KeyStore
from mailzone.dkim.tlsa_deploy import NextSeen, observe_next
from mailzone.dkim.visibility import Observer, Seen
from mailzone.dns.query import Dns
from mailzone.errors import MailzoneError
from mailzone.mta.install import install, render_files, run_reload
from mailzone.repo.project import Domain, Project
from mailzone.repo.state import save_state
from mailzone.spec import dkim_key
from mailzone.spec.dkim_key import revoked_txt_value
from mailzone.spec.duration import format_duration
from mailzone.spec.host import HostConfig
from mailzone.spec.state import DomainState, SelectorLifecycle, SelectorState, TlsaKey
from mailzone.spec.zone import Dkim

OBSERVE_THREADS = 16


@dataclass(frozen=True)
class Wait:
    """What one selector waits for: `reason` is `publish` or `removal` (by `mailzone apply`),
    `nameservers` (those in `nameservers`, server → what it answered, are not as wanted yet),
    or a duration of the policy (`activate_delay`, `revoke_after`, `forget_after`,
    `rotate_every`) that ends at `until`."""

    selector: str
    phase: str
    reason: str
    until: datetime | None = None
    nameservers: dict[str, str] = field(default_factory=dict)


@dataclass
class DomainRun:
    """What one domain's rotation did (a dry run: would do, and `why`), waits for, and when it
    is next due."""

    domain: str
    done: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)  # one per `done` line
    waiting: list[str] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    next_due: datetime | None = None
    error: str | None = None
    dns_changed: bool = False

    def fail(self, message: str) -> None:
        """A real run that failed before saving the domain's state took none of its steps: keep
        the error and forget what they would have done, waited for and been due next (a dry
        run's lines stay: they say what is due)."""
        self.error = message
        self.done, self.why, self.waiting, self.waits = [], [], [], []
        self.next_due = None
        self.dns_changed = False


@dataclass
class RotateResult:
    """Every domain's run, the MTA files written, and problems that concern the whole host."""

    runs: list[DomainRun]
    mta_files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    apply_domains: list[str] = field(default_factory=list)
    dry_run: bool = False
    mta_due: bool = False  # a dry run: the MTA configuration would be written

    @property
    def failed(self) -> bool:
        """Whether anything went wrong."""
        return bool(self.errors) or any(r.error for r in self.runs)

    @property
    def due(self) -> bool:
        """A dry run: whether a real run would change something."""
        return self.mta_due or bool(self.apply_domains) or any(r.done for r in self.runs)


@dataclass
class _Decision:
    domain: Domain
    run: DomainRun
    sels: list[SelectorLifecycle]
    actions: list[lifecycle.Action]
    new_keys: dict[str, dkim_key.PublicKey] = field(default_factory=dict)
    unrevoked: list[str] = field(default_factory=list)  # revoked, but DNS still says otherwise
    tlsa: list[TlsaKey] | None = None  # the TLSA keys with what DNS serves of the next ones noted


def policy_of(dkim: Dkim) -> lifecycle.Policy:
    """The spec's DKIM settings as the lifecycle's policy."""
    return lifecycle.Policy(
        rotate_every=dkim.rotate_every,
        max_age=dkim.max_age,
        activate_delay=dkim.activate_delay,
        revoke_after=dkim.revoke_after,
        forget_after=dkim.forget_after,
        retire=dkim.retire,
        algorithms=tuple(dkim.algorithms),
    )


def rotate(
    project: Project,
    selected: Sequence[Domain],
    host: HostConfig,
    now: datetime,
    *,
    dns: Dns,
    emergency: bool = False,
    apply: Callable[[list[str]], list[str]] | None = None,
    processes: int | None = None,
    dry_run: bool = False,
) -> RotateResult:
    """One rotation run over `selected` (the caller holds the repository's lock). `apply(domains)` publishes DNS and returns
    error lines; without it, publishing is left to `mailzone apply` (e.g. in CI). `dry_run`:
    decide and say, write nothing (`apply` is not called; `apply_domains` says what it would
    publish)."""
    if dry_run:
        return _preview(project, selected, host, now, dns, emergency, publish=apply is not None)
    return _rotate(project, selected, host, now, dns, emergency, apply, processes)


def _rotate(
    project: Project,
    selected: Sequence[Domain],
    host: HostConfig,
    now: datetime,
    dns: Dns,
    emergency: bool,
    apply: Callable[[list[str]], list[str]] | None,
    processes: int | None,
) -> RotateResult:
    store = KeyStore.for_host(host)
    observer = Observer(project.root, host, dns)
    decisions = _decide_all(selected, now, observer, emergency)
    result = RotateResult([d.run for d in decisions])
    _generate_keys(decisions, store, processes)
    states: dict[str, DomainState] = {name: d.state for name, d in project.domains.items()}
    switched: list[_Decision] = []
    for decision in decisions:
        if decision.run.error:
            continue
        try:
            if any(isinstance(a, lifecycle.SwitchMta) for a in decision.actions):
                _check_switch_keys(decision, store)
            _delete_keys(decision, store, host, result)  # while the state still names them
            state = _new_state(decision, now, mta_ready=host.mta.kind == "none")
        except MailzoneError as err:
            decision.run.fail(str(err))
            continue
        if state != decision.domain.state:
            save_state(project.root, state)
            decision.domain.state = state
        states[decision.domain.name] = state
        if any(not s.mta_done for s in state.selectors if s.phase == "active"):
            switched.append(decision)
    _prune_noted(store, states)
    if host.mta.kind != "none" and (switched or _mta_stale(host, states)):
        _switch_mta(project, host, states, switched, result)
    result.errors += _signing_key_problems(decisions, states, host, store)
    if apply is not None:
        wanted = [d.domain.name for d in decisions if d.run.dns_changed or _unpublished(d)]
        result.apply_domains = wanted
        if wanted:
            failed = apply(wanted)
            result.errors += failed
            for decision in decisions if not failed else []:
                decision.run.waiting = [_published(w) for w in decision.run.waiting]
    return result


def _preview(
    project: Project,
    selected: Sequence[Domain],
    host: HostConfig,
    now: datetime,
    dns: Dns,
    emergency: bool,
    publish: bool,
) -> RotateResult:
    """Steps 1 and 2 of a run: what each domain would do, and why. Reads the states, the MTA's
    files and DNS; writes nothing, makes no key, takes no lock."""
    observer = Observer(project.root, host, dns)
    decisions = _decide_all(selected, now, observer, emergency)
    result = RotateResult([d.run for d in decisions], dry_run=True)
    if host.mta.kind != "none":
        states = [d.state for d in project.domains.values()]
        switching = any(
            isinstance(a, lifecycle.SwitchMta)
            for d in decisions
            if not d.run.error
            for a in d.actions
        )
        unfinished = any(
            s.phase == "active" and not s.mta_done for st in states for s in st.selectors
        )
        result.mta_due = (
            switching or unfinished or _mta_stale(host, {st.domain: st for st in states})
        )
    if publish:  # the steps' DNS changes (an apply that only catches up is not planned here)
        result.apply_domains = [d.domain.name for d in decisions if d.run.dns_changed]
    return result


def _decide_all(
    selected: Sequence[Domain], now: datetime, observer: Observer, emergency: bool
) -> list[_Decision]:
    if len(selected) > 1:  # observing is mostly waiting on nameservers
        with ThreadPoolExecutor(max_workers=OBSERVE_THREADS) as pool:
            return list(pool.map(lambda d: _decide(d, now, observer, emergency), selected))
    return [_decide(d, now, observer, emergency) for d in selected]


def _decide(domain: Domain, now: datetime, observer: Observer, emergency: bool) -> _Decision:
    run = DomainRun(domain.name)
    state = domain.state
    dkim = domain.spec.dkim
    policy = policy_of(dkim)
    sels: list[SelectorLifecycle] = list(state.selectors)
    latest = max(
        (
            (when, f"{field} of {s.selector}")
            for s in state.selectors
            for field in ("created", "changed", "visible_since", "switched", "revoked")
            if (when := getattr(s, field)) is not None
        ),
        default=None,
    )
    if latest is not None and now < latest[0]:  # a wrong clock or --now: decide nothing
        run.error = (
            f"the time {now:%Y-%m-%d %H:%M} UTC is before the {latest[1]} "
            f"({latest[0]:%Y-%m-%d %H:%M} UTC) in state/{domain.name}.yaml; is the clock right?"
        )
        return _Decision(domain, run, sels, [])
    pending = {s.selector: s.key().txt_value() for s in state.selectors if s.phase == "pending"}
    tombstones = [s.selector for s in state.selectors if s.phase == "tombstone"]
    # a revoked selector's key must stay revoked in DNS: if the apply that revoked it failed,
    # nothing else would publish the revocation before the selector is forgotten
    revoked = {
        s.selector: revoked_txt_value(s.algorithm) for s in state.selectors if s.phase == "revoked"
    }
    seen = observer.observe(domain, {**pending, **revoked}, tombstones)
    observed = lifecycle.Observed(
        visible=seen.visible,
        gone=seen.gone,
        negative_ttl=seen.negative_ttl,
        record_ttl=domain.spec.ttl,
    )
    new, actions, due = lifecycle.step(sels, policy, now, observed, emergency=emergency)
    run.next_due = due
    run.done = [_describe(a, new, dkim) for a in actions]
    delay = lifecycle.activation_delay(policy, observed)
    run.why = [_why(a, sels, new, policy, delay, now, emergency) for a in actions]
    run.dns_changed = any(
        isinstance(a, lifecycle.PublishRecord | lifecycle.RevokeRecord | lifecycle.RemoveRecord)
        for a in actions
    )
    _explain_waits(run, new, seen, now)
    run.waits = _waits(new, seen, policy, delay, set(revoked))
    for sel in new:
        if sel.phase == "active" and now - sel.created > policy.max_age:
            run.warnings.append(
                f"active selector {sel.selector} is {(now - sel.created).days} days old, more than "
                f"max_age ({format_duration(policy.max_age)}): rotation is stuck; see what it waits for"
            )
    unrevoked = [s for s in revoked if not seen.visible.get(s, False)]
    for selector in unrevoked:
        why = seen.said.get(selector, "")
        run.waiting.append(
            f"{selector} is revoked, but its empty key is not served everywhere: {why} "
            "(mailzone apply publishes it)"
        )
    tlsa_seen = observe_next(domain, observer, now)
    _explain_tlsa(run, domain.state.tlsa, tlsa_seen, now)
    return _Decision(domain, run, new, actions, unrevoked=unrevoked, tlsa=tlsa_seen.keys)


def _explain_tlsa(run: DomainRun, old: list[TlsaKey], seen: NextSeen, now: datetime) -> None:
    """What a staged TLSA key waits for, and when its certificate may go live."""
    before = {(k.host, k.spki_sha256): k for k in old}
    for key in seen.keys:
        if key.role != "next":
            continue
        what = f"TLSA of the next key of {key.host} ({tlsa.short(key.spki_sha256)})"
        if key.visible_since is None:  # published by `mailzone apply`, never by rotate --apply
            why = seen.said.get(key.host)
            said = f": {why}" if why else ""
            run.waiting.append(f"{what} not yet served everywhere{said} (run mailzone apply)")
            continue
        ready = key.visible_since + seen.wait
        if before[(key.host, key.spki_sha256)].visible_since is None:
            run.done.append(f"note that every nameserver serves the {what}")
            run.why.append(f"its certificate may go live from {ready:%Y-%m-%d %H:%M} UTC")
        if now < ready:
            run.waiting.append(
                f"{what} served everywhere; its certificate may go live from "
                f"{ready:%Y-%m-%d %H:%M} UTC (the certbot deploy hook installs it then)"
            )


def _describe(action: lifecycle.Action, sels: list[SelectorLifecycle], dkim: Dkim) -> str:
    if isinstance(action, lifecycle.GenerateKey):
        size = f"rsa-{dkim.rsa_bits}" if action.algorithm == "rsa" else "ed25519"
        return f"new {size} key for selector {action.selector}"
    if isinstance(action, lifecycle.PublishRecord):
        return f"publish {action.selector} (pending)"
    if isinstance(action, lifecycle.SwitchMta):
        return f"sign {action.algorithm} mail with {action.selector} (active)"
    if isinstance(action, lifecycle.ArchiveKey):
        return f"stop signing with {action.selector} (retiring)"
    if isinstance(action, lifecycle.RevokeRecord):
        return f"revoke {action.selector} (publish an empty key)"
    if isinstance(action, lifecycle.RemoveRecord):
        return (
            f"remove {action.selector} from DNS (its key is deleted once no nameserver serves it)"
        )
    return f"delete the private key of {action.selector}"


def _why(
    action: lifecycle.Action,
    old: list[SelectorLifecycle],
    new: list[SelectorLifecycle],
    policy: lifecycle.Policy,
    delay: timedelta,
    now: datetime,
    emergency: bool,
) -> str:
    """Why the lifecycle takes this step now (for a dry run)."""
    before = {s.selector: s for s in old}
    after = {s.selector: s for s in new}
    if isinstance(action, lifecycle.GenerateKey | lifecycle.PublishRecord):
        sel = after.get(action.selector)
        algorithm = sel.algorithm if sel else getattr(action, "algorithm", "rsa")
        if emergency:
            return "--emergency: the current key may be compromised"
        active = next((s for s in old if s.phase == "active" and s.algorithm == algorithm), None)
        if active is None:
            return f"the domain has no {algorithm} key yet"
        every = format_duration(min(policy.rotate_every, policy.max_age))
        return f"the active key {active.selector} is {(now - active.created).days} days old (rotate every {every})"
    if isinstance(action, lifecycle.SwitchMta):
        sel = after[action.selector]
        since = f"since {sel.visible_since:%Y-%m-%d %H:%M} UTC" if sel.visible_since else "now"
        if sel.urgent:
            return f"every nameserver serves it {since} (emergency: no waiting)"
        return (
            f"every nameserver serves it {since}, longer than the {format_duration(delay)} to wait"
        )
    if isinstance(action, lifecycle.ArchiveKey):
        if action.selector in after and after[action.selector].algorithm not in policy.algorithms:
            return "its algorithm is no longer in dkim.algorithms"
        return "its successor signs from now on"
    if isinstance(action, lifecycle.RevokeRecord | lifecycle.RemoveRecord):
        was = before.get(action.selector)
        if was is not None and was.phase == "pending":
            return "a pending selector is withdrawn (--emergency, or its algorithm was dropped)"
        sel = after.get(action.selector) or was
        assert sel is not None, "the lifecycle acts on selectors it knows"
        switched = sel.switched or sel.created
        stopped = f"it stopped signing at {switched:%Y-%m-%d %H:%M} UTC"
        if isinstance(action, lifecycle.RevokeRecord):
            if now < switched + policy.revoke_after:
                return f"--emergency: no grace; {stopped}"
            return f"revoke_after ({format_duration(policy.revoke_after)}): {stopped}"
        if now >= switched + policy.forget_after:
            return f"forget_after ({format_duration(policy.forget_after)}): {stopped}"
        return f"retire: remove, revoke_after ({format_duration(policy.revoke_after)}): {stopped}"
    return "no nameserver serves its record any more"


def _waits(
    sels: list[SelectorLifecycle],
    seen: Seen,
    policy: lifecycle.Policy,
    delay: timedelta,
    revoked: set[str],
) -> list[Wait]:
    """What each selector waits for, and until when (for --format json)."""
    waits: list[Wait] = []
    for sel in sels:
        lacking = seen.lacking.get(sel.selector, {})
        switched = sel.switched or sel.created
        if sel.phase == "pending" and sel.selector in seen.said:
            waits.append(Wait(sel.selector, sel.phase, "nameservers", nameservers=lacking))
        elif sel.phase == "pending" and sel.visible_since is None:
            waits.append(Wait(sel.selector, sel.phase, "publish"))
        elif sel.phase == "pending" and not sel.urgent:
            until = sel.visible_since + delay if sel.visible_since else None
            waits.append(Wait(sel.selector, sel.phase, "activate_delay", until))
        elif sel.phase == "active" and not any(
            s.phase == "pending" and s.algorithm == sel.algorithm for s in sels
        ):
            until = sel.created + min(policy.rotate_every, policy.max_age)
            waits.append(Wait(sel.selector, sel.phase, "rotate_every", until))
        elif sel.phase == "retiring":
            waits.append(
                Wait(sel.selector, sel.phase, "revoke_after", switched + policy.revoke_after)
            )
        elif sel.phase == "revoked" and sel.selector in revoked and sel.selector in seen.said:
            waits.append(Wait(sel.selector, sel.phase, "nameservers", nameservers=lacking))
        elif sel.phase == "revoked":
            waits.append(
                Wait(sel.selector, sel.phase, "forget_after", switched + policy.forget_after)
            )
        elif sel.phase == "tombstone" and sel.selector in seen.said:
            waits.append(Wait(sel.selector, sel.phase, "nameservers", nameservers=lacking))
        elif sel.phase == "tombstone":
            waits.append(Wait(sel.selector, sel.phase, "removal"))
    return waits


def _explain_waits(
    run: DomainRun, sels: list[SelectorLifecycle], seen: Seen, now: datetime
) -> None:
    for sel in sels:
        if sel.phase == "pending" and sel.selector in seen.said:
            run.waiting.append(
                f"{sel.selector} not yet served everywhere: {seen.said[sel.selector]}"
            )
        elif sel.phase == "pending" and sel.visible_since is None:
            run.waiting.append(f"{sel.selector} waits to be published (mailzone apply)")
        elif sel.phase == "tombstone" and sel.selector in seen.said:
            run.waiting.append(f"{sel.selector} still served: {seen.said[sel.selector]}")
        elif sel.phase == "tombstone":
            run.waiting.append(f"{sel.selector} waits to be removed from DNS (mailzone apply)")


def _published(line: str) -> str:
    """A wait for `mailzone apply`, once this run's --apply did it."""
    line = line.replace(
        " waits to be published (mailzone apply)",
        " published now; the next rotate checks that every nameserver serves it",
    )
    line = line.replace(
        " waits to be removed from DNS (mailzone apply)",
        " removed from DNS now; its key is deleted once no nameserver serves it",
    )
    return line.replace(
        " (mailzone apply publishes it)",
        " (published now; the next rotate checks that every nameserver serves it)",
    )


def _generate_keys(decisions: list[_Decision], store: KeyStore, processes: int | None) -> None:
    """Create every new key (in parallel), write it, and remember its public half. The keys'
    fingerprints are noted in the store first, so that a run that crashes before saving the
    state takes its own key back; any other file at a new selector's path is refused."""
    noted = store.noted_new()
    wanted: list[tuple[_Decision, lifecycle.GenerateKey]] = []
    for decision in decisions:
        for action in decision.actions:
            if not isinstance(action, lifecycle.GenerateKey):
                continue
            if not store.exists(decision.domain.name, action.selector):
                wanted.append((decision, action))
                continue
            try:
                key = _own_key(decision.domain.name, action.selector, store, noted)
            except MailzoneError as err:
                decision.run.fail(str(err))
                continue
            decision.new_keys[action.selector] = key
    specs: list[tuple[dkim_key.Algorithm, int]] = [
        (a.algorithm, d.domain.spec.dkim.rsa_bits if a.algorithm == "rsa" else 256)
        for d, a in wanted
    ]
    made = [
        (decision, action, pem, key)
        for (decision, action), (pem, key) in zip(wanted, _new_keys(specs, processes), strict=True)
        if not decision.run.error
    ]
    if made:
        fresh = {(d.domain.name, a.selector): key.fingerprint for d, a, _, key in made}
        store.note_new({**noted, **fresh})
    for decision, action, pem, key in made:
        if decision.run.error:
            continue
        try:
            store.write(decision.domain.name, action.selector, pem)
        except MailzoneError as err:
            decision.run.fail(str(err))
            continue
        decision.new_keys[action.selector] = key


def _own_key(
    domain: str, selector: str, store: KeyStore, noted: dict[tuple[str, str], str]
) -> dkim_key.PublicKey:
    """The key already at a new selector's path, if an earlier run wrote it (it crashed before
    saving the state): noted with this fingerprint, and a file mailzone can use. Anything
    else is refused: selector names are predictable, so someone may have put a key there."""
    path = store.path(domain, selector)
    planted = MailzoneError(
        f"{path}: a key file already exists for new selector {selector} of {domain}; mailzone "
        "did not write it: remove it or investigate"
    )
    fingerprint = noted.get((domain, selector))
    if fingerprint is None:
        raise planted
    problem = store.problem(domain, selector)
    if problem is not None:
        raise MailzoneError(problem.stops(f"not using it for new selector {selector}"))
    key = keys.public_key_of(store.read(domain, selector))
    if key.fingerprint != fingerprint:
        raise planted
    return key


def _prune_noted(store: KeyStore, states: dict[str, DomainState]) -> None:
    """Keys that a saved state names now, or that are gone, need no note any more."""
    named = {(name, entry.selector) for name, st in states.items() for entry in st.selectors}
    noted = store.noted_new()
    store.note_new({k: fp for k, fp in noted.items() if k not in named and store.exists(*k)})


def _new_keys(
    specs: list[tuple[dkim_key.Algorithm, int]], processes: int | None
) -> list[tuple[bytes, dkim_key.PublicKey]]:
    workers = min(processes or os.cpu_count() or 1, len(specs))
    if workers <= 1:
        return [_new_key(spec) for spec in specs]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(_new_key, specs, chunksize=max(1, len(specs) // (workers * 8)))


def _new_key(spec: tuple[dkim_key.Algorithm, int]) -> tuple[bytes, dkim_key.PublicKey]:
    # module level so that the pool can pickle it; the public half is computed here, in the worker
    private = keys.generate_private_key(*spec)
    return keys.private_key_pem(private), keys.public_key_of(private)


def _new_state(decision: _Decision, now: datetime, mta_ready: bool) -> DomainState:
    old = {s.selector: s for s in decision.domain.state.selectors}
    switching = {a.selector for a in decision.actions if isinstance(a, lifecycle.SwitchMta)}
    entries = []
    for sel in decision.sels:
        if sel.selector in switching and not mta_ready:
            sel = sel.model_copy(update={"mta_done": False})  # set once the MTA signs with it
        entries.append(_entry(sel, old.get(sel.selector), decision.new_keys, now))
    domain = decision.domain
    update: dict[str, object] = {}
    if entries != list(domain.state.selectors):
        # where it is published, for a removed spec's forget (apply does not write state/)
        update = {"selectors": entries, "zone": domain.zone, "provider": domain.spec.provider}
    if decision.tlsa is not None and decision.tlsa != domain.state.tlsa:
        update["tlsa"] = decision.tlsa
    return domain.state.model_copy(update=update) if update else domain.state


def _entry(
    sel: SelectorLifecycle,
    old: SelectorState | None,
    new_keys: dict[str, dkim_key.PublicKey],
    now: datetime,
) -> SelectorState:
    """The state entry for what the lifecycle decided (validated again when it changed)."""
    if isinstance(sel, SelectorState) and old is not None:
        if sel == old:
            return old
        changed = old.changed if old.phase == sel.phase else now
        return SelectorState(**{**dict(sel), "changed": changed})
    key = new_keys.get(sel.selector)
    if key is None:
        raise MailzoneError(f"no key was made for {sel.selector}")
    return SelectorState.of_lifecycle(sel, key, changed=now)


def _check_switch_keys(decision: _Decision, store: KeyStore) -> None:
    """The MTA is about to sign with these keys: they must be here and match the state."""
    by_name = {s.selector: s for s in decision.domain.state.selectors}
    for action in decision.actions:
        if not isinstance(action, lifecycle.SwitchMta):
            continue
        entry = by_name.get(action.selector)
        if entry is None:
            continue  # made in this run: its key was just written
        if not store.path(decision.domain.name, action.selector).exists():
            raise MailzoneError(
                f"no private key for selector {action.selector} in "
                f"{store.directory}; run rotate on the mail host that holds it"
            )
        problem = store.problem(decision.domain.name, action.selector, entry.key())
        if problem is not None:
            raise MailzoneError(
                problem.stops(f"not switching to {action.selector} until it is fixed")
            )
        if not store.fingerprint_matches(decision.domain.name, action.selector, entry.fingerprint):
            raise MailzoneError(
                f"{store.path(decision.domain.name, action.selector)}: its public half does not "
                f"match the fingerprint of {action.selector} in state/{decision.domain.name}.yaml; "
                "not switching to it"
            )


def _signing_key_problems(
    decisions: list[_Decision], states: dict[str, DomainState], host: HostConfig, store: KeyStore
) -> list[str]:
    """The keys this host signs with now or next whose file is wrong (a link, another user's,
    exposed, unreadable by the key group) or that are too weak (as the state records them):
    one line each, with the fix. Looks at the files' metadata only."""
    lines = []
    for decision in decisions:
        name = decision.domain.name
        if decision.run.error or not host.signs_for(name):
            continue
        for entry in states[name].selectors:
            if entry.phase in ("pending", "active"):
                problem = store.problem(name, entry.selector, entry.key())
                if problem is not None:
                    lines.append(f"{name}: {problem}")
    return lines


def _mta_stale(host: HostConfig, states: dict[str, DomainState]) -> bool:
    """The MTA files do not say what the states say: never written (a new host), or someone
    removed or rewrote them (e.g. a localmacros without the mailzone block). Mail would leave
    unsigned until the next switch, so write them again. Reads only the MTA's files."""
    try:
        return any(
            item.merged() != _text_of(item.path)
            for item in render_files(host.mta.kind, states.values(), host)
        )
    except MailzoneError:
        return True  # _switch_mta reports it


def _text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _switch_mta(
    project: Project,
    host: HostConfig,
    states: dict[str, DomainState],
    switched: list[_Decision],
    result: RotateResult,
) -> None:
    try:
        files = render_files(host.mta.kind, states.values(), host)
        result.mta_files = install(files)
        if result.mta_files or switched:
            run_reload(host)
    except MailzoneError as err:
        result.errors.append(f"MTA not switched: {err} (the next rotate retries)")
        for decision in switched:  # the state changed, the MTA did not: say only that
            decision.run.done = [
                _unswitched(action, line)
                for action, line in zip(decision.actions, decision.run.done, strict=False)
            ] + decision.run.done[len(decision.actions) :]
        return
    for decision in switched:
        state = decision.domain.state
        if not any(isinstance(a, lifecycle.SwitchMta) for a in decision.actions):
            unfinished = [s for s in state.selectors if s.phase == "active" and not s.mta_done]
            decision.run.done += [  # an earlier run's switch, finished now: say so
                f"the MTA now signs {s.algorithm} mail with {s.selector} (earlier switch completed)"
                for s in unfinished
            ]
            decision.run.why += ["the MTA was not switched when the state was"] * len(unfinished)
        done = [s.model_copy(update={"mta_done": True}) for s in state.selectors]
        state = state.model_copy(update={"selectors": done})
        save_state(project.root, state)
        decision.domain.state = state
        states[state.domain] = state


def _unswitched(action: lifecycle.Action, line: str) -> str:
    """A step's line when the state took it but the MTA could not be switched."""
    if isinstance(action, lifecycle.SwitchMta):
        return (
            f"{action.selector} is the active {action.algorithm} selector in the state, but the "
            "MTA does not sign with it yet"
        )
    if isinstance(action, lifecycle.ArchiveKey):
        return f"{action.selector} is retiring in the state, but the MTA still signs with it"
    return line


def _unpublished(decision: _Decision) -> bool:
    """DNS lags the state (e.g. an earlier apply failed): a pending selector not yet seen, a
    revoked one whose key is still served, or a tombstone still served."""
    return bool(decision.unrevoked) or any(
        (s.phase == "pending" and s.visible_since is None) or s.phase == "tombstone"
        for s in decision.sels
    )


def _delete_keys(
    decision: _Decision, store: KeyStore, host: HostConfig, result: RotateResult
) -> None:
    """Delete (or archive) the keys of selectors no nameserver serves any more, before the state
    that forgets them is saved: a crash in between leaves a tombstone whose key is gone (the next
    run just forgets it), never a key that no state names. A key that cannot be deleted keeps its
    tombstone, so the next run tries again."""
    domain = decision.domain.name
    old = {s.selector: s for s in decision.domain.state.selectors}
    for action in decision.actions:
        if not isinstance(action, lifecycle.DeleteKey):
            continue
        if not store.exists(domain, action.selector):
            continue  # deleted by a run that crashed before saving its state
        try:
            if host.archive_dir:
                archive = host.path(host.archive_dir)
                if store.archived(domain, action.selector, archive):
                    store.delete(domain, action.selector)  # archived by a run that crashed
                else:
                    store.archive(domain, action.selector, archive)
            else:
                store.delete(domain, action.selector)
        except (MailzoneError, OSError) as err:
            result.errors.append(f"{domain}: {err} (the next rotate retries)")
            if action.selector in old:
                decision.sels.append(old[action.selector])


def parse_now(text: str | None) -> datetime:
    """`--now`: an ISO 8601 time (UTC if no zone is given), or the current time."""
    if not text:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise MailzoneError(
            f"--now: '{text}' is not an ISO 8601 time such as 2026-11-25T06:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
