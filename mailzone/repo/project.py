"""A mailzone repository: `zones/` (people), `state/` (mailzone), `providers/` (people)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from mailzone.errors import MailzoneError, SpecError
from mailzone.records.domain import DesiredRecord, expand_domain
from mailzone.records.report_auth import authorisations, report_destinations
from mailzone.repo.git import removed_specs
from mailzone.repo.shard import Shard
from mailzone.repo.spec_checks import check_spec
from mailzone.repo.state import STATE_DIR, load_state
from mailzone.spec.dkim_key import PublicKey
from mailzone.spec.state import DomainState
from mailzone.spec.types import idna_name
from mailzone.spec.yamlfile import YamlDoc, display_path, load_yaml, read_spec_text, validate
from mailzone.spec.zone import ZoneSpec
from mailzone.util.confine import confine

OUTPUT_DIRS = ("build/zones", "build/backups")  # the `local` target's zone files, backups


@dataclass
class Domain:
    """One mail domain: its spec, its state and where the spec came from."""

    spec: ZoneSpec
    state: DomainState
    doc: YamlDoc

    @property
    def name(self) -> str:
        """The mail domain."""
        return self.spec.domain

    @property
    def zone(self) -> str:
        """The zone holding it, without trailing dot."""
        return self.spec.zone_name

    # the spec's imported DKIM keys by selector, read once when the spec is loaded
    imported: dict[str, PublicKey] = field(default_factory=dict)
    # (sender domain, destination) of DMARC reports this domain receives (set by load_project)
    report_senders: list[tuple[str, str]] = field(default_factory=list)

    @cached_property
    def records(self) -> list[DesiredRecord]:
        """The records it wants (expanded once)."""
        try:
            own = expand_domain(self.spec, self.state, self.imported)
        except ValueError as err:
            raise SpecError(str(err), self.doc.where()) from None
        if not self.report_senders:
            return own
        return sorted([*own, *authorisations(self.spec, self.report_senders)])

    def drop_records(self) -> None:
        """Forget the expanded records once a plan has read them (~2 KB a domain)."""
        self.__dict__.pop("records", None)


@dataclass
class Project:
    """All domains of a repository, by name."""

    root: Path
    domains: dict[str, Domain] = field(default_factory=dict)
    # every spec's domain, by its file name: also those a `--shard` run did not load
    names: set[str] = field(default_factory=set)

    def select(self, names: Iterable[str] = (), shard: Shard | None = None) -> list[Domain]:
        """The named domains (all when none are named) whose zone is in `shard` (if given); an
        unknown name is an error."""
        wanted = [typed_domain(n) for n in names]
        if not wanted:
            chosen = [self.domains[n] for n in sorted(self.domains)]
            return [d for d in chosen if shard is None or shard.holds(d.zone)]
        missing = [n for n in wanted if n not in self.domains and n not in self.names]
        if missing:
            known = sorted(p.name.rsplit(".", 1)[0] for p in spec_files(self.root))
            raise MailzoneError(
                f"no spec for {', '.join(missing)} in {display_path(self.root / 'zones')} "
                f"(known: {', '.join(known) or 'none'})"
            )
        # a name not loaded is outside the shard (load_project with the shard skipped it)
        return [
            self.domains[n]
            for n in wanted
            if n in self.domains and (shard is None or shard.holds(self.domains[n].zone))
        ]


def typed_domain(name: str) -> str:
    """A domain as a user typed it, in the form specs are named by: lower case, no trailing
    dot, IDNA (`bücher.test` is `xn--bcher-kva.test`)."""
    try:
        return idna_name(name)
    except ValueError:
        return name.rstrip(".").lower()


def spec_files(root: Path) -> list[Path]:
    """`zones/*.yaml` (and `.yml`), sorted."""
    folder = root / "zones"
    if not folder.is_dir():
        return []
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_domain(path: Path, root: Path, text: str | None = None) -> Domain:
    """Load and check one spec file (its `text`, if already read) and the domain's state."""
    confine(root, path)
    if text is None:
        text = read_spec_text(path)
    doc = load_yaml(path, text)
    spec = validate(ZoneSpec, doc)
    imported = check_spec(spec, doc, root)
    doc.keep_text_only(text)  # validated: only errors need it now, for their lines
    stem = path.name.rsplit(".", 1)[0].rstrip(".")
    with contextlib.suppress(ValueError):
        stem = idna_name(stem)
    if spec.domain != stem:
        raise SpecError(
            f"domain: '{spec.domain}' does not match the file name (expected zones/{spec.domain}.yaml)",
            doc.where(("domain",)),
        )
    state = load_state(root, spec.domain)
    _check_state_against_spec(spec, state, doc, imported)
    return Domain(spec, state, doc, imported)


