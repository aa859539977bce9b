"""Coverage of the processes that run in a copy of the bundle (tests/harness/bundle.py).

coverage.py measures the Python processes the tests start (pyproject.toml: patch = subprocess),
but only the files under its source folders, and a copy's scripts/ lie elsewhere. A process
started in a copy gets a configuration of its own: this run's, with the copy's folders as the
sources and this run's data file. The combined data counts their lines for the repository's
own files ([tool.coverage.paths] in pyproject.toml).
"""

from __future__ import annotations

import os
from pathlib import Path

import coverage

from tests.harness.processes import REPO

# What a copy's processes take from this run's configuration besides the sources and the data file.
OPTIONS = ("branch", "omit", "patch", "sigterm", "disable_warnings")


def environ(root: Path) -> dict[str, str]:
    """Environment variables for a process running the copy at `root`: none when the run is
    not measured. The caller leaves out this run's own COVERAGE_PROCESS_CONFIG, which wins."""
    measuring = coverage.Coverage.current()
    if measuring is None:
        return {}
    config = root.parent / f"{root.name}.coveragerc"  # beside the copy: tests read what is in it
    if not config.exists():
        sources = [
            root / Path(os.path.abspath(source)).relative_to(REPO)
            for source in measuring.get_option("run:source") or []
        ]
        lines = [
            "[run]",
            "parallel = true",
            f"data_file = {os.path.abspath(measuring.get_option('run:data_file'))}",
            _option("source", [str(source) for source in sources]),
        ]
        lines += [_option(name, measuring.get_option(f"run:{name}")) for name in OPTIONS]
        config.write_text("\n".join(lines) + "\n")
    return {"COVERAGE_PROCESS_START": str(config)}


def _option(name: str, value: object) -> str:
    if isinstance(value, list):
        return f"{name} =" + "".join(f"\n    {item}" for item in value)
    return f"{name} = {value}"
