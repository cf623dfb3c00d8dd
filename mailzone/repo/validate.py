"""`mailzone validate`: every spec, state and provider file, all errors at once, offline."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from mailzone.errors import MailzoneError
from mailzone.octo import providers as provider_files
from mailzone.records.domain import merge_zone
from mailzone.repo.project import Domain, load_domain, spec_files
from mailzone.repo.state import load_state
from mailzone.spec.zone import spec_warnings


def _lines(err: MailzoneError) -> list[str]:
    return list(getattr(err, "details", None) or [str(err)])


def validate_repository(root: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings), each a list of `file:line: field: message` lines."""
    errors: list[str] = []
    notes: list[str] = []
    domains: list[Domain] = []
    for path in spec_files(root):
        try:
            domain = load_domain(path, root)
            _ = domain.records
        except MailzoneError as err:
            errors += _lines(err)
            continue
        domains.append(domain)
        notes += spec_warnings(domain.spec, domain.doc.where, path.parent)
    known = {p.name.rsplit(".", 1)[0] for p in spec_files(root)}
    state_dir = root / "state"
    for path in sorted(state_dir.glob("*.yaml")) if state_dir.is_dir() else []:
        name = path.name[: -len(".yaml")]
        if name in known:
            continue
        try:
            load_state(root, name)
        except MailzoneError as err:
            errors += _lines(err)
            continue
        if not (root / "zones" / f"{name}.yaml").exists():
            notes.append(f"{path}: no zones/{name}.yaml for this state")
    by_zone: dict[str, list[Domain]] = defaultdict(list)
    for domain in domains:
        by_zone[domain.zone].append(domain)
    for members in by_zone.values():
        try:
            merge_zone([(d.name, d.records) for d in members])
        except MailzoneError as err:
            errors += _lines(err)
    names = {d.spec.provider for d in domains}
    if (root / "providers").is_dir():
        names |= {p.stem for p in (root / "providers").glob("*.yaml")}
    for name in sorted(names):
        try:
            errors_, notes_ = _check_provider(root, name)
        except MailzoneError as err:
            errors += _lines(err)
            continue
        errors += errors_
        notes += notes_
    return errors, notes


def _check_provider(root: Path, name: str) -> tuple[list[str], list[str]]:
    """Load the file and import the class; missing secrets are only noted (CI may lack them)."""
    defn = provider_files.load_provider_def(root, name)
    cls = provider_files.provider_class(defn)
    errors = [str(e) for e in provider_files.unknown_options(defn, cls)]
    notes: list[str] = []
    for key, value in defn.options.items():
        if isinstance(value, str) and value.startswith("env/"):
            var = value[4:].partition("/")[0]
            if var not in os.environ and "/" not in value[4:]:
                notes.append(
                    f"{defn.where(key)}: {key}: environment variable {var} is not set here"
                )
    return errors, notes
