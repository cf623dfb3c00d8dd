"""`validate` on generated YAML (issue 11): whatever a spec, state or provider file holds, the
run exits 0 or 1 with `error: <that file>...` lines, no traceback, in ≤ 2 s and < 200 MB.

The documents are YAML *text*: random nesting of every YAML type, anchors, aliases, merge keys,
tags, duplicate keys, tabs, byte order marks and encodings, multi-document streams, and valid
mailzone files with one thing changed. Large files are a few fixed examples, not random."""

from __future__ import annotations

import codecs
import datetime
import functools
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli import inproc
from tests.helpers import basic_spec

FILES = {
    "spec": "zones/example.org.yaml",
    "state": "state/example.org.yaml",
    "provider": "providers/p.yaml",
}
VALID = {
    "spec": basic_spec(
        provider="p",
        extra="""
            spf:
              include: [_spf.example.net]
              ip4: [198.51.100.0/24]
              terms: ["exists:%{i}._spf.example.net"]
            dkim:
              rotate_every: 90d
              revoke_after: 7d
            """,
    ),
    # as save_state writes it; the key is Ed25519 from 32 zero bytes
    "state": textwrap.dedent(
        """
        version: 1
        domain: example.org
        zone: example.org
        provider: p
        dmarc:
          policy: none
          since: '2026-01-01T00:00:00Z'
        selectors:
        - selector: s1
          algorithm: ed25519
          bits: 256
          public_key: O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=
          fingerprint: sha256:139e3940e64b5491722088d9a0d741628fc826e09475d341a780acde3c4b8070
          phase: active
          created: '2026-01-01T00:00:00Z'
          visible_since: '2026-01-01T00:00:00Z'
          switched: '2026-01-01T00:00:00Z'
        - selector: s0
          algorithm: ed25519
          bits: 256
          public_key: O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=
          fingerprint: sha256:139e3940e64b5491722088d9a0d741628fc826e09475d341a780acde3c4b8070
          phase: retiring
          created: '2026-01-01T00:00:00Z'
          visible_since: '2026-01-01T00:00:00Z'
          switched: '2026-01-01T00:00:00Z'
        """
    ).lstrip(),
    "provider": textwrap.dedent(
        """
        class: mailzone.octo.local.LocalZoneFileProvider
        directory: build/zones
        default_ttl: 300
        mailzone:
          nameservers: [127.0.0.1:5300]
          write_concurrency: 2
        """
    ).lstrip(),
}
MAX_SECONDS = 2.0
MAX_RSS_KB = 200 * 1024  # /proc/self/status counts KiB

# --- scalars, as YAML text ---------------------------------------------------------------------

PLAIN_SCALARS = [
    "0", "-7", "0x1F", "0o17", "1_000", "+12", "0b101", "1.5", "-.inf", ".NaN", "1e400", "6.8523015e+5",
    "190:20:30", "true", "No", "yes", "off", "~", "null", "", "2026-01-01", "2001-12-14t21:59:43.10-05:00",
    "2026-02-30", "2026-13-01 25:61:61", "9999-12-31T23:59:59Z", "example.org", "mail", "none",
    "reject", "192.0.2.25", "2001:db8::25", "127.0.0.1:5300", "env/NOPE", "local", "ünïcödé.org",
    "xn--", "-", "?", ":", "%", "@", "`", "!", "|", ">", "a #comment", "'", '"',
]  # fmt: skip
TAGGED = [
    '!!python/object/apply:os.system ["true"]', "!!python/name:os.system ''",
    "!!python/tuple [1, 2]", "!!set {a, b}", "!foo x", "!<tag:example.org,2026:x> y",
    '!!binary "aGVsbG8="', '!!binary "@@@@"', '!!binary "aGVsbG8"', "!!int abc", "!!int 0xZZ",
    "!!float abc", "!!bool maybe", "!!timestamp nope", "!!timestamp 2026-02-30", "!!null x",
    "!!str 1", "!!map [a]", "!!seq {a: b}", "!!omap [a: 1, a: 2]", "!!pairs [x]", "!!omap [x]",
    "!!merge x", "!!value x", "!!yaml x", "!!int ''", "!!float ''", "!!bool ''",
]  # fmt: skip
FIELD_KEYS = [
    "domain", "provider", "ttl", "hosts", "name", "ipv4", "ipv6", "dmarc", "policy", "rua",
    "spf", "dkim", "import", "selector", "public_key", "version", "zone", "selectors", "since",
    "class", "directory", "mailzone", "nameservers", "write_concurrency", "<<", "1", "null",
    "true", "? [a]", "? {a: b}", "'quoted key'", '"\\u0000"', "ünï",
]  # fmt: skip


