"""The jobs at scale, on PostgreSQL and on SQLite side by side, against a fake Open-Meteo that adds a
delay per request, with the origin app on SQLite beside them when it is given.

- collect_weather_data for 100 locations on PostgreSQL, batched, against the way before (one
  request per location, one at a time, a new HTTP session per request, each location stored on
  its own); the origin app needed 2.3 s here (issue 8), so that is the target.
- collect_weather_data for 1,000 locations on PostgreSQL and on SQLite (the app alone), each
  under 3 s, and the origin app on SQLite (issue 17 measured 59 s): `--origin-app CHECKOUT
  --origin-python PYTHON` (a Python with the origin's requirements) runs it in the same rounds.
- collect_weather_data for 10,000 locations: PostgreSQL under 20 s, SQLite under 30 s.
- generate_predictions for 1,000 locations (PostgreSQL) with the rules, in chunks, against one
  location at a time (about seven queries each, as before); target: under 2 s.
- Storing 1,000 locations' 72 hours: PostgreSQL's binary COPY and upsert, SQLite's executemany
  upsert, and SQLite's Django bulk_create upsert (the path before issue 17), which tells why.

Each app and database runs in a worker process of its own (bench/worker.py: bench/jobs_app.py,
bench/origin_app.py), set up first: migrated, its places made and collected once (not counted),
so that every round updates rows as the hourly job does. Every location sits at its own grid
point (0.1° apart), the worst case for deduplication. The fake runs in a process of its own, as
the real API would; all of them share the machine's cores.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path

from bench.report import Measure, interleaved
from bench.worker import Worker
from tests.harness.postgres import PostgresServer

REPO = Path(__file__).resolve().parents[1]
SIZES = (100, 1_000, 10_000)
ORIGIN_SIZE = 1_000
ORIGIN_SECONDS_IN_ISSUE = 59  # issue 17: the origin app, 1,000 places on SQLite


def serve_open_meteo(delay: float, port_queue) -> None:
    """The harness's fake Open-Meteo in a process of its own."""
    from tests.harness.open_meteo_fake import OpenMeteoFake

    fake = OpenMeteoFake(delay=delay).start()
    port_queue.put(fake.port)
    fake.thread.join()


def start_open_meteo(delay: float):
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    process = context.Process(target=serve_open_meteo, args=(delay, ports), daemon=True)
    process.start()
    return process, ports.get(timeout=30)


def measures(
    rounds: int, *, delay: float = 0.05, origin_app: Path | None = None, origin_python: str | None = None
) -> list[Measure]:
    fake, port = start_open_meteo(delay)
    forecast_url = f"http://127.0.0.1:{port}/v1/forecast"
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-jobs-") as folder:
        stack.callback(fake.terminate)
        postgres = PostgresServer().start()
        stack.callback(postgres.stop)
        postgres.psql("CREATE ROLE bench LOGIN PASSWORD 'bench' CREATEDB")
        postgres.psql("CREATE DATABASE bench OWNER bench")
        print(f"jobs: fake Open-Meteo on port {port} adding {delay * 1000:.0f} ms per request, {rounds} rounds")
        # Only what the apps need: no setting of the caller's reaches them.
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/"),
            "LANG": "C.UTF-8",
            "SENTRY_ENABLED": "false",
            "OPEN_METEO_FORECAST_URL": forecast_url,
        }
        app_env = {
            **env,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_LOG_LEVEL": "ERROR",
            "OPEN_METEO_BACKOFF": "0",
        }
        app = [sys.executable, str(REPO / "bench" / "jobs_app.py"), str(max(SIZES))]
        workers = {
            "PostgreSQL": Worker(
                "this app on PostgreSQL",
                app,
                {**app_env, "DATABASE_URL": postgres.url("bench", "bench", "bench")},
                Path(folder) / "postgresql.log",
            ),
            "SQLite": Worker(
                "this app on SQLite",
                app,
                {**app_env, "DATABASE_URL": f"sqlite:///{folder}/app.sqlite3"},
                Path(folder) / "sqlite.log",
            ),
        }
        if origin_app:
            origin_dir = Path(folder) / "origin"
            origin_dir.mkdir()
            workers["origin"] = Worker(
                "the origin app on SQLite",
                [
                    origin_python or sys.executable,
                    str(REPO / "bench" / "origin_app.py"),
                    str(origin_app),
                    str(ORIGIN_SIZE),
                ],
                {**env, "BENCH_DIR": str(origin_dir)},
                Path(folder) / "origin.log",
            )
        else:
            print(
                f"the origin app: not measured (--origin-app CHECKOUT --origin-python PYTHON); issue 17 measured "
                f"{ORIGIN_SECONDS_IN_ISSUE} s for {ORIGIN_SIZE:,} places on SQLite"
            )
        for worker in workers.values():
            stack.callback(worker.close)
        for worker in workers.values():
            worker.wait_ready()
        return [
            *_collect_measures(workers, rounds),
            _predictions_measure(workers["PostgreSQL"], rounds),
            _store_measure(workers, rounds),
        ]


