"""RFC 7208 section 7 macro expansion (`%{i}`, `%{ir}.%{v}._spf.%{d2}`, `%%`, `%_`, `%-`)."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

_MACRO = re.compile(r"%(?:\{([slodiphcrtvSLODIPHCRTV])(\d*)(r?)([.\-+,/_=]*)\}|%|_|-)")


@dataclass(frozen=True)
class MacroContext:
    """What macros expand to: the sender, the current domain, the client IP and HELO name."""

    sender: str
    domain: str
    ip: str
    helo: str = ""
    # `%{p}`: the validated name of `ip` for a target domain (RFC 7208 7.3); None: "unknown"
    validated: Callable[[str], str] | None = field(default=None, compare=False)

    def letter(self, letter: str) -> str:
        """The value of one macro letter (lower case)."""
        local, _, sender_domain = self.sender.rpartition("@")
        address = ipaddress.ip_address(self.ip)
        values = {
            "s": self.sender,
            "l": local or "postmaster",
            "o": sender_domain or self.sender,
            "d": self.domain,
            "i": _dotted(address),
            "p": self.validated(self.domain) if self.validated else "unknown",
            "v": "in-addr" if address.version == 4 else "ip6",
            "h": self.helo or self.domain,
            "c": str(address),
            "r": "unknown",
            "t": "0",
        }
        return values[letter]


def _dotted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if address.version == 4:
        return str(address)
    return ".".join(address.exploded.replace(":", ""))  # nibbles, as %{i} wants for IPv6


def expand(text: str, ctx: MacroContext, exp: bool = False) -> str:
    """Expand the macros of a domain-spec; ValueError on a malformed `%`."""
    out: list[str] = []
    pos = 0
    for match in _MACRO.finditer(text):
        literal = text[pos : match.start()]
        if "%" in literal:
            raise ValueError(f"'{text}': bad macro at '{literal[literal.index('%') :]}'")
        out.append(literal)
        pos = match.end()
        whole = match.group(0)
        if whole == "%%":
            out.append("%")
        elif whole == "%_":
            out.append(" ")
        elif whole == "%-":
            out.append("%20")
        else:
            letter, digits, reverse, delimiters = match.groups()
            if letter.lower() in "crt" and not exp:
                raise ValueError(f"'{text}': %{{{letter}}} is only allowed in exp=")
            value = ctx.letter(letter.lower())
            parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
            if reverse:
                parts.reverse()
            if digits:
                if int(digits) == 0:
                    raise ValueError(f"'{text}': a macro cannot keep 0 labels")
                parts = parts[-int(digits) :]
            value = ".".join(parts)
            if letter.isupper():
                value = urllib.parse.quote(value, safe="")
            out.append(value)
    rest = text[pos:]
    if "%" in rest:
        raise ValueError(f"'{text}': bad macro at '{rest[rest.index('%') :]}'")
    out.append(rest)
    return "".join(out)


def expand_domain(text: str, ctx: MacroContext) -> str:
    """A macro-expanded domain-spec, shortened from the left to 253 octets (RFC 7208 7.3)."""
    name = expand(text, ctx).rstrip(".")
    while len(name) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name