def removed_domains(root: Path, known: set[str]) -> dict[str, Domain]:
    """Domains whose spec git knows but the work tree no longer has (`git.removed_specs`), as
    their last reviewed version describes them; a version that no longer loads is skipped."""
    present = {p.name for p in spec_files(root)}
    out: dict[str, Domain] = {}
    for name, text in removed_specs(root, present).items():
        path = root / "zones" / name
        try:
            doc = load_yaml(path, text)
            spec = validate(ZoneSpec, doc)
            imported = check_spec(spec, doc, root)
        except MailzoneError:
            continue
        if spec.domain not in known and typed_domain(name.rsplit(".", 1)[0]) == spec.domain:
            out[spec.domain] = Domain(spec, load_state(root, spec.domain), doc, imported)
    return out


def _check_state_against_spec(
    spec: ZoneSpec, state: DomainState, doc: YamlDoc, imported: dict[str, PublicKey]
) -> None:
    generated = {s.selector: s.fingerprint for s in state.selectors}
    for i, item in enumerate(spec.dkim.imports):
        if item.selector not in generated:
            continue
        # `keys import` took it over: the same key in both places is fine (the state wins)
        if imported[item.selector].fingerprint != generated[item.selector]:
            raise SpecError(
                f"dkim.import[{i}].selector: '{item.selector}' is also in state/{spec.domain}.yaml "
                "with another key; a selector is either imported or managed by mailzone",
                doc.where(("dkim", "import", i, "selector")),
            )


def load_project(
    root: Path,
    names: Iterable[str] = (),
    shard: Shard | None = None,
    on_loaded: Callable[[Domain], None] | None = None,
) -> Project:
    """Load every spec (or only the named domains' specs, or only what `shard` needs, see
    `_shard_files`); the first bad file raises. `on_loaded` is called with each domain as it is
    loaded (to start work on it while the rest load)."""
    confine_outputs(root)
    project = Project(root)
    wanted = {typed_domain(n) for n in names}
    files = [p for p in spec_files(root) if not wanted or _stem(p) in wanted]
    project.names = {_stem(p) for p in files}
    chosen = _shard_files(root, files, shard) if shard else dict.fromkeys(files)
    for path, loaded in chosen.items():
        domain = loaded if isinstance(loaded, Domain) else load_domain(path, root, loaded)
        if domain.name in project.domains:
            raise SpecError(f"domain '{domain.name}' is defined twice", domain.doc.where())
        project.domains[domain.name] = domain
        if on_loaded is not None:
            on_loaded(domain)
    _link_report_destinations(project)
    return project


def _stem(path: Path) -> str:
    """The domain a spec file is named for, in the form specs are named by."""
    return typed_domain(path.name.rsplit(".", 1)[0])


_ADDRESS_DOMAIN = re.compile(r"@([^\s\"',\]}!]+)")


def _shard_files(root: Path, files: list[Path], shard: Shard) -> dict[Path, str | Domain]:
    """The spec files a `--shard` run must load (their text, or the domain when it was loaded
    here already); the others are skipped unparsed.

    A spec lives in the zone of its own name unless it has a `zone:` key, so a file whose text
    never says `zone` (nor has a backslash) is in the shard of its file name; one that does is
    loaded to find out.
    A spec outside the shard is loaded too when an address in it ends in a domain of the shard:
    it may send DMARC reports there, which the shard's zone authorises."""
    texts: dict[Path, str] = {}
    chosen: dict[Path, str | Domain] = {}
    mine: set[str] = set()  # the shard's domains
    for path in files:
        confine(root, path)
        text = texts[path] = read_spec_text(path)
        if "zone" in text.lower() or "\\" in text:  # (a YAML escape could spell it)
            domain = chosen[path] = load_domain(path, root, text)
            if shard.holds(domain.zone):
                mine.add(domain.name)
        elif shard.holds(_stem(path)):
            chosen[path] = text
            mine.add(_stem(path))
    for path in files:
        if path in chosen:
            continue
        own = _stem(path)
        for dest in _ADDRESS_DOMAIN.findall(texts[path]):
            dest = dest.rstrip(".").lower()
            labels = dest.split(".")
            if dest == own or dest.endswith("." + own):
                continue  # its own reports: no authorisation
            if any(".".join(labels[i:]) in mine for i in range(len(labels))):
                chosen[path] = texts[path]
                break
    return {p: chosen[p] for p in files if p in chosen}


def confine_outputs(root: Path) -> None:
    """SpecError before anything is written when `state/`, `build/zones/` or `build/backups/`
    leads outside the repository (a committed symlink named `build` is not ignored by git)."""
    for folder in (STATE_DIR, *OUTPUT_DIRS):
        confine(root, root / folder, writes=True)


def _link_report_destinations(project: Project) -> None:
    """Give each domain the specs that send DMARC reports to it (for their authorisation)."""
    for domain in project.domains.values():
        for dest in report_destinations(domain.spec):
            labels = dest.split(".")
            for i in range(len(labels) - 1):
                name = ".".join(labels[i:])
                if name in project.names or name in project.domains:  # the most specific
                    receiver = project.domains.get(name)  # None: not loaded (another shard)
                    if receiver is not None:
                        receiver.report_senders.append((domain.name, dest))
                    break
