"""DKIM key records: one TXT per selector at `<selector>._domainkey.<domain>`."""

from __future__ import annotations

from mailzone.records.model import DesiredRecord, DomainInput, relative_name
from mailzone.spec.dkim_key import revoked_txt_value
from mailzone.spec.state import PUBLISHED_PHASES


def expand_dkim(given: DomainInput) -> list[DesiredRecord]:
    """Imported selectors as given; state selectors by phase (revoked: an empty `p=`)."""
    spec, state, imported = given.spec, given.state, given.imported
    values: dict[str, tuple[str, tuple[str | int, ...]]] = {}  # selector: (value, origin)
    for i, item in enumerate(spec.dkim.imports):
        values[item.selector] = (imported[item.selector].txt_value(), ("dkim", "import", i))
    for sel in state.selectors:
        if sel.phase in PUBLISHED_PHASES:
            values[sel.selector] = (sel.key().txt_value(), ("dkim",))
        elif sel.phase == "revoked":
            values[sel.selector] = (revoked_txt_value(sel.algorithm), ("dkim",))
    zone = spec.zone_name
    return [
        DesiredRecord(
            relative_name(f"{selector}._domainkey.{spec.domain}", zone),
            "TXT",
            spec.ttl,
            (value,),
            origin=origin,
        )
        for selector, (value, origin) in sorted(values.items())
    ]
