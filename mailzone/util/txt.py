"""TXT character-strings in zone-file (presentation) form."""

from __future__ import annotations


def quote_txt(chunk: bytes) -> str:
    """One TXT character-string in presentation form, as dnspython writes it."""
    out = []
    for byte in chunk:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'
