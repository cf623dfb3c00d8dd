"""`env/VAR` and `env/VAR/DEFAULT`: a value a provider file leaves to the applying host's
environment (a secret, or where the server is)."""

from __future__ import annotations


def is_env_ref(value: object) -> bool:
    """Whether `value` is an `env/...` reference."""
    return isinstance(value, str) and value.startswith("env/")


def env_ref(value: str) -> tuple[str, str | None]:
    """VAR and DEFAULT (None without one) of `env/VAR` or `env/VAR/DEFAULT`."""
    var, _, default = value[4:].partition("/")
    return var, default or None