def _collect_measures(workers: dict[str, Worker], rounds: int) -> list[Measure]:
    postgres = workers["PostgreSQL"]
    measure = Measure(
        "collect weather, 100 locations (PostgreSQL)",
        "s",
        ratio_of=("one by one (before)", "batched"),
        target="batched < 2.3 s",
        check=lambda m: m.median("batched") < 2.3,
    )
    print(measure.name)
    measure.samples = interleaved(
        rounds,
        {
            "batched": lambda: postgres.run("collect", size=100),
            "one by one (before)": lambda: postgres.run("collect_one_by_one", size=100),
        },
    )
    result = [measure]
    for size, limits in ((1_000, {"PostgreSQL": 3.0, "SQLite": 3.0}), (10_000, {"PostgreSQL": 20.0, "SQLite": 30.0})):
        variants: dict[str, Callable[[], float | None]] = {
            name: partial(workers[name].run, "collect", size=size) for name in limits
        }
        ratio_of = ("SQLite", "PostgreSQL")
        if size == ORIGIN_SIZE and "origin" in workers:
            variants["origin app, SQLite"] = lambda: workers["origin"].run("collect", size=ORIGIN_SIZE)
            ratio_of = ("origin app, SQLite", "SQLite")
        measure = Measure(
            f"collect weather, {size:,} locations",
            "s",
            ratio_of=ratio_of,
            target=", ".join(f"{name} < {limit:g} s" for name, limit in limits.items()),
            check=_medians_under(limits),
        )
        print(measure.name)
        measure.samples = interleaved(rounds, variants)
        result.append(measure)
    return result


def _medians_under(limits: dict[str, float]) -> Callable[[Measure], bool]:
    return lambda measure: all(measure.median(name) < limit for name, limit in limits.items())


def _predictions_measure(postgres: Worker, rounds: int) -> Measure:
    measure = Measure(
        "predict with the rules, 1,000 (PostgreSQL)",
        "s",
        ratio_of=("one at a time (before)", "chunked"),
        target="chunked < 2 s",
        check=lambda m: m.median("chunked") < 2.0,
    )
    print(measure.name)
    measure.samples = interleaved(
        rounds,
        {
            "chunked": lambda: postgres.run("predict", size=1_000),
            "one at a time (before)": lambda: postgres.run("predict_one_at_a_time", size=1_000),
        },
    )
    return measure


def _store_measure(workers: dict[str, Worker], rounds: int) -> Measure:
    postgres, sqlite = workers["PostgreSQL"], workers["SQLite"]
    measure = Measure(
        "store 1,000 locations x 72 h (existing rows)",
        "s",
        ratio_of=("bulk_create (SQLite, before)", "executemany (SQLite)"),
        target="information",
    )
    print(measure.name)
    measure.samples = interleaved(
        rounds,
        {
            "COPY and upsert (PostgreSQL)": lambda: postgres.run("store", variant="copy"),
            "executemany (SQLite)": lambda: sqlite.run("store", variant="executemany"),
            "bulk_create (SQLite, before)": lambda: sqlite.run("store", variant="bulk_create"),
        },
    )
    return measure
