"""The rehearsal's drills on a real swarm (scripts/swarm/rehearsal.py), each measured with the probe
through nginx (bench/probe.py: a request every 0.2 s, 2 s timeout):

- a rolling update of the app across nodes: failed probes (0 expected);
- a worker engine killed: failed probes, seconds until its tasks run elsewhere, nothing lost; the
  node back, and the next update spreading the app's replicas over it again;
- the data node killed: what users see, what is lost, how long recovery takes.

What "nothing lost" means here: an account created before the drill is still there, and a user who
was logged in before is still logged in after it (the session is a row in Postgres).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests

from bench.probe import Prober, Summary, summarise
from scripts.stack import engine
from scripts.swarm import local_cluster
from scripts.swarm.local_cluster import Node

if TYPE_CHECKING:
    import subprocess

PROBE_INTERVAL = 0.2
PROBE_TIMEOUT = 2.0
# How long the data node stays away in its drill, and how long anything may take to come back.
DATA_NODE_AWAY_SECONDS = 30
RECOVERY_TIMEOUT = 300
# The title of the site's own 500 page (app/templates/500.html), what a user sees without the database.
ERROR_PAGE = "Something went wrong"

# The longest a request waits on a database whose node is gone (app/config/settings.py's libpq limits).
WORST_DATABASE_WAIT = 5 + 2


@dataclass
class Drill:
    name: str
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # expectations not met

    def say(self, line: str) -> None:
        print(f"    {line}", flush=True)
        self.lines.append(line)

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)
            self.say(f"NOT AS EXPECTED: {problem}")


@contextmanager
def probing(url: str, session: requests.Session | None = None) -> Iterator[dict]:
    """bench/probe.py's prober on `url` for the block (with `session`'s cookies: a logged-in user); the
    summary lands in the yielded dict under "summary" at the end of the block."""
    started = time.monotonic()
    prober = Prober(url, PROBE_INTERVAL, PROBE_TIMEOUT, started)
    if session is not None:
        prober.http.cookies.update(session.cookies)
        # A page answered by a redirect to the log-in page would be a lost session, not a 200.
        prober.http.max_redirects = 0
    result: dict = {}
    prober.start()
    try:
        yield result
    finally:
        prober.stopping.set()
        prober.join()
        result["summary"] = summarise(prober.samples, time.monotonic() - started)
        result["samples"] = prober.samples


def answers(session: requests.Session, url: str, text: str) -> bool:
    """`url` answers 200 with `text` in the page (no redirect: to the log-in page would be a lost session)."""
    try:
        page = session.get(url, timeout=5, allow_redirects=False)
    except requests.RequestException:
        return False
    return page.status_code == 200 and text in page.text


def figures(summary: Summary) -> str:
    return summary.line().removeprefix("probe: ")


class Rehearsed:
    """The deployed stack as the drills see it: its services and tasks, the app's pages, a shell in the app."""

    def __init__(self, stack: str, base_url: str, deploy: Callable[[str], tuple[int, list[str]]]):
        self.stack = stack
        self.base_url = base_url
        self.deploy = deploy  # runs scripts/swarm-deploy for a new release name: its exit status and lines
        self.password = secrets.token_urlsafe(16)

    # ---- the swarm, read through `docker ... --format json` / inspect -----------------------------------

    def running(self) -> dict[str, list[str]]:
        """Service (without the stack prefix) -> the host names of the nodes its running tasks are on."""
        nodes = {row["ID"]: row["Hostname"] for row in local_cluster.nodes()}
        services = engine.docker(
            "service", "ls", "--quiet", "--filter", f"label=com.docker.stack.namespace={self.stack}", check=True
        ).stdout.split()
        task_ids = (
            engine.docker(
                "service", "ps", "--quiet", "--no-trunc", "--filter", "desired-state=running", *services, check=True
            ).stdout.split()
            if services
            else []
        )
        placed: dict[str, list[str]] = {}
        names = {s["ID"]: s["Spec"]["Name"].removeprefix(f"{self.stack}_") for s in engine.inspect(*services)}
        for task in engine.inspect(*task_ids):
            if task["Status"]["State"] == "running":
                placed.setdefault(names[task["ServiceID"]], []).append(nodes.get(task["NodeID"], task["NodeID"]))
        return {name: sorted(hosts) for name, hosts in sorted(placed.items())}

    def replicas(self) -> dict[str, int]:
        services = engine.docker(
            "service", "ls", "--quiet", "--filter", f"label=com.docker.stack.namespace={self.stack}", check=True
        ).stdout.split()
        return {
            s["Spec"]["Name"].removeprefix(f"{self.stack}_"): s["Spec"]["Mode"]["Replicated"]["Replicas"]
            for s in engine.inspect(*services)
            if "Replicated" in s["Spec"]["Mode"]
        }

    def node_state(self, hostname: str) -> str:
        return next((row["Status"] for row in local_cluster.nodes() if row["Hostname"] == hostname), "unknown")

    # ---- the app -----------------------------------------------------------------------------------------

    def manage(self, code: str) -> str:
        """`python manage.py shell -c CODE` in a running app task: on this engine, else on a node's."""
        engines: list[Callable[..., subprocess.CompletedProcess]] = [
            engine.docker,
            *[n.docker for n in local_cluster.NODES],
        ]
        for docker in engines:
            ids = docker(
                "ps",
                "--quiet",
                "--filter",
                f"label=com.docker.swarm.service.name={self.stack}_app",
                "--filter",
                "status=running",
                check=False,
            ).stdout.split()
            if ids:
                return str(
                    docker("exec", ids[0], "python", "manage.py", "shell", "-c", code, timeout=120, check=True).stdout
                ).strip()
        raise local_cluster.ClusterError("no running task of the app on any engine")

    def create_account(self, username: str) -> None:
        self.manage(
            f"from django.contrib.auth.models import User; "
            f"User.objects.create_user({username!r}, password={self.password!r})"
        )

    def accounts(self, prefix: str) -> list[str]:
        found = self.manage(
            f"from django.contrib.auth.models import User; import json; print(json.dumps(sorted("
            f"User.objects.filter(username__startswith={prefix!r}).values_list('username', "
            f"flat=True))))"
        )
        return list(json.loads(found.splitlines()[-1]))

    def log_in(self, username: str) -> requests.Session:
        """A browser's session: the log-in form (its CSRF cookie and token), then the user's page."""
        session = requests.Session()
        form = session.get(f"{self.base_url}/accounts/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        if form.status_code != 200 or token is None:
            raise local_cluster.ClusterError(f"the log-in page answered {form.status_code} without a form")
        answer = session.post(
            f"{self.base_url}/accounts/login/",
            timeout=10,
            allow_redirects=False,
            data={"username": username, "password": self.password, "csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": f"{self.base_url}/accounts/login/"},
        )
        if answer.status_code != 302:
            raise local_cluster.ClusterError(f"logging in as {username} answered {answer.status_code}")
        return session

    def logged_in(self, session: requests.Session) -> bool:
        return answers(session, f"{self.base_url}/", "Log out")

    def what_users_see(self, session: requests.Session) -> list[str]:
        """Status and title of the pages a user opens now: their list of places, the readiness probe and GlitchTip."""
        seen = []
        for label, url, client in (
            ("the places page", f"{self.base_url}/", session),
            ("/readyz", f"{self.base_url}/readyz", requests),
            ("GlitchTip", f"{self.base_url}:8001/", requests),
        ):
            try:
                # A gunicorn thread whose database connection was open when the node went waits up to
                # 5 s to learn it is dead (tcp_user_timeout), then 2 s to connect (connect_timeout).
                page = client.get(url, timeout=WORST_DATABASE_WAIT + 3, allow_redirects=False)
            except requests.RequestException as exc:
                seen.append(f"{label}: no answer ({type(exc).__name__})")
                continue
            title = re.search(r"<title>(.*?)</title>", page.text, re.S)
            shown = title.group(1).strip() if title else page.text.strip()[:80]
            seen.append(f"{label}: {page.status_code} {shown!r}")
        return seen


# ---- the drills ------------------------------------------------------------------------------------------


def rolling_update(stack: Rehearsed, release: str) -> Drill:
    drill = Drill(f"rolling update of the app to {release} across nodes")
    before = stack.running()
    drill.say(f"app before: {', '.join(before.get('app', []))}")
    with probing(f"{stack.base_url}/healthz") as probe:
        status, output = stack.deploy(release)
    summary = probe["summary"]
    after = stack.running()
    drill.say(f"probe /healthz through nginx: {figures(summary)}")
    # Step 10's result: on its own line when it had replicas to move (their progress comes first).
    spread = [
        line.split(" ... ", 1)[-1].strip()
        for line in output
        if "spread again:" in line or "replicas are spread" in line
    ]
    drill.say(f"swarm-deploy's spreading step: {spread[0] if spread else '(not reached)'}")
    drill.say(f"app after: {', '.join(after.get('app', []))}")
    drill.expect(status == 0, f"swarm-deploy exited {status}")
    drill.expect(summary.failed_probes == 0, f"{summary.failed_probes} probes failed during the update")
    return drill


def worker_lost(stack: Rehearsed, node: Node, release: str) -> Drill:
    drill = Drill(f"the engine of the worker {node.name} killed")
    account = f"drill-worker-{int(time.time())}"
    stack.create_account(account)
    session = stack.log_in(account)
    before = stack.running()
    moving = {name: hosts.count(node.name) for name, hosts in before.items() if node.name in hosts}
    drill.say(f"on {node.name} before: {', '.join(f'{name} x{count}' for name, count in moving.items())}")
    replicas = stack.replicas()
    with probing(f"{stack.base_url}/healthz") as probe, probing(f"{stack.base_url}/", session) as page:
        killed = time.monotonic()
        local_cluster.stop_engine(node)  # SIGTERM, as the recipe's `kill`: its containers are stopped
        drill.say(f"engine stopped after {time.monotonic() - killed:.1f} s (SIGTERM: it stops its containers first)")
        local_cluster.wait_until(
            lambda: stack.node_state(node.name) == "Down", f"{node.name} to be Down", timeout=RECOVERY_TIMEOUT
        )
        drill.say(f"the manager marked {node.name} Down after {time.monotonic() - killed:.1f} s")

        def moved() -> bool:
            now = stack.running()
            return all(
                len(now.get(name, [])) == replicas.get(name, 1) and node.name not in now.get(name, [])
                for name in moving
            )

        local_cluster.wait_until(moved, f"the tasks of {node.name} to run elsewhere", timeout=RECOVERY_TIMEOUT)
        drill.say(
            f"its tasks ran elsewhere after {time.monotonic() - killed:.1f} s: "
            + "; ".join(f"{name} on {', '.join(stack.running()[name])}" for name in moving)
        )
        time.sleep(5)  # a little of the steady state after
    drill.say(f"probe /healthz through nginx: {figures(probe['summary'])}")
    drill.say(f"probe / (a logged-in user's page): {figures(page['summary'])}")
    drill.expect(account in stack.accounts("drill-worker-"), f"the account {account} is gone")
    drill.expect(stack.logged_in(session), "the logged-in user lost their session")
    drill.say("nothing lost: the account made before is there and its user is still logged in")

    back = time.monotonic()
    local_cluster.start_engine(node)
    local_cluster.wait_until(
        lambda: stack.node_state(node.name) == "Ready", f"{node.name} to be Ready again", timeout=RECOVERY_TIMEOUT
    )
    drill.say(
        f"{node.name} back: engine started and Ready after {time.monotonic() - back:.1f} s; app on "
        f"{', '.join(stack.running().get('app', []))} (Swarm does not move tasks back by itself)"
    )
    update = rolling_update(stack, release)
    drill.lines += [f"next update: {line}" for line in update.lines]
    drill.problems += update.problems
    app_nodes = stack.running().get("app", [])
    drill.expect(
        node.name in app_nodes and len(set(app_nodes)) == len(app_nodes),
        f"the next update left the app on {', '.join(app_nodes)}",
    )
    return drill


def data_node_lost(stack: Rehearsed, node: Node) -> Drill:
    drill = Drill(f"the engine of the data node {node.name} killed for {DATA_NODE_AWAY_SECONDS} s")
    account = f"drill-data-{int(time.time())}"
    stack.create_account(account)
    session = stack.log_in(account)
    with probing(f"{stack.base_url}/healthz") as probe, probing(f"{stack.base_url}/", session) as page:
        killed = time.monotonic()
        local_cluster.stop_engine(node)
        drill.say(f"engine stopped after {time.monotonic() - killed:.1f} s")
        time.sleep(max(0.0, 10 - (time.monotonic() - killed)))
        seen = stack.what_users_see(session)
        for line in seen:
            drill.say(f"while it is away, {line}")
        drill.expect(ERROR_PAGE in seen[0], f"the places page is not the site's error page ({ERROR_PAGE!r})")
        time.sleep(max(0.0, DATA_NODE_AWAY_SECONDS - (time.monotonic() - killed)))
        restarted = time.monotonic()
        local_cluster.start_engine(node)
        local_cluster.wait_until(
            lambda: stack.node_state(node.name) == "Ready", f"{node.name} to be Ready", timeout=RECOVERY_TIMEOUT
        )
        drill.say(
            f"engine started again {restarted - killed:.1f} s after the kill; Ready after "
            f"{time.monotonic() - restarted:.1f} s"
        )
        local_cluster.wait_until(
            lambda: stack.logged_in(session), "the user's page to answer again", timeout=RECOVERY_TIMEOUT, every=1
        )
        drill.say(
            f"the user's page answers again {time.monotonic() - restarted:.1f} s after the engine was started "
            f"({time.monotonic() - killed:.1f} s after the kill)"
        )
        local_cluster.wait_until(
            lambda: answers(requests.Session(), f"{stack.base_url}:8001/_health/", "ok"),
            "GlitchTip to answer again",
            timeout=RECOVERY_TIMEOUT,
            every=1,
        )
        drill.say(f"GlitchTip answers again {time.monotonic() - restarted:.1f} s after the engine was started")
    drill.say(f"probe /healthz through nginx: {figures(probe['summary'])}")
    drill.say(f"probe / (a logged-in user's page): {figures(page['summary'])}")
    drill.expect(account in stack.accounts("drill-data-"), f"the account {account} is gone")
    drill.say(
        "nothing lost: the account made before is there and its user is still logged in "
        "(the volumes stayed on the node)"
    )
    return drill
