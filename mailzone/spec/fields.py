"""The docs' tables of fields, generated from the models: the spec's (`mailzone schema --format
markdown`) and the host config's (`host_field_table`)."""

from __future__ import annotations

from datetime import timedelta
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from mailzone.spec.duration import format_duration
from mailzone.spec.yamlfile import unwrap_model
from mailzone.spec.zone import ZoneSpec

Sections = list[tuple[type[BaseModel], str]]


def sections_of(model: type[BaseModel], prefix: str = "") -> Sections:
    """The model and every model nested in its fields, depth first in field order, each with
    the prefix its fields get (`hosts[].`, `dkim.import[].`): a new nested model shows up in
    the tables by itself."""
    out: Sections = [(model, prefix)]
    for name, field in model.model_fields.items():
        nested = unwrap_model(field.annotation)
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            many = "[]" if get_origin(_strip_none(field.annotation)) is list else ""
            out += sections_of(nested, f"{prefix}{field.alias or name}{many}.")
    return out


def _strip_none(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    return (
        args[0] if get_origin(annotation) in (Union, UnionType) and len(args) == 1 else annotation
    )


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


def field_table(sections: Sections | None = None) -> str:
    """A Markdown table: field, default, meaning (of the zone spec, unless `sections` is given)."""
    lines = ["| field | default | meaning |", "|---|---|---|"]
    for model, prefix in sections_of(ZoneSpec) if sections is None else sections:
        for name, field in model.model_fields.items():
            meaning = (field.description or "").replace("|", "/")
            lines.append(f"| `{prefix}{field.alias or name}` | {_default(field)} | {meaning} |")
    return "\n".join(lines)


def host_field_table() -> str:
    """The same table for the mail host's `host.yaml` (`mailzone.spec.host`)."""
    from mailzone.spec.host import HostConfig

    return field_table(sections_of(HostConfig))
