"""mailzone as a plain octoDNS source: mail domains in an existing octoDNS config.

    providers:
      mail:
        class: mailzone.octo.source.MailzoneSource
        root: .            # the directory holding zones/ and state/
    zones:
      example.org.:
        sources: [mail]
        processors: [mailzone]   # mailzone.octo.processor.MailzoneProcessor: ownership + guards
        targets: [bind]

Without the processor octoDNS would delete every record mailzone did not write."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from octodns.source.base import BaseSource

from mailzone.octo.desired import fill_zone, registry_notes
from mailzone.records.families import RECORD_TYPES
from mailzone.repo.project import Project, load_project


class MailzoneSource(BaseSource):
    """Populates each zone with the records of the mail domains it holds."""

    SUPPORTS_GEO = False
    SUPPORTS_DYNAMIC = False
    SUPPORTS = RECORD_TYPES

    def __init__(self, id: str, root: str = ".", *args: Any, **kwargs: Any) -> None:
        self.log = logging.getLogger(f"MailzoneSource[{id}]")
        super().__init__(id, *args, **kwargs)
        self.root = Path(root)
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        """The repository's specs, loaded once."""
        if self._project is None:
            self._project = load_project(self.root)
        return self._project

    def list_zones(self) -> Iterator[str]:
        """Zones holding at least one mail domain."""
        yield from sorted({f"{d.zone}." for d in self.project.domains.values()})

    def populate(self, zone: Any, target: bool = False, lenient: bool = False) -> bool:
        """Add the mail records of the zone's domains."""
        domains = [d for d in self.project.select() if f"{d.zone}." == zone.name]
        fill_zone(
            zone,
            [(d.name, d.records) for d in domains],
            ttl=min((d.spec.ttl for d in domains), default=3600),
            source=self,
            lenient=lenient,
            notes={d.name: registry_notes(d) for d in domains},
        )
        self.log.info("populate: %s: %d mail domains", zone.decoded_name, len(domains))
        return bool(domains)
