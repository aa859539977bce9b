"""Measure the downtime a command causes: probe a URL every 0.2 s while the command runs.

    python3 bench/probe.py http://localhost/healthz -- scripts/up development
    python3 bench/probe.py --json http://localhost/healthz -- scripts/compose development up -d app
    python3 bench/probe.py --ca-file env/production.rehearsal-ca.pem https://forecast.localhost/healthz -- ...

The command's own output goes through unchanged; at the end one summary line (or, with --json,
one JSON object) gives the command's duration, the probes sent, how many failed (an answer other
than 200, or none within the timeout), and each outage: from the first failed probe to the
next good one. The exit status is the command's. An https URL is verified against the public CAs,
or against --ca-file (a rehearsal's or a private CA: TLS_CA_FILE); a certificate that does not
verify is a failed probe.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

import requests


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the command started
    ok: bool
    detail: str  # the status code, or the error


@dataclass
class Outage:
    start: float
    seconds: float
    failed_probes: int
    first_failure: str


@dataclass
class Summary:
    command_seconds: float
    probes: int
    failed_probes: int
    outages: list[Outage] = field(default_factory=list)

    @property
    def failed_seconds(self) -> float:
        return round(sum(outage.seconds for outage in self.outages), 1)

    def line(self) -> str:
        worst = max((outage.seconds for outage in self.outages), default=0.0)
        return (
            f"probe: {self.probes} probes in {self.command_seconds:.1f} s, {self.failed_probes} failed, "
            f"{len(self.outages)} outage(s), {self.failed_seconds:.1f} s down in all, longest {worst:.1f} s"
        )


def summarise(samples: list[Sample], command_seconds: float) -> Summary:
    """Group consecutive failed probes into outages; an outage ends at the next good probe (or the
    last probe, when the service never came back)."""
    summary = Summary(round(command_seconds, 1), len(samples), sum(not s.ok for s in samples))
    current: list[Sample] = []
    for sample in samples:
        if not sample.ok:
            current.append(sample)
            continue
        if current:
            summary.outages.append(_outage(current, sample.at))
            current = []
    if current:
        summary.outages.append(_outage(current, current[-1].at))
    return summary


def _outage(failed: list[Sample], ended: float) -> Outage:
    return Outage(round(failed[0].at, 1), round(ended - failed[0].at, 1), len(failed), failed[0].detail)


class Prober(threading.Thread):
    def __init__(self, url: str, interval: float, timeout: float, started: float, ca_file: str = ""):
        super().__init__(daemon=True)
        self.url, self.interval, self.timeout, self.started = url, interval, timeout, started
        self.samples: list[Sample] = []
        self.stopping = threading.Event()
        self.http = requests.Session()
        # Per request: a session's own `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self.verify: str | bool = ca_file or True

    def probe(self) -> Sample:
        at = time.monotonic() - self.started
        try:
            response = self.http.get(self.url, timeout=self.timeout, verify=self.verify)
        except requests.RequestException as exc:
            return Sample(at, False, exc.__class__.__name__)
        return Sample(at, response.status_code == 200, str(response.status_code))

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stopping.is_set():
            self.samples.append(self.probe())
            next_at += self.interval
            self.stopping.wait(max(0.0, next_at - time.monotonic()))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/probe.py",
        description=__doc__.split("\n")[0],
        usage="python3 bench/probe.py [--interval S] [--timeout S] [--json] [--ca-file PEM] URL -- COMMAND...",
    )
    parser.add_argument("url", help="what to probe, e.g. http://localhost/healthz (through nginx)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between probes (default 0.2)")
    parser.add_argument("--timeout", type=float, default=1.0, help="a probe without an answer by then fails")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument(
        "--ca-file", default="", help="verify https against this CA's certificate (PEM) instead of the public CAs"
    )
    # Everything after the first "--" is the command, untouched (it may have a "--" of its own).
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[1:cut])
    args.command = argv[cut + 1 :]
    if not args.command:
        parser.error("give the command to measure after --")
    started = time.monotonic()
    prober = Prober(args.url, args.interval, args.timeout, started, args.ca_file)
    prober.start()
    try:
        status = subprocess.run(args.command).returncode
    finally:
        elapsed = time.monotonic() - started
        prober.stopping.set()
        prober.join()
    summary = summarise(prober.samples, elapsed)
    if args.json:
        print(json.dumps({**asdict(summary), "failed_seconds": summary.failed_seconds, "exit_status": status}))
    else:
        print(summary.line())
        for outage in summary.outages:
            print(
                f"  down at {outage.start:.1f} s for {outage.seconds:.1f} s ({outage.failed_probes} probes, "
                f"first: {outage.first_failure})"
            )
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
