"""What a fresh interpreter imports: reading a DKIM public key must not pull in cryptography
(it costs start-up time on every command). Needs a process of its own, so it lives here."""

from __future__ import annotations

import base64
import subprocess
import sys

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
