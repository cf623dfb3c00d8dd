"""TXT character-strings in zone-file (presentation) form."""

from __future__ import annotations

# each byte as dnspython writes it inside a quoted string: `"` and `\` escaped, printable ASCII
# as it is, every other byte as `\DDD`
_PRESENTATION = {
    byte: ("\\" + chr(byte) if chr(byte) in '"\\' else chr(byte))
    if 0x20 <= byte < 0x7F
    else f"\\{byte:03d}"
    for byte in range(256)
}


def quote_txt(chunk: bytes) -> str:
    """One TXT character-string in presentation form, as dnspython writes it."""
    return '"' + chunk.decode("latin-1").translate(_PRESENTATION) + '"'
