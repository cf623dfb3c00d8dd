"""Checked scalar types for specs: DNS names, addresses, report URIs, DKIM selectors."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def idna_name(value: str, what: str = "domain name") -> str:
    """Lower-case, IDNA-encode and check a DNS name (without a trailing dot)."""
    name = value.strip().rstrip(".") if isinstance(value, str) else value
    if not isinstance(name, str) or not name:
        raise ValueError(f"{value!r} is not a {what}")
    try:
        ascii_name = (
            name.encode("idna").decode("ascii").lower() if not name.isascii() else name.lower()
        )
    except UnicodeError:
        raise ValueError(f"'{value}' is not a {what} (IDNA encoding failed)") from None
    if len(ascii_name) > 253:
        raise ValueError(f"'{value}' is not a {what}: longer than 253 octets")
    for label in ascii_name.split("."):
        if not _LABEL.match(label):
            raise ValueError(f"'{value}' is not a {what}: bad label '{label}'")
    return ascii_name


def _domain(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a domain name")
    if value.endswith("."):
        value = value[:-1]
    name = idna_name(value)
    if "." not in name:
        raise ValueError(f"'{value}' is not a domain name: needs at least two labels")
    return name


def _host(value: object) -> str:
    """A host name: relative (`mail`) or absolute with a trailing dot (`mx.example.net.`)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a host name")
    if value.endswith("."):
        return idna_name(value, "host name") + "."
    return idna_name(value, "host name")


def _mx_pattern(value: object) -> str:
    """An MTA-STS `mx:` pattern (RFC 8461 section 4.1): a host name, or `*.` and a domain."""
    wild = isinstance(value, str) and value.startswith("*.")
    try:
        return "*." + _domain(str(value)[2:]) if wild else _domain(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an MX host name (mail.example.org) or pattern (*.example.org)"
        ) from None


def check_ipv4(value: object) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise ValueError(f"'{value}' is not an IPv4 address") from None


def check_ipv6(value: object) -> str:
    try:
        return str(ipaddress.IPv6Address(str(value)))
    except ValueError:
        raise ValueError(f"'{value}' is not an IPv6 address") from None


def _ipv4_net(value: object) -> str:
    try:
        net = ipaddress.IPv4Network(str(value), strict=True)
    except ValueError:
        raise ValueError(f"'{value}' is not an IPv4 address or network") from None
    return str(net.network_address) if net.prefixlen == 32 else str(net)


def _ipv6_net(value: object) -> str:
    try:
        net = ipaddress.IPv6Network(str(value), strict=True)
    except ValueError:
        raise ValueError(f"'{value}' is not an IPv6 address or network") from None
    return str(net.network_address) if net.prefixlen == 128 else str(net)


_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


def _mailto(value: object) -> str:
    """A DMARC report URI: `mailto:user@domain` with an optional `!size` suffix."""
    text = str(value).strip()
    if not text.lower().startswith("mailto:"):
        raise ValueError(f"'{value}' is not a mailto: URI (write mailto:user@domain)")
    address, _, size = text[7:].partition("!")
    local, at, domain = address.rpartition("@")
    if not at or not local or not _LOCAL_PART.match(local):
        raise ValueError(f"'{value}' is not a mailto: URI with a valid address")
    try:
        domain = _domain(domain)
    except ValueError:
        raise ValueError(f"'{value}': '{domain}' is not a domain name") from None
    if size and not re.fullmatch(r"\d+[kmgt]?", size, re.IGNORECASE):
        raise ValueError(f"'{value}': size limit '!{size}' is not a number with k, m, g or t")
    return f"mailto:{local}@{domain}" + (f"!{size.lower()}" if size else "")


def check_tlsrpt_uri(value: object) -> str:
    """A TLS-RPT report URI (RFC 8460 section 3): `mailto:user@domain` (the domain IDNA-encoded)
    or `https://host/...`; `%XX` escapes allowed, no spaces or control characters."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValueError(f"{value!r} is not a mailto: or https: URI")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError(f"'{value}': a URI has no spaces or control characters")
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise ValueError(f"'{value}': '%' must start a %XX escape")
    scheme, _, rest = text.partition(":")
    if scheme.lower() == "mailto":
        local, at, domain = rest.rpartition("@")
        if not at or not _LOCAL_PART.match(local):
            raise ValueError(f"'{value}' is not a mailto: URI with a valid address")
        try:
            return f"mailto:{local}@{_domain(domain)}"
        except ValueError:
            raise ValueError(f"'{value}': '{domain}' is not a domain name") from None
    if scheme.lower() == "https":
        if not text.isascii():
            raise ValueError(f"'{value}': write the host in its xn-- form and %-encode the rest")
        try:
            parts = urlsplit(text)
            host, _port = parts.hostname, parts.port  # .port raises on a bad port
        except ValueError as err:
            raise ValueError(f"'{value}': {err}") from None
        if not rest.startswith("//") or not host:
            raise ValueError(f"'{value}' is an https: URI without a host")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            try:
                _domain(host)
            except ValueError:
                raise ValueError(f"'{value}': '{host}' is not a host name") from None
        return "https:" + rest
    raise ValueError(f"'{value}': TLS-RPT reports go to mailto: or https: URIs, not {scheme}:")


def _selector(value: object) -> str:
    """A DKIM selector: one or more DNS labels (RFC 6376 section 3.1)."""
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value or value.endswith("."):
        raise ValueError(f"{value!r} is not a valid DKIM selector (DNS labels, no trailing dot)")
    try:
        return idna_name(value, "DKIM selector")
    except ValueError as err:
        raise ValueError(
            str(err).replace("is not a DKIM selector", "is not a valid DKIM selector")
        ) from None


def _provider_name(value: str) -> str:
    """The name of a providers/<name>.yaml file (or the built-in `local`)."""
    if len(value) > 200:  # a file name: more is refused by the file system itself
        raise ValueError(f"a name of {len(value)} characters (at most 200)")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
        raise ValueError(
            f"'{value}' is not a provider name (a file name in providers/ without .yaml)"
        )
    return value


def _no_int_coercion(value: object) -> object:
    # YAML reads 20200803 as an int; a selector is text, keep the digits as written
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


DomainName = Annotated[str, AfterValidator(_domain)]
HostName = Annotated[str, AfterValidator(_host)]
MxPattern = Annotated[str, AfterValidator(_mx_pattern)]
IPv4 = Annotated[str, BeforeValidator(check_ipv4)]
IPv6 = Annotated[str, BeforeValidator(check_ipv6)]
IPv4Net = Annotated[str, BeforeValidator(_ipv4_net)]
IPv6Net = Annotated[str, BeforeValidator(_ipv6_net)]
MailtoUri = Annotated[str, BeforeValidator(_mailto)]
TlsRptUri = Annotated[str, BeforeValidator(check_tlsrpt_uri)]
Selector = Annotated[str, BeforeValidator(_no_int_coercion), AfterValidator(_selector)]
ProviderName = Annotated[str, AfterValidator(_provider_name)]
