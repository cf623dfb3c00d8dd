"""Run every check family for many domains at once: threads share one DNS cache, so a question
that several domains need (a shared mail host's PTR, A and blocklist entries) goes out once.
A domain's drift check (its zone's nameservers) runs beside its other families (the resolver),
so a domain whose resolver and nameservers are all down waits for one timeout (``Dns`` then
knows them down), not one per family."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from queue import Empty
from typing import Any

from mailzone.check.env import CheckEnv
from mailzone.check.families import FAMILIES, Family
from mailzone.check.model import DomainReport, Finding
from mailzone.errors import MailzoneError
from mailzone.octo.authority import Authorities
from mailzone.repo.project import Domain


def check_domain(domain: Domain, env: CheckEnv, pool: Executor | None = None) -> DomainReport:
    """Every wanted family for one domain, the findings in registry order; a family that cannot
    run is one failing finding.

    With a `pool`, and until the resolver has answered once in this run, the families that ask
    other servers (`apart`) run on it beside the rest: a domain whose resolver and nameservers
    are all down waits one timeout, not two (`Dns` then knows them down). Once the resolver
    answers, a dead nameserver costs at most that one timeout too, so the families run here one
    after another, which takes less CPU than handing work between threads."""
    wanted = [family for family in FAMILIES if env.wants(family.name)]

    def run(family: Family) -> list[Finding]:
        try:
            return family.load()(domain, env)
        except MailzoneError as err:
            return [Finding(family.name, domain.name, "fail", str(err))]

    beside = {}
    if pool is not None and not env.dns.resolver_answered():
        beside = {f.name: pool.submit(run, f) for f in wanted if f.apart}
    found = {f.name: run(f) for f in wanted if f.name not in beside}
    found.update((name, future.result()) for name, future in beside.items())
    report = DomainReport(domain.name)
    for family in wanted:
        report.findings += found[family.name]
    return report


def _family_pool(jobs: int) -> ThreadPoolExecutor:
    """Threads for the `apart` families of `jobs` domains checked at once (started as needed)."""
    return ThreadPoolExecutor(max_workers=max(1, jobs) * sum(f.apart for f in FAMILIES))


def check_all(
    domains: Sequence[Domain],
    env: CheckEnv,
    jobs: int = 8,
    progress: Callable[[DomainReport], None] | None = None,
    processes: int = 1,
) -> list[DomainReport]:
    """Reports in the order of `domains`; `progress` is called as each domain finishes.

    Answering DNS costs Python time per query, so one process tops out at a few thousand
    queries a second: `processes` > 1 splits the domains into that many groups, keeping domains
    that share a sending host together so each shared question is still asked once."""
    for family in FAMILIES:  # import the checks once, before threads or forked workers need them
        if env.wants(family.name):
            family.load()
    if processes > 1 and len(domains) >= 2 * processes:
        return _in_processes(domains, env, jobs, progress, processes)
    return _in_threads(domains, env, jobs, progress)


AHEAD = 32  # domains whose questions are asked at once (`ask_ahead`)
WAITING = 0.05  # seconds a batch may wait on the network before its rest goes to threads


def _in_threads(
    domains: Sequence[Domain],
    env: CheckEnv,
    jobs: int,
    progress: Callable[[DomainReport], None] | None,
) -> list[DomainReport]:
    """Domains in batches of `AHEAD`, each batch's questions asked ahead at once. The checks
    then mostly read answers, which threads cannot speed up (the GIL) and handing work between
    them costs CPU: so they run one after another, until a batch waits on the network (slow
    servers, SMTP probes) for over `WAITING` seconds and twice its CPU time; from then on
    `jobs` threads check the domains, so those waits overlap."""
    with _family_pool(jobs) as families:

        def one(domain: Domain) -> DomainReport:
            report = check_domain(domain, env, families)
            if progress is not None:
                progress(report)
            return report

        if len(domains) <= 1:
            return [one(d) for d in domains]
        reports = [one(domains[0])]  # alone: it finds out which servers answer
        pool: ThreadPoolExecutor | None = None
        try:
            for start in range(1, len(domains), AHEAD):
                part = domains[start : start + AHEAD]
                ask_ahead(part, env)
                if pool is not None:
                    reports += pool.map(one, part)
                    continue
                wall, cpu = time.perf_counter(), time.thread_time()
                for i, domain in enumerate(part):
                    reports.append(one(domain))
                    busy = time.thread_time() - cpu
                    waited = time.perf_counter() - wall - busy
                    if jobs > 1 and waited > WAITING and waited > 2 * busy:
                        pool = ThreadPoolExecutor(max_workers=jobs)
                        reports += pool.map(one, part[i + 1 :])
                        break
        finally:
            if pool is not None:
                pool.shutdown()
        return reports


def ask_ahead(domains: Sequence[Domain], env: CheckEnv) -> int:
    """Ask the questions the wanted families will ask of `domains`, at once (`Dns.prefetch`):
    how many were answered. The checks then find the answers in the run's cache."""
    resolver = env.dns.resolver
    questions: list[tuple[tuple[str, int], str, str]] = []
    for family in FAMILIES:
        ahead = family.load_ahead() if env.wants(family.name) else None
        if ahead is None:
            continue
        for domain in domains:
            try:
                asks = ahead(domain, env)
            except MailzoneError:
                continue
            for server, name, rdtype in asks:
                server = server or resolver
                if server is not None:
                    questions.append((server, name, rdtype))
    return env.dns.prefetch(questions)


