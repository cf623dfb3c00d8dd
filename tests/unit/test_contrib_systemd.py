"""The systemd units in contrib/systemd stay usable: they parse, every `ExecStart=` running
mailzone names a subcommand and options the CLI accepts, every timer starts a shipped service,
and `OnFailure=` points at the shipped failure template."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer

from mailzone.cli.app import app

UNITS = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
FAILURE_TEMPLATE = "mailzone-failure@.service"
SECTIONS = {"Unit", "Service", "Timer", "Install"}


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """The unit's sections, each a list of `(key, value)` (systemd allows a key twice)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        where = f"{path.name}:{number}"
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1]
            assert name in SECTIONS and name not in sections, f"{where}: section [{name}]"
            current = sections[name] = []
            continue
        key, sep, value = line.partition("=")
        assert current is not None and sep and key.strip().isidentifier(), f"{where}: {raw!r}"
        assert not raw.endswith("\\"), f"{where}: no continuation lines"
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def units(suffix: str) -> dict[str, dict[str, list[tuple[str, str]]]]:
    found = {path.name: parse_unit(path) for path in sorted(UNITS.glob(f"*{suffix}"))}
    assert found, f"no {suffix} units in {UNITS}"
    return found


def mailzone_services() -> dict[str, dict[str, list[tuple[str, str]]]]:
    return {name: unit for name, unit in units(".service").items() if name != FAILURE_TEMPLATE}


def test_the_units_parse() -> None:
    for name, unit in {**units(".service"), **units(".timer")}.items():
        assert "Unit" in unit and values(unit, "Unit", "Description"), name
    assert FAILURE_TEMPLATE in units(".service")


@pytest.mark.parametrize("name", sorted(p.name for p in UNITS.glob("mailzone-rotate*.service")))
def test_exec_start_is_a_command_the_cli_accepts(name: str) -> None:
    unit = mailzone_services()[name]
    [exec_start] = values(unit, "Service", "ExecStart")
    argv = shlex.split(exec_start)
    assert Path(argv[0]).name == "mailzone", exec_start
    command = typer.main.get_group(app).commands.get(argv[1])
    assert command is not None, f"{name}: no subcommand {argv[1]!r}"
    # Parsing (not running) fails on an unknown option or a missing value.
    command.make_context(argv[1], argv[2:])


def test_services_are_oneshot_hardened_and_report_failure() -> None:
    assert (UNITS / FAILURE_TEMPLATE).is_file()
    for name, unit in mailzone_services().items():
        service = dict(unit["Service"])
        assert service["Type"] == "oneshot", name
        assert service["User"] not in ("", "root"), name
        assert service["ProtectSystem"] == "strict", name
        assert service["NoNewPrivileges"] == service["PrivateTmp"] == "yes", name
        writable = service["ReadWritePaths"].split()
        for path in (service["WorkingDirectory"], "/var/lib/mailzone/keys"):
            assert path in writable, f"{name}: {path} not in ReadWritePaths"
        assert values(unit, "Unit", "OnFailure") == ["mailzone-failure@%n.service"], name


def test_every_timer_starts_a_shipped_service() -> None:
    services = mailzone_services()
    for name, timer in units(".timer").items():
        [target] = values(timer, "Timer", "Unit") or [name.removesuffix(".timer") + ".service"]
        assert target in services, f"{name}: starts {target}, which is not shipped"
        assert values(timer, "Timer", "OnCalendar") == ["hourly"], name
        assert values(timer, "Timer", "Persistent") == ["true"], name
        assert values(timer, "Install", "WantedBy") == ["timers.target"], name
    assert {f"{n.removesuffix('.timer')}.service" for n in units(".timer")} == set(services)