def _quoted(text: str) -> str:
    return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


big_ints = st.tuples(st.sampled_from(["", "-", "+", "0x", "0o"]), st.integers(1, 6000)).map(
    lambda t: t[0] + "9" * t[1]
)
strings = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40) | st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=10
)
long_strings = st.integers(1000, 20_000).map(lambda n: "x" * n)
scalar_text = st.one_of(
    st.sampled_from(PLAIN_SCALARS),
    st.sampled_from(TAGGED),
    big_ints,
    st.floats().map(repr),
    strings.map(_quoted),
    strings.map(lambda s: "'" + s.replace("'", "''") + "'"),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),  # raw, even unprintable
    long_strings,
)


def uniform(draw: st.DrawFn) -> random.Random:
    """A generator seeded from one big drawn integer: its choices are uniform, where those of
    sampled_from, integers and randoms() lean hard towards the first items (and 0)."""
    return random.Random(draw(st.integers(0, 2**64)))


def one_in(draw: st.DrawFn, n: int) -> bool:
    """True once in `n` draws."""
    return uniform(draw).randrange(n) == 0


class _Doc:
    """One generated document: its text lines and the anchors defined so far."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.anchors: list[str] = []

    def props(self) -> str:
        """An optional anchor and tag for the next node."""
        out = ""
        if one_in(self.draw, 15):
            name = f"a{len(self.anchors)}"
            self.anchors.append(name)
            out += f" &{name}"
        if one_in(self.draw, 10):
            out += " " + self.draw(st.sampled_from(["!!map", "!!seq", "!!str", "!!set", "!foo"]))
        return out

    def node(self, depth: int, indent: int) -> str:
        """Text placed after `key:` or `-`: ` value` inline, or a newline and a block."""
        kinds = ["scalar", "alias", "flow"] + (["map", "seq"] * 2 if depth < 4 else [])
        kind = self.draw(st.sampled_from(kinds))
        if kind == "alias" and self.anchors:
            return " *" + self.draw(st.sampled_from(self.anchors))
        if kind == "flow":
            return " " + self.flow(depth)
        pad = " " * indent
        if kind == "map":
            keys = self.draw(
                st.lists(st.sampled_from(FIELD_KEYS) | strings.map(_quoted), max_size=5)
            )
            lines = [f"{pad}{key}:{self.node(depth + 1, indent + 2)}" for key in keys]
            return self.props() + "".join("\n" + line for line in lines) if lines else " {}"
        if kind == "seq":
            count = self.draw(st.integers(0, 4))
            lines = [f"{pad}-{self.node(depth + 1, indent + 2)}" for _ in range(count)]
            return self.props() + "".join("\n" + line for line in lines) if lines else " []"
        return self.props() + " " + self.draw(scalar_text)

    def flow(self, depth: int) -> str:
        """A flow collection, a scalar or an alias."""
        choice = self.draw(st.integers(0, 4 if depth < 6 else 1))
        if choice == 0 and self.anchors:
            return "*" + self.draw(st.sampled_from(self.anchors))
        if choice <= 1:
            return self.draw(st.sampled_from(PLAIN_SCALARS[:30]) | strings.map(_quoted))
        items = [self.flow(depth + 1) for _ in range(self.draw(st.integers(0, 3)))]
        if choice == 2:
            return "[" + ", ".join(items) + "]"
        keys = [self.draw(st.sampled_from(FIELD_KEYS[:26])) for _ in items]
        return "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items, strict=True)) + "}"


@st.composite
def generated_yaml(draw: st.DrawFn) -> str:
    """A document built from random nodes (top level: usually a mapping)."""
    doc = _Doc(draw)
    keys = draw(st.lists(st.sampled_from(FIELD_KEYS), max_size=8))
    if draw(st.booleans()):
        return "\n".join(f"{k}:{doc.node(1, 2)}" for k in keys) + "\n"
    return doc.node(0, 0).lstrip("\n") + "\n"


# --- valid files with one thing changed ---------------------------------------------------------

python_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=20)
    | st.dates()
    | st.datetimes(timezones=st.none() | st.just(datetime.UTC)),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
        | st.tuples(inner, inner)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=8,
)


def _paths(data: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at] if at else []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for key, value in items:
        out += _paths(value, (*at, key))
    return out


@st.composite
def mutated_structure(draw: st.DrawFn, kind: str) -> str:
    """The valid file with one value replaced, removed or joined by an unknown key, dumped by
    PyYAML (which writes tags such as !!binary, !!set and !!python/tuple)."""
    data = yaml.safe_load(VALID[kind])
    path = draw(st.sampled_from(_paths(data)))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    op = draw(st.sampled_from(["replace", "delete", "add", "wrap"]))
    if op == "delete":
        del parent[path[-1]]
    elif op == "add" and isinstance(parent, dict):
        parent[draw(st.text(max_size=10) | st.sampled_from(FIELD_KEYS))] = draw(python_values)
    elif op == "wrap":
        parent[path[-1]] = [parent[path[-1]]]
    else:
        parent[path[-1]] = draw(python_values)
    return yaml.dump(
        data, allow_unicode=draw(st.booleans()), default_flow_style=draw(st.booleans())
    )


NEAR_VALUES = [
    "q", ".X", "..", "os.path", "P", "", "~", "0", "-1", "1e400", "9" * 5000, "2026-02-30",
    '"p\\x1eq"', "[]", "{}", "ünï.org", "!!binary aGVsbG8=", "!!set {a}", "2026-01-01",
    "99999999999d", "1w2d", "/dev/zero", "'%{i}%{i}%{i}'", "redirect=x", "a" * 300,
    "0001-01-01 00:00:00+05:00", "9999-12-31 23:59:59-05:00", "env/NOPE", "env/", "env/X/a:b:c",
    "[env/NOPE/x]", "'[::1]:99999'", "{policy: none}", "tombstone", "rsa", "99999999999999999999",
    "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik", "AAAA", "sha256:", "s1",
]  # fmt: skip


def near_misses(kind: str) -> list[str]:
    """The valid file with one value swapped for a likely typo or a tricky plain value: every
    such file (hypothesis would find the one that matters only by luck)."""
    lines = VALID[kind].splitlines()
    first = {line.partition(":")[0].strip(" -"): i for i, line in reversed(list(enumerate(lines)))}
    return [  # each key once (the second selector's fields are the first's)
        "\n".join([*lines[:i], f"{lines[i].partition(':')[0]}: {value}", *lines[i + 1 :]]) + "\n"
        for key, i in first.items()
        if ":" in lines[i]
        for value in NEAR_VALUES
    ]


@st.composite
def mutated_text(draw: st.DrawFn, kind: str) -> str:
    """The valid file with one line's value swapped for a generated one, or the line deleted,
    doubled, re-indented (tabs too) or followed by generated YAML."""
    lines = VALID[kind].splitlines()
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    op = draw(st.sampled_from(["value", "delete", "double", "indent", "insert"]))
    if op == "value" and ":" in line:
        key = line.split(":", 1)[0]
        lines[i] = f"{key}:{_Doc(draw).node(3, len(key) - len(key.lstrip()) + 2)}"
    elif op == "delete":
        del lines[i]
    elif op == "double":
        lines.insert(i, line)
    elif op == "indent":
        lines[i] = draw(st.sampled_from(["\t", " ", "  \t", ""])) + line.lstrip(" ")
    else:
        lines.insert(i + 1, draw(generated_yaml()).rstrip("\n"))
    return "\n".join(lines) + "\n"


# --- whole files: streams and bytes -------------------------------------------------------------


EMPTY_ISH = ["", "\n", "# only a comment\n", "---\n", "...\n", "--- |\n  x\n", "%YAML 1.1\n---\n", "\t\n", "%FOO bar\n--- x\n"]  # fmt: skip
ENCODINGS = ["utf-16-le", "utf-16-be", "latin-1", "utf-8-sig"]  # else utf-8
BROKEN_UTF8 = [b"\xff", b"\xc3", b"\xe2\x82", b"\x00", b"\xed\xa0\x80"]


@st.composite
def documents(draw: st.DrawFn, kind: str) -> str:
    """The text of one document: mostly a valid file changed once, so that the run gets past
    the parser into the models and the checks behind them."""
    pick = uniform(draw).choice(["near"] * 4 + ["structure", "text", "generated"] * 2 + ["empty"])
    if pick == "near":
        return draw(st.sampled_from(near_misses(kind)))
    if pick == "generated":
        return draw(generated_yaml())
    if pick == "structure":
        return draw(mutated_structure(kind))
    if pick == "text":
        return draw(mutated_text(kind))
    return draw(st.sampled_from(EMPTY_ISH))


@st.composite
def file_bytes(draw: st.DrawFn, kind: str) -> bytes:
    """One file: one document or (sometimes) a stream of them, mostly UTF-8, sometimes in
    another encoding or with broken bytes."""
    count = draw(st.integers(2, 3)) if one_in(draw, 6) else 1
    docs = [draw(documents(kind)) for _ in range(count)]
    text = docs[0] if count == 1 else "".join("---\n" + d for d in docs)
    encoding = draw(st.sampled_from(["utf-8"] * 12 + ENCODINGS))
    if encoding in ("utf-16-le", "utf-16-be"):
        bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
        raw = bom + text.encode(encoding, "surrogatepass")
    else:
        raw = text.encode(encoding, "replace" if encoding == "latin-1" else "surrogatepass")
    if one_in(draw, 16):  # invalid UTF-8: a stray byte or a cut sequence
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(BROKEN_UTF8)) + raw[at:]
    return raw


# --- running validate ---------------------------------------------------------------------------


def _validate_with(kind: str, raw: bytes) -> Any:
    """A valid repository with FILES[kind] replaced by `raw`; `validate` in this process."""
    budget = MAX_RSS_KB - _fresh_validate_kb()  # what one run may add to a fresh process
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        for name, rel in FILES.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw if name == kind else VALID[name].encode())
        rss_before = _reset_peak()
        start = time.process_time()  # CPU: the work validate does, whatever else runs
        run = inproc(root, "validate")  # SystemExit is the only exception it lets end a run
        took = time.process_time() - start
        added = _status_kb("VmHWM") - rss_before
    assert run.code in (0, 1), (run.code, run.err)
    if run.code == 1:
        lines = run.err.splitlines()
        errors = [line for line in lines if line.startswith("error: ")]
        assert errors, run.err
        for line in lines:
            assert line.startswith(("error: ", "warning: ")), run.err
        for line in errors:
            assert line.startswith(f"error: {FILES[kind]}"), run.err
    assert took <= MAX_SECONDS, f"{took:.2f} s of CPU"
    assert added < budget, f"{(added + MAX_RSS_KB - budget) // 1024} MB"
    return run


# This process runs the whole suite, so its own peak says little about one run: before each
# example the kernel's high-water mark is reset to the memory in use (clear_refs 5), and what the
# run adds to it, on top of what a fresh `mailzone validate` process holds, must stay < 200 MB.


def _status_kb(field: str) -> int:
    """VmRSS (in use now) or VmHWM (the high-water mark) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def _reset_peak() -> int:
    """Reset the high-water mark to the memory in use now, and return that."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


@functools.cache
def _fresh_validate_kb() -> int:
    """The peak memory of a `mailzone validate` process on the valid repository."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        for name, rel in FILES.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(VALID[name])
        probe = (
            "import sys, pathlib\n"
            "from mailzone.cli.app import main\n"
            "sys.argv = ['mailzone', '--root', sys.argv[1], 'validate']\n"
            "try:\n    main()\n"
            "except SystemExit:\n    pass\n"
            "status = pathlib.Path('/proc/self/status').read_text()\n"
            "print(next(l.split()[1] for l in status.splitlines() if l.startswith('VmHWM:')))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe, str(root)], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_the_valid_repository_is_valid() -> None:
    """The base every example changes one file of."""
    for kind in FILES:
        _validate_with(kind, VALID[kind].encode())


@pytest.mark.parametrize("kind", list(FILES))
@settings(
    database=None,
    derandomize=True,
    deadline=None,
    max_examples=200,  # with the rest of the file: about 45 s on one core
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_validate_answers_any_yaml_in_one_line_per_error(kind: str, data: st.DataObject) -> None:
    _validate_with(kind, data.draw(file_bytes(kind)))


@pytest.mark.parametrize("kind", list(FILES))
def test_validate_answers_every_near_miss_in_one_line(kind: str) -> None:
    for text in near_misses(kind):
        _validate_with(kind, text.encode())


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BOMB = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 6))
FIXED = {
    "just under 1 MiB": "x: " + "a" * ((1 << 20) - 10) + "\n",
    "just over 1 MiB": "x: " + "a" * (1 << 20) + "\n",
    "9,999 nodes": "".join(f"k{i}: {i}\n" for i in range(4_999)),
    "10,001 nodes": "- 1\n" * 10_001,
    "alias bomb": "l0: &l0 [lol]\n" + BOMB,
    "merge of a merge": "a: &a {x: 1}\nb: &b {<<: *a}\nc: {<<: [*a, *b]}\n",
    "deep flow nesting": _nested(5000),
    "flow nesting just under libyaml's cap": _nested(990),
    "deep block nesting": "".join(" " * i + "- \n" for i in range(990)),
    "deep mapping nesting": "".join(" " * i + "k:\n" for i in range(990)),
    "deep flow mappings": "x: " + "{a: " * 990 + "1" + "}" * 990,
    "big integer": "ttl: " + "9" * 5000 + "\n",
    "a float with a 5,000-digit exponent": "ttl: 1e" + "9" * 5000 + "\n",
}