def partition(domains: Sequence[Domain], parts: int) -> list[list[int]]:
    """Indexes of `domains` in `parts` groups of about equal size; domains sharing a sending
    address or mail host land in the same group."""
    parent = list(range(len(domains)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, domain in enumerate(domains):
        for host in domain.spec.hosts:
            for key in [host.name if host.absolute else "", *host.ipv4, *host.ipv6]:
                if not key:
                    continue
                if key in owner:
                    parent[root(i)] = root(owner[key])
                else:
                    owner[key] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(domains)):
        groups.setdefault(root(i), []).append(i)
    bins: list[list[int]] = [[] for _ in range(parts)]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(bins, key=len).extend(group)
    return [sorted(b) for b in bins if b]


_WORK: tuple[Sequence[Domain], CheckEnv, int, Any] | None = None  # inherited by forked workers


def _worker(indexes: list[int]) -> list[tuple[int, DomainReport]]:
    assert _WORK is not None
    domains, env, jobs, queue = _WORK
    env.dns = env.dns.fresh(keep_answers=True)  # the parent's answers, not its locks
    env.authorities.dns = env.dns
    picked = [domains[i] for i in indexes]

    def done(report: DomainReport) -> None:
        if queue is not None:
            queue.put(report.domain)

    reports = _in_threads(picked, env, jobs, done)
    return list(zip(indexes, reports, strict=True))


def _in_processes(
    domains: Sequence[Domain],
    env: CheckEnv,
    jobs: int,
    progress: Callable[[DomainReport], None] | None,
    processes: int,
) -> list[DomainReport]:
    global _WORK
    # A question that every domain asks (a blocklist's RFC 5782 test entry) would go out once
    # per worker: the parent checks the first domain's DNS first, and the workers start with
    # its answers (its own Authorities: the workers' sources use the workers' Dns). No
    # SMTP/HTTPS probe or MTA-STS policy fetch here (smtp, dane_smtp, https, mta_sts): the
    # worker makes those.
    first = Authorities(env.root, env.host, env.dns)
    with _family_pool(1) as families:
        skip = env.skip | {"smtp", "dane_smtp", "https", "mta_sts"}
        first_env = replace(env, skip=skip, authorities=first)
        check_domain(domains[0], first_env, families)
    context = multiprocessing.get_context("fork")
    queue = context.Queue() if progress is not None else None
    _WORK = (domains, env, jobs, queue)
    try:
        with context.Pool(processes) as pool:
            pending = pool.map_async(_worker, partition(domains, processes))
            while queue is not None and progress is not None and not pending.ready():
                try:
                    name = queue.get(timeout=0.1)
                except Empty:
                    continue
                progress(DomainReport(name))  # the findings arrive with the results
            results = pending.get()
    finally:
        _WORK = None
    out: dict[int, DomainReport] = {}
    for part in results:
        out.update(part)
    return [out[i] for i in range(len(domains))]
