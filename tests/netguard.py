"""Refuse, and record, any socket use that would leave 127.0.0.0/8 or ::1.

Used in-process (``install(log, setter)`` with ``monkeypatch.setattr``, undone after the test) and
in `mailzone` subprocesses through a generated ``sitecustomize.py`` (``sitecustomize_source``).
Standard library only: it runs before anything else in those processes."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SOCKET_METHODS = ("connect", "connect_ex", "sendto", "sendmsg")


def loopback(address: object) -> bool:
    """Whether a socket address (or host) is on the loopback interface; AF_UNIX paths are."""
    if isinstance(address, (str, bytes)) and not isinstance(address, tuple):
        host: object = address
        if isinstance(address, bytes) or "/" in address or address.startswith("\0"):
            return True  # a Unix socket path
    elif isinstance(address, tuple) and address:
        host = address[0]
    else:
        return True
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def install(log: Path, setter: Callable[[Any, str, Any], None] = setattr) -> None:
    """Patch ``socket`` so that non-loopback connects, sends and name lookups raise OSError and
    are appended to ``log``."""

    def note(what: str) -> None:
        with open(log, "a", encoding="utf-8") as out:
            out.write(what + "\n")

    def wrap(name: str) -> None:
        original = getattr(socket.socket, name)

        def guarded(self: socket.socket, *args: Any) -> Any:
            address = args[-1] if args else None
            if name == "sendmsg" and len(args) < 4:
                address = None  # a connected socket: its connect() was already checked
            if address is not None and not loopback(address):
                note(f"{name} {address!r}")
                raise OSError(f"loopback guard: {name} to {address!r} blocked")
            return original(self, *args)

        setter(socket.socket, name, guarded)

    for method in _SOCKET_METHODS:
        wrap(method)
    original_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not loopback((host,)):
            note(f"getaddrinfo {host!r}")
            raise socket.gaierror(f"loopback guard: lookup of {host!r} blocked")
        return original_getaddrinfo(host, *args, **kwargs)

    setter(socket, "getaddrinfo", getaddrinfo)


def sitecustomize_source(log: Path) -> str:
    """A ``sitecustomize.py`` that installs the guard in every Python process that finds it on
    ``PYTHONPATH``."""
    return (
        "import importlib.util\n"
        f"_spec = importlib.util.spec_from_file_location('_netguard', {str(Path(__file__))!r})\n"
        "_mod = importlib.util.module_from_spec(_spec)\n"
        "_spec.loader.exec_module(_mod)\n"
        f"_mod.install(__import__('pathlib').Path({str(log)!r}))\n"
    )
