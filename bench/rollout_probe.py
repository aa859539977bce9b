"""Probe a URL every 0.2 s while a command runs, e.g. a rolling update, and count what failed.

    python3 bench/rollout_probe.py http://localhost/healthz -- scripts/swarm-deploy production --no-build

A probe fails when it gets no answer within 2 s or any status but 200. Prints the command's
output as it comes, each failed probe with its time and reason, then the probes sent and failed
and how long the command took; exits with the command's status, or 1 if a probe failed.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

INTERVAL = 0.2
TIMEOUT = 2.0


def probe(url: str) -> str:
    """'' when the answer is 200, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return "" if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("command", nargs="+", help="the command to run while probing (after --)")
    args = parser.parse_args(argv[1:])
    sent, failures = 0, []
    done = threading.Event()
    started = time.monotonic()

    def run_probes() -> None:
        nonlocal sent
        tick = time.monotonic()
        while not done.is_set():
            reason = probe(args.url)
            sent += 1
            if reason:
                failures.append((time.monotonic() - started, reason))
                print(f"probe: FAILED at {failures[-1][0]:.1f} s: {reason}", flush=True)
            tick += INTERVAL
            time.sleep(max(0.0, tick - time.monotonic()))

    prober = threading.Thread(target=run_probes)
    prober.start()
    status = subprocess.run(args.command).returncode
    duration = time.monotonic() - started
    done.set()
    prober.join()
    print(f"probe: {sent} probes of {args.url} every {INTERVAL} s, {len(failures)} failed; "
          f"the command took {duration:.1f} s and exited {status}")
    return status or (1 if failures else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
