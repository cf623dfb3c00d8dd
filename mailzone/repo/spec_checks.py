"""What a spec needs checked beyond its models: SPF terms and the 10-lookup limit (through
`mailzone.spf`), the imported DKIM keys, read here once (files relative to the spec), and the
size of every TXT record the spec generates.

The models stay pure; these checks know the file and line of every field they name."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from mailzone.errors import SpecError
from mailzone.records.domain import expand_domain
from mailzone.records.mta_sts import uncovered_mx
from mailzone.records.spf import spf_value
from mailzone.spec.dkim_key import GOOD_RSA_BITS, MIN_RSA_BITS, PublicKey, parse_public_key
from mailzone.spec.host import default_key_dir
from mailzone.spec.state import DomainState
from mailzone.spec.yamlfile import Loc, YamlDoc, field_path, spec_error
from mailzone.spec.zone import DkimImport, ZoneSpec
from mailzone.spf.terms import MAX_LOOKUPS, count_lookups, parse_term
from mailzone.util.confine import is_inside, read_regular

# The most TXT data (strings and their length bytes) one generated record may carry. The hard
# limits are 65,535 octets of RDATA and of a whole DNS message over TCP, but a dynamic update
# carries the old and the new value in one message, AXFR and answers carry other records
# beside it, and providers cap lower (Route 53: 4,000 characters per TXT value). 4,000
# octets stays far inside all of them; an SPF record that long is already past what many
# receivers will fetch (see UDP_ANSWER).
MAX_TXT_OCTETS = 4000
# RFC 7208 section 3.4: an SPF answer SHOULD fit a 512-octet UDP DNS message.
UDP_ANSWER = 512


def txt_octets(value: str) -> int:
    """The TXT RDATA length of a value split into 255-octet strings, each with a length byte."""
    size = len(value.encode("utf-8"))
    return size + max(1, -(-size // 255))


def spf_answer_octets(domain: str, value: str) -> int:
    """The size of a UDP answer carrying just this TXT record: header, question, one RR."""
    qname = len(domain.rstrip(".").encode("utf-8")) + 2  # a length byte per label, the root
    return 12 + qname + 4 + 2 + 10 + txt_octets(value)  # the answer's owner is a pointer


def check_spec(spec: ZoneSpec, doc: YamlDoc, root: Path) -> dict[str, PublicKey]:
    """Raise SpecError listing every SPF, imported-key and TXT-size problem; return the imported keys
    by selector. A `public_key_file` must lie in `root` or the default key directory."""
    problems = _spf_problems(spec, doc) + _mta_sts_problems(spec, doc) + _dane_problems(spec, doc)
    keys: dict[str, PublicKey] = {}
    for i, item in enumerate(spec.dkim.imports):
        loc: Loc = ("dkim", "import", i)
        try:
            keys[item.selector] = imported_key(item, doc.path.parent, (root, default_key_dir()))
        except KeyFileError as err:
            problems.append(f"{doc.where((*loc, 'public_key_file'))}: {field_path(loc)}.{err}")
        except ValueError as err:
            problems.append(f"{doc.where(loc)}: {err}")
    if len(keys) == len(spec.dkim.imports):  # the expansion needs every imported key
        problems += _size_problems(spec, doc, keys)
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


def _mta_sts_problems(spec: ZoneSpec, doc: YamlDoc) -> list[str]:
    """`enforce` needs TLS-RPT (failures get reported) and an `mx:` line for every MX host."""
    if spec.mta_sts is None or spec.mta_sts.mode != "enforce":
        return []
    problems = []
    if getattr(spec, "tls_rpt", None) is None:  # the TLS-RPT field lands with issue 13's part 2
        problems.append(
            f"{doc.where(('mta_sts', 'mode'))}: mta_sts.mode: enforce needs tls_rpt (reports of "
            "failed deliveries); add tls_rpt or use mode: testing"
        )
    missing = uncovered_mx(spec)
    if missing:
        problems.append(
            f"{doc.where(('mta_sts', 'mx'))}: mta_sts.mx: no mx: line matches MX host "
            f"{', '.join(missing)}; enforcing senders would refuse to deliver there"
        )
    return problems


def _dane_problems(spec: ZoneSpec, doc: YamlDoc) -> list[str]:
    """TLSA needs a signed zone (receivers ignore it otherwise), and names only MX hosts that
    this zone holds."""
    if spec.dane is None:
        return []
    problems = []
    if not spec.dnssec:
        problems.append(
            f"{doc.where(('dane',))}: dane: TLSA records need a DNSSEC-signed zone (receivers "
            "ignore them otherwise); sign the zone, then set dnssec: true"
        )
    hosts = {h.name: h for h in spec.hosts}
    for i, name in enumerate(spec.dane.hosts):
        host = hosts.get(name)
        if host is None:
            why = "is not one of hosts"
        elif host.absolute:
            why = "lies outside the zone: its TLSA is its own zone's to publish"
        elif "mx" not in host.roles:
            why = "is not an MX host (DANE for SMTP is about the MX hosts)"
        else:
            continue
        problems.append(f"{doc.where(('dane', 'hosts', i))}: dane.hosts: '{name}' {why}")
    return problems


def _size_problems(spec: ZoneSpec, doc: YamlDoc, keys: dict[str, PublicKey]) -> list[str]:
    """Every generated TXT record too big for a DNS server to take, named by the spec field
    it comes from. A spec the expansion refuses is left to `Domain.records` to report."""
    try:
        records = expand_domain(spec, DomainState(domain=spec.domain), keys)
    except (ValueError, SpecError):
        return []
    out: list[str] = []
    for record in records:
        if record.type != "TXT":
            continue
        octets = max(txt_octets(v) for v in record.values)
        if octets <= MAX_TXT_OCTETS:
            continue
        loc = record.origin
        what = "SPF record" if record.spf_only else "TXT record"
        name = f"{record.name}.{spec.zone_name}" if record.name else spec.zone_name
        out.append(
            f"{doc.where(loc)}: {field_path(loc)}: the {what} {name} would be {octets:,} octets "
            f"of TXT data, more than the {MAX_TXT_OCTETS:,} a DNS server or provider takes; "
            f"{_SHORTER.get(str(loc[0]) if loc else '', 'shorten it')}"
        )
    return out


_NETWORKS = (
    "list networks (192.0.2.0/24) instead of single addresses, or move senders behind an include:"
)
# what makes a too-big record shorter, by the spec section it comes from
_SHORTER = {
    "hosts": _NETWORKS,
    "spf": _NETWORKS,
    "dmarc": "send reports to fewer addresses",
    "dkim": "import a shorter key (RSA 2048 bits, or Ed25519)",
}


class KeyFileError(ValueError):
    """A `public_key_file` that is outside the allowed folders, unreadable or not a key; the
    message starts with `public_key_file:` and never quotes the file."""


MAX_KEY_FILE_BYTES = 64 << 10  # an RSA-16384 PEM is about 3 KiB


def imported_key(item: DkimImport, base_dir: Path | None, allowed: tuple[Path, ...]) -> PublicKey:
    """The public key of an imported selector; ValueError names the selector. A key file
    (relative to `base_dir`) must resolve inside one of the `allowed` folders (KeyFileError
    otherwise)."""
    if item.public_key is not None:
        text = item.public_key
    else:
        text = _key_file_text(item, base_dir, allowed)
    try:
        key = parse_public_key(text)
    except ValueError as err:
        if item.public_key is not None:
            raise ValueError(f"selector '{item.selector}': {err}") from None
        private = " (it is a PRIVATE key: give the public half)" if "PRIVATE" in str(err) else ""
        raise KeyFileError(
            f"public_key_file: selector '{item.selector}': {item.public_key_file} is not a "
            f"PEM/DER public key{private}"
        ) from None
    if key.algorithm == "rsa" and key.bits < MIN_RSA_BITS:
        raise ValueError(
            f"selector '{item.selector}': RSA key of {key.bits} bits; receivers reject keys under "
            f"{MIN_RSA_BITS} bits (RFC 8301)"
        )
    return key


def _key_file_text(item: DkimImport, base_dir: Path | None, allowed: tuple[Path, ...]) -> str:
    """The key file's text (a binary DER file as base64), or KeyFileError."""
    assert item.public_key_file is not None
    name = item.public_key_file
    path = Path(name)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    head = f"public_key_file: selector '{item.selector}': {name}"
    if not is_inside(path, *allowed):
        raise KeyFileError(
            f"{head} is outside the repository and the key directory; mailzone reads "
            "public keys only from there"
        )
    try:
        raw = read_regular(path, MAX_KEY_FILE_BYTES)
    except ValueError as err:
        raise KeyFileError(f"{head}: {err}") from None
    except OSError as err:
        raise KeyFileError(f"{head}: cannot read: {err.strerror or 'error'}") from None
    if raw is None:
        raise KeyFileError(
            f"{head}: larger than {MAX_KEY_FILE_BYTES >> 10} KiB, too big for a public key"
        )
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode()  # DER


def spec_warnings(
    spec: ZoneSpec, imported: dict[str, PublicKey], where: Callable[[Loc], str]
) -> list[str]:
    """Things that are valid but deserve a look; `where(loc)` gives `file:line` for a field."""
    out: list[str] = []
    answer = spf_answer_octets(spec.domain, spf_value(spec))
    if answer > UDP_ANSWER:
        out.append(
            f"{where(('spf',))}: spf: an answer with the SPF record of {spec.domain} is "
            f"{answer:,} octets, over the {UDP_ANSWER} of a UDP answer RFC 7208 section 3.4 asks "
            "for (other TXT records there add to it); receivers may fail over to TCP or give up "
            "(temperror): list networks instead of single addresses, or use an include:"
        )
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
