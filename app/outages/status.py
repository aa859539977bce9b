"""The outage watcher's last round, in a file: written by the watcher, read by the container's healthcheck.

    python -m outages.status FILE

exits 0 while the watcher finishes its rounds and could send the e-mail that was due, if any, and 1
(saying why) when its rounds stopped (stale after the time the watcher wrote into the file) or an
e-mail could not be sent. Plain Python, no Django: a healthcheck that started Django took over 10 s
on a busy host.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path


def write(path: Path, status: dict) -> None:
    """Whole or not at all: the healthcheck may read it at any moment."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        json.dump(status, tmp)
    os.replace(tmp.name, path)


def check(path: Path) -> str:
    """What the last round found; ValueError, saying why, when the watcher is not healthy."""
    try:
        status = json.loads(path.read_text())
        age = time.time() - datetime.fromisoformat(status["at"]).timestamp()
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist: the watcher has not finished a round") from None
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path} cannot be read: {exc}") from None
    if age > status["stale_after"]:
        raise ValueError(
            f"the last round was {age:.0f} s ago (more than {status['stale_after']} s): the watcher is stuck"
        )
    if status["mail_error"]:
        raise ValueError(
            f"the e-mail that is due could not be sent: {status['mail_error']} (check EMAIL_URL and the mail server)"
        )
    failing = "; ".join(f"{f['name']} failing since {f['since']}: {f['reason']}" for f in status["failing"])
    return f"outage watcher: last round {age:.0f} s ago; {failing or 'everything reachable'}"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: python -m outages.status FILE\n{__doc__}", file=sys.stderr)
        return 2
    try:
        print(check(Path(argv[1])))
    except ValueError as exc:
        print(f"outage watcher unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
