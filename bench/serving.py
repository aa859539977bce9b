"""Serving benchmarks: the app through real nginx and gunicorn under wrk, Sentry off versus on.

`python3 bench/serving.py` (or `measures(rounds)` from bench/run.py) starts everything itself
(tests/harness: Postgres, Redis, a local Open-Meteo, the Sentry receiver, a black-hole server,
a closed port; then one gunicorn + nginx pair per variant, all with the bundle's own configs) and
stops it all at the end. Variants run interleaved round by round (bench/report.py).

1. Observability cost: requests/s with Sentry off against on at traces 0.1 and 1.0, for the
   dashboard (logged in, five places with forecasts and predictions), /healthz and a static file;
   a static file answered in front of Django (config/wsgi.py) against one found inside it by
   WhiteNoise's middleware; and the same app twice, whose ratio is the benchmark's noise.
2. GlitchTip unreachable (a closed port, a server that accepts and never answers) against a
   healthy receiver: requests/s, failed requests, and worker memory over 60 s of load.
3. An error burst: about 1,000 exceptions in 10 s (requests with a Host header the app refuses,
   what a scanner sends): latency p50/p99 with Sentry off and on, events delivered and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from bench.report import Measure, interleaved, print_table  # noqa: E402
from tests.harness.app import Gunicorn, running_gunicorn  # noqa: E402
from tests.harness.blackhole import BlackHoleServer  # noqa: E402
from tests.harness.nginx import NginxServer  # noqa: E402
from tests.harness.open_meteo_fake import OpenMeteoFake  # noqa: E402
from tests.harness.postgres import PostgresServer  # noqa: E402
from tests.harness.processes import free_port  # noqa: E402
from tests.harness.redis import RedisServer  # noqa: E402
from tests.harness.sentry_receiver import PUBLIC_KEY, SentryReceiver  # noqa: E402

WRK_SCRIPT = REPO / "bench/wrk_report.lua"
SECONDS = 3  # of load per variant per round
CONNECTIONS = 8
# gunicorn workers per app, as env/production.env sets WEB_CONCURRENCY.
WORKERS = 4
PLACES = 5
MEMORY_SECONDS = 60
BURST_SECONDS = 10
BURST_CONNECTIONS = 10
BURST_DELAY_MS = 88  # per connection between requests: about 100 requests/s in all
DB_PASSWORD = secrets.token_urlsafe(18)
SDK_DROPPED = "dropped, SDK's count (all)"
APP_SETTINGS = (
    "SENTRY_",
    "DJANGO_",
    "HEARTBEAT_",
    "DATABASE_",
    "REDIS_",
    "EMAIL_",
    "OPEN_METEO_",
    "LLM_",
    "GUNICORN_",
    "WEB_CONCURRENCY",
)


@dataclass
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    socket_errors: int  # connect, read and write errors, and timeouts
    status_errors: int  # answers with a status of 400 or more
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def failed(self) -> int:
        return self.socket_errors + self.status_errors


class Wrk:
    """One wrk run in the background; `result()` waits for it."""

    def __init__(
        self,
        url: str,
        seconds: float = SECONDS,
        connections: int = CONNECTIONS,
        headers: dict[str, str] | None = None,
        delay_ms: int | None = None,
    ):
        # A request counts as failed when it is refused, cut or answered with an error, not when
        # it is slow (wrk's default timeout is 2 s; a shared machine has slow seconds).
        argv = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(WRK_SCRIPT),
        ]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        env = {**os.environ, **({"WRK_DELAY_MS": str(delay_ms)} if delay_ms else {})}
        self.process = subprocess.Popen(
            [*argv, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

    def result(self) -> Load:
        output, errors = self.process.communicate()
        if self.process.returncode != 0:
            raise RuntimeError(f"wrk failed: {errors}")
        figures = json.loads(found(r"^WRK_JSON (.*)$", output, re.M).group(1))
        return Load(
            figures["requests"],
            figures["duration_us"] / 1e6,
            sum(figures[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")),
            figures["status_errors"],
            figures["p50_us"] / 1000,
            figures["p99_us"] / 1000,
        )


def found(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    """re.search that fails saying what it looked for, not with an AttributeError on None."""
    match = re.search(pattern, text, flags)
    if match is None:
        raise RuntimeError(f"{pattern!r} not found in: {text[:500]}")
    return match


def wrk(url: str, **options) -> Load:
    return Wrk(url, **options).result()


@dataclass
class App:
    """One gunicorn (the bundle's config) behind one nginx (the bundle's template)."""

    name: str
    project: int  # the Sentry project its DSN names: the receiver counts per project
    gunicorn: Gunicorn
    nginx: NginxServer
    stack: ExitStack

    @property
    def url(self) -> str:
        return self.nginx.app_url

    def worker_rss_mb(self) -> dict[int, float]:
        """Resident memory of each worker process (the gunicorn master's children), by pid."""
        master = self.gunicorn.process.pid
        sizes: dict[int, float] = {}
        for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split():
            status = Path(f"/proc/{pid}/status").read_text()
            sizes[int(pid)] = int(found(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) / 1024
        return sizes

    def stop(self):
        """gunicorn stops gracefully: each worker flushes its Sentry queue and client report."""
        self.stack.close()


def cpu_seconds(*processes: subprocess.Popen | None) -> float:
    """CPU used so far by these processes and all their descendants, the exited ones included
    (a parent's cutime/cstime holds the children it has reaped: recycled workers, closed
    database sessions). None, a server's process before it starts, has used none."""
    ticks = 0
    pending = [p.pid for p in processes if p is not None]
    while pending:
        pid = pending.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:  # exited meanwhile: its time is in its parent's cutime now
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class Stack:
    """The services every app variant shares, and the apps themselves; `close()` stops all."""

    # Set by throughput() and used by the measures after it: the variants with Sentry off, on and
    # healthy, on and GlitchTip a closed port, on and GlitchTip never answering; a logged-in
    # user's session cookie (the apps share one database).
    off: App
    healthy: App
    closed: App
    hung: App
    cookie: str

    def __init__(self):
        self.stack = ExitStack()
        self.workdir = Path(tempfile.mkdtemp(prefix="mf-bench-serving-"))
        self.stack.callback(subprocess.run, ["rm", "-rf", str(self.workdir)], check=False)
        try:
            self._start_services()
        except BaseException:
            self.close()
            raise

    def _start_services(self):
        self.postgres = self._started(PostgresServer())
        self.postgres.run_init_script(
            REPO / "postgres/initdb.d/10-create-databases.sh",
            {"APP_DB_PASSWORD": DB_PASSWORD, "GLITCHTIP_DB_PASSWORD": secrets.token_urlsafe(18)},
        )
        self.redis = self._started(RedisServer())
        self.open_meteo = self._started(OpenMeteoFake())
        self.open_meteo.record_requests = False
        self.receiver = self._started(SentryReceiver(keep=False))
        self.black_hole = self._started(BlackHoleServer())
        self.closed_port = free_port()
        self.env = {
            # The app's settings come from here only: none set by the caller (bench/run.py's other
            # groups set some in-process) or the developer's shell leaks into the apps measured.
            **{k: v for k, v in os.environ.items() if not k.startswith(APP_SETTINGS)},
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "DJANGO_USE_X_FORWARDED_FOR": "true",
            "DATABASE_URL": self.postgres.url("app", DB_PASSWORD, "app"),
            "REDIS_URL": self.redis.url(0),
            "OPEN_METEO_FORECAST_URL": f"{self.open_meteo.url}/v1/forecast",
            "OPEN_METEO_GEOCODING_URL": f"{self.open_meteo.url}/v1/search",
            "DJANGO_STATIC_ROOT": str(self.workdir / "static"),
            "SENTRY_ENABLED": "false",
            "SENTRY_ENVIRONMENT": "bench",
            "SENTRY_RELEASE": "migraine-forecast@bench",
        }
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run(
                [sys.executable, "manage.py", *command], cwd=REPO / "app", env=self.env, check=True, capture_output=True
            )
        self.projects = 0

    def _started(self, service):
        service.start()
        self.stack.callback(service.stop)
        return service

    def app(
        self,
        name: str,
        glitchtip: str | None = None,
        traces: str = "0.1",
        profiles: str = "0",
        application: str = "config.wsgi:application",
    ) -> App:
        """An app variant: Sentry off, or on and sending to `glitchtip` ("receiver", "closed port",
        "black hole") at the given sample rates, gunicorn serving `application`."""
        self.projects += 1
        env = dict(self.env)
        if glitchtip:
            port = {
                "receiver": self.receiver.port,
                "closed port": self.closed_port,
                "black hole": self.black_hole.port,
            }[glitchtip]
            env.update(
                SENTRY_ENABLED="true",
                SENTRY_DSN=f"http://{PUBLIC_KEY}@127.0.0.1:{port}/{self.projects}",
                SENTRY_TRACES_SAMPLE_RATE=traces,
                SENTRY_PROFILES_SAMPLE_RATE=profiles,
            )
        stack = ExitStack()
        self.stack.callback(stack.close)
        gunicorn = stack.enter_context(
            running_gunicorn(
                env,
                self.workdir / f"gunicorn-{self.projects}.log",
                workers=WORKERS,
                inherit=False,
                application=application,
            )
        )
        nginx = NginxServer(gunicorn.url.removeprefix("http://"), f"127.0.0.1:{self.closed_port}").start()
        stack.callback(nginx.stop)
        return App(name, self.projects, gunicorn, nginx, stack)

    def close(self):
        self.stack.close()


def log_in(app: App) -> str:
    """Register a user through the pages (the link that finishes it is in the e-mail the app prints
    to its log: no EMAIL_URL here), add the places (the app fetches each forecast from the local
    Open-Meteo and predicts), and return the session cookie."""
    session = requests.Session()
    session.get(f"{app.url}/accounts/register/", timeout=10)
    name = f"bench-{secrets.token_hex(3)}"
    response = session.post(
        f"{app.url}/accounts/register/",
        timeout=10,
        data={"email": f"{name}@example.com", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
    )
    response.raise_for_status()
    link = found(r"https?://[^/\s]+(/accounts/register/\S+/)", app.gunicorn.log.read_text())[1]
    password = secrets.token_urlsafe(16)
    response = session.post(
        f"{app.url}{link}",
        timeout=10,
        data={
            "username": name,
            "password1": password,
            "password2": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
    )
    response.raise_for_status()
    for number in range(PLACES):
        response = session.post(
            f"{app.url}/locations/add/",
            timeout=30,
            data={
                "name": f"Place {number}",
                "latitude": f"{50 + number}",
                "longitude": f"{10 + number}",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
        )
        assert response.status_code == 200 and f"Place {number}" in response.text, response.status_code
    return f"sessionid={session.cookies['sessionid']}"


def static_path(app: App) -> str:
    page = requests.get(f"{app.url}/accounts/login/", timeout=10).text
    return found(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page).group(1)


def ratio_at_least(minimum: float):
    return lambda measure: measure.ratio() >= minimum


def measures(rounds: int = 3) -> list[Measure]:
    started = time.monotonic()
    stack = Stack()
    try:
        results = throughput(stack, rounds) + memory(stack) + error_burst(stack, rounds)
    finally:
        stack.close()
    print(f"serving: done in {time.monotonic() - started:.0f} s", flush=True)
    return results


def throughput(stack: Stack, rounds: int) -> list[Measure]:
    print(
        f"serving: {WORKERS} gunicorn workers behind nginx per variant, wrk {CONNECTIONS} connections, "
        f"{SECONDS} s per variant per round",
        flush=True,
    )
    stack.off = stack.app("Sentry off")
    errors_only = stack.app("traces 0", "receiver", traces="0")
    stack.healthy = stack.app("traces 0.1", "receiver")
    profiled = stack.app("traces 0.1, profiles 0.1", "receiver", profiles="0.1")
    full = stack.app("traces 1.0", "receiver", traces="1.0")
    # The same app twice: how far apart two identical variants measure is this benchmark's noise.
    twin = stack.app("traces 1.0, twin", "receiver", traces="1.0")
    # Static files found by WhiteNoise's middleware inside Django, not in front (config/wsgi.py).
    via_django = stack.app(
        "traces 1.0, Django's WSGI application", "receiver", traces="1.0", application="config.wsgi:django_application"
    )
    stack.closed = stack.app("GlitchTip a closed port", "closed port")
    stack.hung = stack.app("GlitchTip never answers", "black hole")
    stack.cookie = log_in(stack.off)
    css = static_path(stack.off)
    logged_in = {"Cookie": stack.cookie}
    runs = {
        "dashboard: Sentry off": (stack.off, "/", logged_in),
        "dashboard: errors only, traces 0": (errors_only, "/", logged_in),
        "dashboard: traces 0.1": (stack.healthy, "/", logged_in),
        "dashboard: traces 0.1 + profiles 0.1": (profiled, "/", logged_in),
        "dashboard: traces 1.0": (full, "/", logged_in),
        "dashboard: twin": (twin, "/", logged_in),
        "dashboard: GlitchTip a closed port": (stack.closed, "/", logged_in),
        "dashboard: GlitchTip never answers": (stack.hung, "/", logged_in),
        "/healthz: Sentry off": (stack.off, "/healthz", {}),
        "/healthz: traces 1.0": (full, "/healthz", {}),
        "static file: Sentry off": (stack.off, css, {}),
        "static file: traces 1.0": (full, css, {}),
        "static file: twin": (twin, css, {}),
        "static file: through Django": (via_django, css, {}),
    }
    for app, path, headers in runs.values():  # warm up: connections, caches, the first queries
        wrk(f"{app.url}{path}", seconds=1, headers=headers)
    failed: dict[str, list[int]] = {name: [] for name in runs}
    # CPU per request of the app's gunicorn, its nginx and Postgres (one app is loaded at a time):
    # steadier than requests/s on a shared machine, and what requests/s follows on a quiet one.
    cpu_ms: dict[str, list[float]] = {name: [] for name in runs}

    def run(name: str) -> float:
        app, path, headers = runs[name]
        processes = (app.gunicorn.process, app.nginx.process, stack.postgres.process)
        used = cpu_seconds(*processes)
        load = wrk(f"{app.url}{path}", headers=headers)
        cpu_ms[name].append((cpu_seconds(*processes) - used) * 1000 / load.requests)
        failed[name].append(load.failed)
        return load.per_second

    rps = interleaved(rounds, {name: partial(run, name) for name in runs})

    def compare(title, on, off, minimum=None):
        return Measure(
            title,
            "req/s",
            {on.split(": ")[1]: rps[on], off.split(": ")[1]: rps[off]},
            ratio_of=(on.split(": ")[1], off.split(": ")[1]),
            target=f"ratio >= {minimum}" if minimum else "information",
            check=ratio_at_least(minimum) if minimum else None,
        )

    def cpu(title, on, off):
        on_label, off_label = on.split(": ")[1], off.split(": ")[1]
        return Measure(
            title,
            "ms",
            {off_label: cpu_ms[off], on_label: cpu_ms[on]},
            ratio_of=(off_label, on_label),
            target="information",
        )

    outage_failures = failed["dashboard: GlitchTip a closed port"] + failed["dashboard: GlitchTip never answers"]
    return [
        # What the SDK costs a request that is never traced: the share of the cost sampling cannot lower.
        compare("dashboard, errors only (no tracing)", "dashboard: errors only, traces 0", "dashboard: Sentry off"),
        cpu("  CPU per request (off / on)", "dashboard: errors only, traces 0", "dashboard: Sentry off"),
        compare("dashboard, production rate", "dashboard: traces 0.1", "dashboard: Sentry off", 0.95),
        cpu("  CPU per request (off / on)", "dashboard: traces 0.1", "dashboard: Sentry off"),
        compare("dashboard, everything traced", "dashboard: traces 1.0", "dashboard: Sentry off", 0.85),
        cpu("  CPU per request (off / on)", "dashboard: traces 1.0", "dashboard: Sentry off"),
        Measure(
            "dashboard, profiling (GlitchTip drops it)",
            "req/s",
            {"profiles 0.1": rps["dashboard: traces 0.1 + profiles 0.1"], "profiles 0": rps["dashboard: traces 0.1"]},
            ratio_of=("profiles 0.1", "profiles 0"),
            target="information",
        ),
        compare("/healthz (never traced)", "/healthz: traces 1.0", "/healthz: Sentry off", 0.98),
        cpu("  CPU per request (off / on)", "/healthz: traces 1.0", "/healthz: Sentry off"),
        compare("static file (never traced)", "static file: traces 1.0", "static file: Sentry off", 0.98),
        cpu("  CPU per request (off / on)", "static file: traces 1.0", "static file: Sentry off"),
        # config/wsgi.py answers static files in front of Django: it stays while this pays.
        compare("static file, in front of Django", "static file: traces 1.0", "static file: through Django", 1.2),
        cpu("  CPU per request (Django / front)", "static file: traces 1.0", "static file: through Django"),
        compare("noise: dashboard, twin apps", "dashboard: twin", "dashboard: traces 1.0"),
        compare("noise: static file, twin apps", "static file: twin", "static file: traces 1.0"),
        compare("dashboard, GlitchTip down", "dashboard: GlitchTip a closed port", "dashboard: traces 0.1", 0.98),
        compare("dashboard, GlitchTip hung", "dashboard: GlitchTip never answers", "dashboard: traces 0.1", 0.98),
        Measure(
            "failed requests, GlitchTip down or hung",
            "requests",
            {
                "closed port": failed["dashboard: GlitchTip a closed port"],
                "never answers": failed["dashboard: GlitchTip never answers"],
            },
            target="0",
            check=lambda m: not any(outage_failures),
        ),
    ]


def memory(stack: Stack) -> list[Measure]:
    """Worker memory under continuous load for MEMORY_SECONDS, Sentry off and GlitchTip healthy,
    down and hung side by side; growth of each worker from the first sample (after 10 s, warmed
    up) to the last."""
    apps = {
        "Sentry off": stack.off,
        "GlitchTip healthy": stack.healthy,
        "closed port": stack.closed,
        "never answers": stack.hung,
    }
    print(f"serving: worker memory over {MEMORY_SECONDS} s of dashboard load, {len(apps)} apps at once", flush=True)
    loads = {
        name: Wrk(f"{app.url}/", seconds=MEMORY_SECONDS, connections=4, headers={"Cookie": stack.cookie})
        for name, app in apps.items()
    }
    time.sleep(10)
    first = {name: app.worker_rss_mb() for name, app in apps.items()}
    for elapsed in range(20, MEMORY_SECONDS + 1, 10):
        time.sleep(10)
        last = {name: app.worker_rss_mb() for name, app in apps.items()}
        print(
            f"  {elapsed} s: "
            + ", ".join(f"{name} {sum(rss.values()):.0f} MB in {len(rss)} workers" for name, rss in last.items()),
            flush=True,
        )
    for name, load in loads.items():
        result = load.result()
        print(f"  {name}: {result.requests} requests, {result.failed} failed", flush=True)
    growth = {name: [last[name][pid] - first[name][pid] for pid in first[name] if pid in last[name]] for name in apps}
    # Flat during an outage: no worker grows more than the most any worker grows while GlitchTip
    # is healthy, plus 1 MB. A healthy worker grows a little more than one with Sentry off (the
    # SDK's buffers and caches filling once, about 1.4 MB when measured); what an outage must not
    # add is a queue, retries or connections that keep growing.
    limit = max(growth["GlitchTip healthy"]) + 1
    return [
        Measure(
            f"worker memory growth, 10 s to {MEMORY_SECONDS} s",
            "MB",
            growth,
            target=f"outages < {limit:.1f} (healthy + 1)",
            check=lambda m: all(max(m.samples[name]) < limit for name in ("closed port", "never answers")),
        )
    ]


def error_burst(stack: Stack, rounds: int) -> list[Measure]:
    """About 1,000 requests in 10 s with a Host header the app refuses, what a scanner sends: each
    is a 400 and an error event (django.security.DisallowedHost), delivered to the receiver. At the
    end the app with Sentry on is stopped, so that its workers send their client reports: what
    the SDK itself counted as dropped, to compare with what the receiver is missing."""
    print(
        f"serving: error burst, {BURST_CONNECTIONS} connections pacing {BURST_DELAY_MS} ms for {BURST_SECONDS} s",
        flush=True,
    )
    app = stack.app("error burst", "receiver")
    project = str(app.project)

    def received() -> int:
        return stack.receiver.counts[project, "event"]

    def raised_so_far() -> int:  # counted by the app: wrk misses answers still on the way when it stops
        return len(app.gunicorn.log_lines('" 400 '))

    apps = {"Sentry on": app, "Sentry off": stack.off}
    for warming in apps.values():  # each worker's first event reads source files, connects...
        burst(warming, seconds=2)
    settled(received)
    counts: dict[str, list[int]] = {"raised": [], "delivered": []}
    loads: dict[str, list[Load]] = {name: [] for name in apps}

    def run(name: str) -> float:
        before = received(), raised_so_far()
        load = burst(apps[name])
        loads[name].append(load)
        if name == "Sentry on":
            counts["delivered"].append(settled(received) - before[0])
            counts["raised"].append(raised_so_far() - before[1])
        return load.p99_ms

    interleaved(rounds, {name: partial(run, name) for name in apps})
    app.stop()
    raised, delivered = raised_so_far(), received()
    dropped = {
        reason: quantity
        for (p, category, reason), quantity in stack.receiver.discarded.items()
        if p == project and category == "error"
    }
    counts[SDK_DROPPED] = [sum(dropped.values())]
    print(
        f"  with the warm-up: {raised} raised, {delivered} delivered, {raised - delivered} missing; "
        f"the SDK's client reports: {dropped or 'nothing'} dropped",
        flush=True,
    )
    return [
        Measure(
            "error burst: latency p50",
            "ms",
            {n: [x.p50_ms for x in v] for n, v in loads.items()},
            ratio_of=("Sentry on", "Sentry off"),
            target="information",
        ),
        Measure(
            "error burst: latency p99",
            "ms",
            {n: [x.p99_ms for x in v] for n, v in loads.items()},
            ratio_of=("Sentry on", "Sentry off"),
            target="information",
        ),
        Measure(
            "error burst: events",
            "events",
            counts,
            ratio_of=("delivered", "raised"),
            target="missing = SDK's count",
            check=lambda m: raised - delivered == m.samples[SDK_DROPPED][0],
        ),
    ]


def burst(app: App, seconds: float = BURST_SECONDS) -> Load:
    return wrk(
        f"{app.url}/",
        seconds=seconds,
        connections=BURST_CONNECTIONS,
        delay_ms=BURST_DELAY_MS,
        headers={"Host": "scanner.example"},
    )


def settled(count, quiet: float = 1.0, limit: float = 15.0) -> int:
    """`count()` once it has stopped changing for `quiet` seconds (deliveries still arriving)."""
    deadline = time.monotonic() + limit
    previous = count()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        current = count()
        if current == previous:
            return current
        previous = current
    return previous


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every variant (default 3)")
    sys.exit(0 if print_table(measures(parser.parse_args().rounds)) else 1)
