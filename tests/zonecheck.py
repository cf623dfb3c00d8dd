"""Zone files checked by the programs that load them: BIND, Knot and NSD.

    problems = zone_file_problems(path, "example.org.")   # [] when all three accept the file

Each checker runs with its defaults, as a user would type it: ``named-checkzone ZONE FILE``,
``kzonecheck -o ZONE FILE``, ``nsd-checkzone ZONE FILE``. A checker that is not installed is
skipped, unless ``CI`` is set: then it is a problem like any other (see ``tests/servers.py``).

``written_zone_files(root)`` finds the files the ``local`` provider wrote under ``root`` (by the
header line it writes), which is how ``tests/conftest.py`` checks every zone file a test run
leaves behind.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.servers import find_binary, in_ci, not_installed

CHECKERS: dict[str, list[str]] = {  # program -> argv after it; {zone} and {file} filled in
    "named-checkzone": ["{zone}", "{file}"],
    "kzonecheck": ["-o", "{zone}", "{file}"],
    "nsd-checkzone": ["{zone}", "{file}"],
}
PACKAGES = {
    "named-checkzone": "bind9-utils",
    "kzonecheck": "knot-dnssecutils",
    "nsd-checkzone": "nsd",
}
_HEADER = re.compile(r"^; (\S+) written by mailzone \(local provider\)")


def missing_checkers() -> list[str]:
    """The checkers not installed here, as `program (apt-get install PACKAGE)`."""
    return [
        f"{program} (apt-get install {PACKAGES[program]})"
        for program in CHECKERS
        if find_binary(program) is None
    ]


def require_checkers() -> None:
    """Skip the calling test if a checker is missing (under CI: fail it)."""
    missing = missing_checkers()
    if missing:
        not_installed(f"zone checkers not installed: {', '.join(missing)}")


def zone_file_problems(path: Path, zone: str) -> list[str]:
    """What each installed checker says is wrong with the file ([] if they all load it)."""
    problems = []
    for program, template in CHECKERS.items():
        binary = find_binary(program)
        if binary is None:
            if in_ci():
                problems.append(f"{program} is not installed; CI is set, so this is an error")
            continue
        argv = [binary, *(a.format(zone=zone.rstrip("."), file=path) for a in template)]
        ran = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if ran.returncode != 0:
            said = (ran.stdout + ran.stderr).strip().replace("\n", " | ")
            problems.append(f"{program} exit {ran.returncode}: {said}")
    return problems


def assert_loads(path: Path, zone: str) -> None:
    """Fail unless BIND, Knot and NSD all load the file (skip if a checker is missing)."""
    require_checkers()
    problems = zone_file_problems(path, zone)
    assert not problems, f"{path} does not load:\n" + "\n".join(problems)


def written_zone_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Every file under `root` that starts with the `local` provider's header, with its zone."""
    for path in sorted(root.rglob("*.zone")):
        try:
            with path.open(encoding="utf-8", errors="replace") as fh:
                first = fh.readline()
        except OSError:
            continue  # removed meanwhile
        header = _HEADER.match(first)
        if header:
            yield path, header.group(1)


def check_written_zone_files(root: Path, workers: int = 2) -> tuple[int, list[str]]:
    """Run the checkers on every file `written_zone_files(root)` finds: (files, problems)."""
    found = list(written_zone_files(root))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda item: zone_file_problems(*item), found)
        problems = [
            f"{path}: {problem}"
            for (path, _), said in zip(found, results, strict=True)
            for problem in said
        ]
    return len(found), problems
