"""MTA-STS (RFC 8461) as DNS shows it: exactly one `v=STSv1` TXT at `_mta-sts.<domain>`, a
valid id equal to the spec's policy id, and an `mta-sts.<domain>` host that resolves to an
address (through its CNAME, if it is one).

Domains without `mta_sts:` in the spec get no finding."""

from __future__ import annotations

import re

from mailzone.check.env import CheckEnv, lookup_failed
from mailzone.check.model import Finding
from mailzone.dns.query import txt_values
from mailzone.records.mta_sts import policy_id
from mailzone.repo.project import Domain

_VERSION = re.compile(r"\s*v\s*=\s*STSv1\s*(;|$)")
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
APPLY = "run `mailzone apply`"


def check_mta_sts(domain: Domain, env: CheckEnv) -> list[Finding]:
    """The `_mta-sts` record and the policy host's addresses."""
    if domain.spec.mta_sts is None:
        return []
    return [_record(domain, env), _host(domain, env)]


def _record(domain: Domain, env: CheckEnv) -> Finding:
    name = f"_mta-sts.{domain.name}"
    answer = env.txt(name)
    if answer.error is not None:
        return lookup_failed("mta_sts", name, f"TXT {name}", answer)
    records = [v for v in txt_values(answer) if _VERSION.match(v)]
    if len(records) != 1:
        what = "no v=STSv1 record" if not records else f"{len(records)} v=STSv1 records"
        return Finding(
            "mta_sts",
            name,
            "fail",
            f"{what} at {name}: senders ignore the policy",
            f"{APPLY} (it publishes exactly one)",
        )
    tags = dict(
        (key.strip(), value.strip())
        for key, _, value in (p.partition("=") for p in records[0].split(";") if p.strip())
    )
    served = tags.get("id", "")
    if not _ID.fullmatch(served):
        return Finding(
            "mta_sts",
            name,
            "fail",
            f"{name}: id={served!r} is not 1 to 32 letters and digits",
            APPLY,
        )
    wanted = policy_id(domain.spec)
    if served != wanted:
        return Finding(
            "mta_sts",
            name,
            "fail",
            f"{name} serves id={served}, the spec's policy has id={wanted}: senders keep "
            "the policy they cached",
            f"{APPLY}, and `mailzone mta-sts write` for the web server",
        )
    return Finding("mta_sts", name, "pass", f"id={served} matches the spec's policy")


def _host(domain: Domain, env: CheckEnv) -> Finding:
    name = f"mta-sts.{domain.name}"
    addresses = []
    for rdtype in ("A", "AAAA"):
        answer = env.resolve(name, rdtype)
        if answer.error is not None:
            return lookup_failed("mta_sts", name, f"{rdtype} {name}", answer)
        addresses += answer.records
    if not addresses:
        return Finding(
            "mta_sts",
            name,
            "fail",
            f"{name} has no address: senders cannot fetch the policy",
            f"{APPLY}; with mta_sts.host.cname, give its target an address",
        )
    return Finding("mta_sts", name, "pass", f"resolves to {', '.join(sorted(addresses))}")
