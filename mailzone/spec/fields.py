"""The docs' tables of fields, generated from the models: the spec's (`mailzone schema --format
markdown`) and the host config's (`host_field_table`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from mailzone.spec.duration import format_duration
from mailzone.spec.zone import Apex, Dkim, DkimImport, Dmarc, Host, Spf, ZoneSpec

SECTIONS: list[tuple[type[BaseModel], str]] = [
    (ZoneSpec, ""),
    (Host, "hosts[]."),
    (Apex, "apex."),
    (Spf, "spf."),
    (Dkim, "dkim."),
    (DkimImport, "dkim.import[]."),
    (Dmarc, "dmarc."),
]


def _default(field: object) -> str:
    default = getattr(field, "default", PydanticUndefined)
    factory = getattr(field, "default_factory", None)
    if factory is not None:
        value = factory()
        return "—" if isinstance(value, BaseModel) else f"`{value}`"
    if default is PydanticUndefined:
        return "required"
    if isinstance(default, timedelta):
        return f"`{format_duration(default)}`"
    return "—" if default is None else f"`{default}`"


def field_table(sections: list[tuple[type[BaseModel], str]] | None = None) -> str:
    """A Markdown table: field, default, meaning (of the zone spec, unless `sections` is given)."""
    lines = ["| field | default | meaning |", "|---|---|---|"]
    for model, prefix in SECTIONS if sections is None else sections:
        for name, field in model.model_fields.items():
            meaning = (field.description or "").replace("|", "/")
            lines.append(f"| `{prefix}{field.alias or name}` | {_default(field)} | {meaning} |")
    return "\n".join(lines)


def host_field_table() -> str:
    """The same table for the mail host's `host.yaml` (`mailzone.spec.host`)."""
    from mailzone.spec.host import HostConfig, Mta

    return field_table([(HostConfig, ""), (Mta, "mta.")])