@pytest.mark.parametrize("kind", list(FILES))
@pytest.mark.parametrize("text", list(FIXED.values()), ids=list(FIXED))
def test_validate_answers_fixed_hostile_files_in_one_line(kind: str, text: str) -> None:
    _validate_with(kind, text.encode())


# --- the MTA-STS and TLS-RPT fields: one error line naming the line and the field -------------

STS = "mta_sts:\n  mode: testing\n  host: {ipv4: [192.0.2.80]}\n"
LONG_NAME = ".".join(["a" * 59] * 5) + ".example.org"  # 312 characters, every label legal
FIELD_CASES = {  # name: (what the valid spec gets appended, the error's start)
    "mta_sts bad mode": (STS.replace("testing", "strict"), "12: mta_sts.mode: 'strict'"),
    "mta_sts max_age over a year": (STS + "  max_age: 400d\n", "14: mta_sts.max_age: 400d"),
    "mta_sts max_age negative": (STS + "  max_age: -1d\n", "14: mta_sts.max_age: '-1d'"),
    "mta_sts max_age negative seconds": (STS + "  max_age: -5\n", "14: mta_sts.max_age: -5"),
    "mta_sts mx two wildcards": (STS + '  mx: ["*.*.example.org"]\n', "14: mta_sts.mx[0]: "),
    "mta_sts mx a url": (STS + '  mx: ["https://mail.example.org/"]\n', "14: mta_sts.mx[0]: "),
    "mta_sts mx 300 characters": (STS + f'  mx: ["{LONG_NAME}"]\n', "14: mta_sts.mx[0]: "),
    "mta_sts host ipv4 and cname": (
        STS.replace("]}", "], cname: web.example.net}"),
        "13: mta_sts.host: give ipv4/ipv6 or cname",
    ),
    "mta_sts cname to an ipv4": (
        STS.replace("ipv4: [192.0.2.80]", "cname: 192.0.2.80."),
        "13: mta_sts.host.cname: '192.0.2.80' is an IP address",
    ),
    "mta_sts cname to an ipv6": (
        STS.replace("ipv4: [192.0.2.80]", 'cname: "2001:db8::80"'),
        "13: mta_sts.host.cname: '2001:db8::80'",
    ),
    "tls_rpt javascript uri": (
        'tls_rpt:\n  rua: ["javascript:alert(1)"]\n',
        "12: tls_rpt.rua[0]: 'javascript:alert(1)': TLS-RPT reports go to mailto: or https:",
    ),
    "tls_rpt 10k-character uri": (
        f'tls_rpt:\n  rua: ["https://example.org/{"a" * 10_000}"]\n',
        "12: tls_rpt.rua: the TXT record _smtp._tls.example.org would be 10,076 octets",
    ),
    # 10,000 URIs are more YAML nodes than any mailzone file may hold: refused before the field
    # is read, by the cap (tests/unit/test_yaml_limits.py); just under it, the field's own limit
    "tls_rpt 10k uris": (
        "tls_rpt:\n  rua:\n" + "".join(f"    - mailto:r{i}@example.org\n" for i in range(10_000)),
        "9984: more than 10,000 YAML nodes",
    ),
    "tls_rpt 9,900 uris": (
        "tls_rpt:\n  rua: [" + ", ".join(f"mailto:r{i}@example.org" for i in range(9_900)) + "]\n",
        "12: tls_rpt.rua: the TXT record _smtp._tls.example.org would be 247,372 octets",
    ),
    "tls_rpt not a list": ('tls_rpt:\n  rua: "mailto:tls@example.org"\n', "12: tls_rpt.rua: "),
    "dane without dnssec": ("dane: {}\n", "11: dane: TLSA records need a DNSSEC-signed zone"),
    "dane dnssec not a bool": ("dnssec: signed\ndane: {}\n", "11: dnssec: "),
    "dane host unknown": (
        "dnssec: true\ndane:\n  hosts: [mx9]\n",
        "13: dane.hosts: 'mx9' is not one of hosts",
    ),
    "dane hosts not a list": ("dnssec: true\ndane:\n  hosts: mail\n", "13: dane.hosts: "),
    "dane host twice": ("dnssec: true\ndane:\n  hosts: [mail, mail]\n", "13: dane.hosts: "),
}


