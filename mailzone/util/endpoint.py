"""Where a server listens: `HOST`, `HOST:PORT`, `[v6]:PORT`."""

from __future__ import annotations

import functools
import ipaddress
import re


def parse_endpoint(value: str, default_port: int = 53) -> tuple[str, int]:
    """`127.0.0.1:5300`, `[::1]:5300`, `ns1.example.net` → (host, port)."""
    match = re.fullmatch(
        r"\[([0-9a-fA-F:.]+)\](?::(\d+))?|([^:\s]+)(?::(\d+))?|([0-9a-fA-F:]+)", value.strip()
    )
    if not match:
        raise ValueError(f"'{value}' is not HOST or HOST:PORT")
    host = match.group(1) or match.group(3) or match.group(5)
    port = int(match.group(2) or match.group(4) or default_port)
    if not 0 < port < 65536:
        raise ValueError(f"'{value}': port {port} is out of range")
    return host, port


@functools.lru_cache(maxsize=4096)
def ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """`ipaddress.ip_address`, cached: a check run reads the same hosts' addresses for every
    domain that shares them (ValueError for what is not an address, as ipaddress says)."""
    return ipaddress.ip_address(text)


@functools.lru_cache(maxsize=1024)  # asked before every DNS question a check sends
def is_ip_address(host: str) -> bool:
    """Whether `host` is an IPv4 or IPv6 address (not a name)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
