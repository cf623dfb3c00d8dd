"""The MTA-STS policy files a web server serves: `DIR/<domain>/.well-known/mta-sts.txt`."""

from __future__ import annotations

from pathlib import Path

from mailzone.errors import MailzoneError
from mailzone.records.mta_sts import POLICY_PATH, policy_text
from mailzone.repo.project import Domain
from mailzone.util.confine import is_inside
from mailzone.util.files import write_atomic


def write_policies(domains: list[Domain], out_dir: Path, named: bool) -> list[Path]:
    """Write the policy of every domain with `mta_sts` (each atomically); the paths written.
    `named`: the user named the domains, so one without `mta_sts` is an error. Nothing is
    written when a path would lead outside `out_dir` (a symlink) or no domain has a policy."""
    chosen = [d for d in domains if d.spec.mta_sts is not None]
    if named and len(chosen) < len(domains):
        bare = ", ".join(d.name for d in domains if d.spec.mta_sts is None)
        raise MailzoneError(f"{bare}: the spec has no mta_sts, so there is no policy to write")
    if not chosen:
        raise MailzoneError("no spec has mta_sts: there is no policy to write")
    paths = {d.name: out_dir / d.name / POLICY_PATH for d in chosen}
    for path in paths.values():
        if not is_inside(path, out_dir):
            raise MailzoneError(f"{path} leads outside {out_dir} (a symlink); nothing written")
    for domain in chosen:
        write_atomic(paths[domain.name], policy_text(domain.spec))
    return list(paths.values())
