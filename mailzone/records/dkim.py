"""DKIM key records: one TXT per selector at `<selector>._domainkey.<domain>`."""

from __future__ import annotations

from collections.abc import Mapping

from mailzone.records.model import DesiredRecord, relative_name
from mailzone.spec.dkim_key import PublicKey
from mailzone.spec.state import PUBLISHED_PHASES, DomainState
from mailzone.spec.zone import ZoneSpec


def expand_dkim(
    spec: ZoneSpec, state: DomainState, imported: Mapping[str, PublicKey]
) -> list[DesiredRecord]:
    """Imported selectors as given; state selectors by phase (revoked: an empty `p=`)."""
    values: dict[str, str] = {}
    for item in spec.dkim.imports:
        values[item.selector] = imported[item.selector].txt_value()
    for sel in state.selectors:
        if sel.phase in PUBLISHED_PHASES:
            values[sel.selector] = sel.key().txt_value()
        elif sel.phase == "revoked":
            values[sel.selector] = f"v=DKIM1; k={sel.algorithm}; p="
    zone = spec.zone_name
    return [
        DesiredRecord(
            relative_name(f"{selector}._domainkey.{spec.domain}", zone),
            "TXT",
            spec.ttl,
            (v,),
        )
        for selector, v in sorted(values.items())
    ]
