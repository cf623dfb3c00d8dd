"""What a spec needs checked beyond its models: SPF terms and the 10-lookup limit (through
`mailzone.spf`), and the imported DKIM keys, read here once (files relative to the spec).

The models stay pure; these checks know the file and line of every field they name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mailzone.records.spf import spf_value
from mailzone.spec.dkim_key import GOOD_RSA_BITS, MIN_RSA_BITS, PublicKey, parse_public_key
from mailzone.spec.yamlfile import Loc, YamlDoc, spec_error
from mailzone.spec.zone import DkimImport, ZoneSpec
from mailzone.spf.terms import MAX_LOOKUPS, count_lookups, parse_term


def check_spec(spec: ZoneSpec, doc: YamlDoc) -> dict[str, PublicKey]:
    """Raise SpecError listing every SPF and imported-key problem; return the imported keys
    by selector."""
    problems = _spf_problems(spec, doc)
    keys: dict[str, PublicKey] = {}
    for i, item in enumerate(spec.dkim.imports):
        try:
            keys[item.selector] = imported_key(item, doc.path.parent)
        except ValueError as err:
            problems.append(f"{doc.where(('dkim', 'import', i))}: {err}")
    if problems:
        raise spec_error(problems)
    return keys


def _spf_problems(spec: ZoneSpec, doc: YamlDoc) -> list[str]:
    problems: list[str] = []
    for i, term in enumerate(spec.spf.terms):
        loc: Loc = ("spf", "terms", i)
        try:
            parsed = parse_term(term)
        except ValueError as err:
            problems.append(f"{doc.where(loc)}: spf.terms: {err}")
            continue
        if parsed.name == "all" and not parsed.modifier:
            problems.append(
                f"{doc.where(loc)}: spf.terms: '{term}': set spf.all instead of an 'all' term"
            )
        elif parsed.modifier and parsed.name == "redirect":
            problems.append(
                f"{doc.where(loc)}: spf.terms: '{term}': redirect= would ignore this record's own "
                "terms; use include:"
            )
    if problems:
        return problems
    lookups = count_lookups(spf_value(spec))
    if lookups > MAX_LOOKUPS:
        problems.append(
            f"{doc.where(('spf',))}: spf: {lookups} DNS-lookup terms, more than the {MAX_LOOKUPS} "
            "RFC 7208 allows (receivers answer permerror); replace includes by ip4:/ip6: terms"
        )
    return problems


def imported_key(item: DkimImport, base_dir: Path | None) -> PublicKey:
    """The public key of an imported selector; ValueError names the selector."""
    if item.public_key is not None:
        text = item.public_key
    else:
        assert item.public_key_file is not None
        path = Path(item.public_key_file)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise ValueError(
                f"selector '{item.selector}': cannot read {item.public_key_file}: {reason}"
            ) from None
    try:
        key = parse_public_key(text)
    except ValueError as err:
        raise ValueError(f"selector '{item.selector}': {err}") from None
    if key.algorithm == "rsa" and key.bits < MIN_RSA_BITS:
        raise ValueError(
            f"selector '{item.selector}': RSA key of {key.bits} bits; receivers reject keys under "
            f"{MIN_RSA_BITS} bits (RFC 8301)"
        )
    return key


def spec_warnings(
    spec: ZoneSpec, imported: dict[str, PublicKey], where: Callable[[Loc], str]
) -> list[str]:
    """Things that are valid but deserve a look; `where(loc)` gives `file:line` for a field."""
    out: list[str] = []
    for i, item in enumerate(spec.dkim.imports):
        key = imported[item.selector]
        if key.algorithm == "rsa" and key.bits < GOOD_RSA_BITS:
            out.append(
                f"{where(('dkim', 'import', i))}: dkim.import[{i}]: selector '{item.selector}' is RSA-{key.bits}; "
                f"accepted for an existing selector, but rotate to {GOOD_RSA_BITS} bits"
            )
    if spec.dmarc is None:
        out.append(
            f"{where(())}: dmarc: no DMARC policy; receivers such as Gmail expect one from bulk senders"
        )
        return out
    for name, tag in (("pct", "pct"), ("report_format", "rf"), ("report_interval", "ri")):
        if getattr(spec.dmarc, name) is not None:
            out.append(
                f"{where(('dmarc', name))}: dmarc.{name}: {tag}= is removed by DMARCbis; receivers may ignore it"
            )
    return out
