"""octoDNS's own validators as an outside oracle on the zones mailzone generates.

`octodns_findings(zone)` runs every zone-level validator octoDNS 1.22 ships (its `mail`
validator as `MailZoneValidator` in mode auto with `min_mx: 1`: one MX host is legitimate for a
self-hoster) and every record- and value-level validator it has for the types in the zone (all
sets: legacy, strict and best-practice), without touching octoDNS's global registries (which
only a manager config turns on)."""

from __future__ import annotations

from pathlib import Path

from octodns.record import Record
from octodns.zone import Zone
from octodns.zone.mail import MailZoneValidator

from mailzone.octo.source import MailzoneSource

MAIL = MailZoneValidator("mail", mode="auto", min_mx=1)


def generated_zone(root: Path, name: str) -> Zone:
    """The zone `name` as mailzone's octoDNS source builds it from the repository at `root`."""
    zone = Zone(f"{name}.", [])
    MailzoneSource("oracle", root=str(root)).populate(zone)
    return zone


def octodns_findings(zone: Zone) -> list[str]:
    """What octoDNS's validators say about `zone`, one line each (`name TYPE: reason, via: id`);
    empty when they all pass."""
    zone_validators = [MAIL if v.id == "mail" else v for v in Zone.available_zone_validators()]
    findings = [f"{zone.name}: {r.reason}, via: {r.validator_id}" for v in zone_validators
                for r in v.validate(zone)]  # fmt: skip
    available = Record.available_validators()
    for record in sorted(zone.records, key=lambda r: (r.name, r._type)):
        # the values as a config would give them (MX and TLSA as field mappings: `record.data`
        # renders TLSA as text, which its validators skip); a multi-value type always a list
        values = list(record.values) if hasattr(record, "values") else record.value
        data = {"type": record._type, "ttl": record.ttl, "values": values}
        reasons = []
        for key in ("*", record._type):
            for validator in available["record"].get(key, []):
                if not validator.id.startswith("_"):  # bridges: the value validators below
                    reasons += validator.validate(type(record), record.name, record.fqdn, data, {})
            for value_validator in available["value"].get(key, []):
                reasons += value_validator.validate(record._value_type, values, record._type)
        findings += [f"{record.fqdn} {record._type}: {r.reason}, via: {r.validator_id}"
                     for r in reasons]  # fmt: skip
    return findings
