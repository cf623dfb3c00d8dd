"""What a fresh interpreter imports: reading a DKIM public key must not pull in cryptography
(it costs start-up time on every command), and `--help` pulls in none of the heavy packages. Needs a process of its own, so it lives here."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization

from tests.helpers import rsa_key


def test_plain_import_and_parse_do_not_import_cryptography() -> None:
    der = (
        rsa_key(2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    code = (
        "import sys\n"
        "from mailzone.spec import dkim_key\n"
        f"key = dkim_key.parse_public_key({base64.b64encode(der).decode()!r})\n"
        "assert key.algorithm == 'rsa' and key.bits == 2048, key\n"
        "print(any(m.startswith('cryptography') for m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# what `--help` must not import: the spec models, octoDNS, DNS and YAML are for real work
HEAVY = ("pydantic", "octodns", "dns", "yaml", "rich", "cryptography")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["plan", "--help"],
        ["check", "--help"],
        ["--root", ".", "-vv", "apply", "--help"],
    ],
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['mailzone', *{args!r}]\n"
        "from mailzone.cli.app import main\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        f"    heavy = sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})\n"
        "    print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Usage: mailzone" in done.stdout
    assert "HEAVY []" in done.stderr, done.stderr


@pytest.mark.parametrize(
    "modules",
    [
        "mailzone.check.dkim, mailzone.dns.query, dkim, dns.query, dns.resolver",  # DKIM check
        "mailzone.octo.sync, mailzone.octo.bind_reader",  # plan and apply: octodns-bind's dns.query
    ],
)
def test_dns_is_asked_without_importing_dns_over_https_clients(modules: str) -> None:
    code = (
        "import sys\n"
        f"import {modules}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx2', 'httpcore2', 'h2'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
