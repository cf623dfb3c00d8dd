"""`mailzone validate`: every spec, state and provider file, all errors at once, offline."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from mailzone.errors import MailzoneError, ProviderError
from mailzone.records.domain import merge_zone
from mailzone.repo.project import Domain, confine_outputs, load_domain, spec_files
from mailzone.repo.spec_checks import spec_warnings
from mailzone.repo.state import load_state
from mailzone.spec.yamlfile import display_path


def _lines(err: MailzoneError) -> list[str]:
    return err.details


# checks one provider file by name: (errors, warnings); raises MailzoneError if it cannot be read
ProviderCheck = Callable[[Path, str], tuple[list[str], list[str]]]


def validate_repository(root: Path, check_provider: ProviderCheck) -> tuple[list[str], list[str]]:
    """(errors, warnings), each a list of `file:line: field: message` lines. Provider files are
    checked by `check_provider` (octoDNS's side: `mailzone.octo.providers.check_provider_file`)."""
    errors: list[str] = []
    notes: list[str] = []
    domains: list[Domain] = []
    try:
        confine_outputs(root)
    except MailzoneError as err:  # every spec would say it again
        return _lines(err), notes
    for path in spec_files(root):
        try:
            domain = load_domain(path, root)
            _ = domain.records
        except MailzoneError as err:
            errors += _lines(err)
            continue
        domains.append(domain)
        notes += spec_warnings(domain.spec, domain.imported, domain.doc.where)
    known = {p.name.rsplit(".", 1)[0] for p in spec_files(root)}
    # where each used provider is named: its own error (no file) is shown there
    used: dict[str, str] = {}
    for domain in domains:
        used.setdefault(domain.spec.provider, domain.doc.where(("provider",)))
    state_dir = root / "state"
    for path in sorted(state_dir.glob("*.yaml")) if state_dir.is_dir() else []:
        name = path.name[: -len(".yaml")]
        if name in known:
            continue
        try:
            stale = load_state(root, name)
        except MailzoneError as err:
            errors += _lines(err)
            continue
        if stale.provider:  # plan and forget still reach its records through it
            used.setdefault(stale.provider, display_path(path))
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
    names = set(used)
    if (root / "providers").is_dir():
        names |= {p.stem for p in (root / "providers").glob("*.yaml")}
    for name in sorted(names):
        try:
            errors_, notes_ = check_provider(root, name)
        except MailzoneError as err:
            unplaced = isinstance(err, ProviderError) and not err.location  # it has no file
            errors += [f"{used[name]}: {err}"] if name in used and unplaced else _lines(err)
            continue
        errors += errors_
        # every file is checked, but a missing secret matters only where a spec needs the provider
        notes += notes_ if name in used else []
    return errors, notes