@pytest.mark.parametrize(("extra", "where"), list(FIELD_CASES.values()), ids=list(FIELD_CASES))
def test_bad_transport_security_values_are_one_error_naming_line_and_field(
    extra: str, where: str
) -> None:
    spec = basic_spec(provider="p", extra=extra)  # the new field from line 11

    run = _validate_with("spec", spec.encode())

    assert run.code == 1
    assert run.err.splitlines() == [run.err.strip()], run.err  # one line
    assert run.err.startswith(f"error: {FILES['spec']}:{where}"), run.err


TLSA_KEY = "- {host: mail.example.org, role: current, spki_sha256: %s, added: '2026-12-01'}\n"
STATE_CASES = {  # name: the state's tlsa list
    "tlsa hash too short": TLSA_KEY % ("a" * 63),
    "tlsa hash upper case": TLSA_KEY % ("A" * 64),
    "tlsa role unknown": TLSA_KEY.replace("current", "previous") % ("a" * 64),
    "tlsa two current keys": (TLSA_KEY % ("a" * 64)) + (TLSA_KEY % ("b" * 64)),
}


@pytest.mark.parametrize("keys", list(STATE_CASES.values()), ids=list(STATE_CASES))
def test_bad_tlsa_state_is_one_error_naming_the_state_file(keys: str) -> None:
    state = f"version: 1\ndomain: example.org\ntlsa:\n{keys}"

    run = _validate_with("state", state.encode())

    assert run.code == 1
    assert run.err.splitlines() == [run.err.strip()], run.err  # one line
    assert "tlsa" in run.err, run.err
