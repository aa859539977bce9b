"""pytest plugin: the run's branch coverage per package, after pytest-cov's reports.

pytest-cov measures (pyproject.toml: [tool.coverage], --cov) and writes its JSON report.
coverage.py prints files or a total, not packages, so this plugin sums that report's files by
package (app/forecast, scripts/stack, glitchtip, ...) in coverage.py's columns and formula:
(lines run + branches taken) / (lines + branches). Loaded with `-p tests.harness.coverage_summary`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path, PurePosixPath

import pytest

COLUMNS = ("num_statements", "missing_lines", "num_branches", "num_partial_branches")
HEADINGS = ("Stmts", "Miss", "Branch", "BrPart")


def _json_report(config: pytest.Config) -> Path | None:
    """Where pytest-cov writes its JSON report in this run, or None when it does not."""
    if config.getoption("no_cov", False) or not config.getoption("cov_source", None):
        return None
    reports = config.getoption("cov_report", None) or {}
    if "json" not in reports:
        return None
    return config.invocation_params.dir / (reports["json"] or "coverage.json")


def package(path: PurePosixPath) -> str:
    """A source file's package: its top folder and the folder below it (app/forecast,
    scripts/stack), or the top folder alone for the files directly in it."""
    return str(PurePosixPath(*path.parts[:2]) if len(path.parts) > 2 else path.parts[0])


def percent(covered: int, total: int) -> str:
    return f"{100 * covered / total:.1f}%" if total else "-"


def table(report: dict, root: Path, invoked_from: Path) -> list[str]:
    sums: dict[str, Counter] = {}
    for name, figures in report["files"].items():
        relative = PurePosixPath((invoked_from / name).resolve().relative_to(root).as_posix())
        summary = figures["summary"]
        sums.setdefault(package(relative), Counter()).update(
            {
                **{column: summary[column] for column in COLUMNS},
                "covered": summary["covered_lines"] + summary["covered_branches"],
            }
        )
    totals = report["totals"]
    sums["TOTAL"] = Counter(
        {
            **{column: totals[column] for column in COLUMNS},
            "covered": totals["covered_lines"] + totals["covered_branches"],
        }
    )
    width = max(len(name) for name in sums)
    lines = [f"{'Package':<{width}} " + " ".join(f"{heading:>7}" for heading in HEADINGS) + "   Cover"]
    for name, counts in sorted(sums.items(), key=lambda item: (item[0] == "TOTAL", item[0])):
        cover = percent(counts["covered"], counts["num_statements"] + counts["num_branches"])
        lines.append(f"{name:<{width}} " + " ".join(f"{counts[column]:>7}" for column in COLUMNS) + f" {cover:>7}")
    return lines


def pytest_sessionstart(session: pytest.Session) -> None:
    report = _json_report(session.config)
    if report is not None:
        report.unlink(missing_ok=True)  # a report left by an earlier run is not this run's


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    report = _json_report(config)
    if report is None or not report.exists():
        return  # coverage is off (--no-cov), or pytest-cov said why it wrote no report
    terminalreporter.write_sep("=", "branch coverage per package (detail: artifacts/coverage/index.html)")
    for line in table(json.loads(report.read_text()), config.rootpath, config.invocation_params.dir):
        terminalreporter.write_line(line)
