"""bench/probe.py: the downtime measurement of a redeploy (docs/operations/redeploys.md, bench/MEASUREMENTS.md)."""

import importlib.util
import sys
import threading
import time

from tests.harness.http_fake import FakeHTTPServer, Response
from tests.harness.processes import REPO

spec = importlib.util.spec_from_file_location("probe", REPO / "bench" / "probe.py")
probe = importlib.util.module_from_spec(spec)
sys.modules["probe"] = probe  # its dataclasses look their module up while they are made
spec.loader.exec_module(probe)


def test_consecutive_failures_are_one_outage_until_the_next_good_probe():
    samples = [
        probe.Sample(t / 10, ok, "200" if ok else "502")
        for t, ok in enumerate([True, False, False, True, True, False, True, False])
    ]
    summary = probe.summarise(samples, command_seconds=0.8)
    assert (summary.probes, summary.failed_probes) == (8, 4)
    assert [(o.start, o.seconds, o.failed_probes, o.first_failure) for o in summary.outages] == [
        (0.1, 0.2, 2, "502"),
        (0.5, 0.1, 1, "502"),
        (0.7, 0.0, 1, "502"),
    ]  # the last never came back
    assert summary.failed_seconds == 0.3


class Flapping(FakeHTTPServer):
    name = "flapping"
    down = False

    def route(self, request):
        return Response(502, "bad gateway") if self.down else Response(200, "ok")


def test_a_service_down_during_the_command_is_counted(capsys):
    server = Flapping().start()

    def flap():
        time.sleep(0.5)
        server.down = True
        time.sleep(0.6)
        server.down = False

    threading.Thread(target=flap, daemon=True).start()
    try:
        status = probe.main(
            [
                "probe",
                "--interval",
                "0.05",
                f"{server.url}/healthz",
                "--",
                sys.executable,
                "-c",
                "import time; time.sleep(1.6)",
            ]
        )
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert status == 0
    assert ", 1 outage(s)" in out and "first: 502" in out
    assert "0 failed" not in out
