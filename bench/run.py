"""All benchmarks, one command, one table: `python3 bench/run.py` (see --help).

Each group of measures is a module under bench/ with `measures(rounds) -> list[Measure]` that
starts what it needs (the test harness's Postgres, fakes, servers) and stops it again. Variants
of a measure run interleaved, round by round (bench/report.py); the table shows each median and
range, the ratio, the target and whether it was met. Exits 1 when a target was missed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "app"), str(REPO)]

from bench.report import print_table  # noqa: E402

# Group name -> module.
GROUPS = {
    "jobs": "bench.jobs",
    "scrubber": "bench.scrubber",
    "serving": "bench.serving",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=GROUPS, action="append", help="Run only this group (repeatable).")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds per measure (at least 3; default 3).")
    parser.add_argument(
        "--origin-app",
        type=Path,
        metavar="CHECKOUT",
        help="jobs: also run the origin app (a checkout of github.com/alexandrosm77/migraine_forecast) "
        "on SQLite, beside this app",
    )
    parser.add_argument(
        "--origin-python",
        metavar="PYTHON",
        help="jobs: the Python with the origin app's requirements (default: this one)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: a median and a range need three samples")
    print(f"benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.rounds} rounds")
    options = {"jobs": {"origin_app": args.origin_app, "origin_python": args.origin_python}}
    measures = []
    for group in args.only or GROUPS:
        measures += importlib.import_module(GROUPS[group]).measures(args.rounds, **options.get(group, {}))
    return 0 if print_table(measures) else 1


if __name__ == "__main__":
    sys.exit(main())
