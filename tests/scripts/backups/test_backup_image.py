"""The backup image (scripts/backups/Dockerfile) holds exactly the modules its entry points import (the
schedule, and the --direct backup and restore that scripts/backup and scripts/restore run in it): every
one they need (a missing one would fail only in the container), nothing of the host's side, and its
lock (scripts/backups/requirements.txt) holds the packages they import."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.harness.processes import REPO

CONTEXT = REPO / "scripts" / "backups"  # compose.yml: the backup service's build context
ENTRY_POINTS = ("scripts.backups.schedule", "scripts.backups.backup", "scripts.backups.restore")
# COPY SOURCE... DESTINATION, the destination in the image's /bundle (PYTHONPATH there).
COPY = re.compile(r"^COPY\s+((?:[^\n\\]|\\\n)+?)\s+(/bundle/\S*)$", re.M)
# Which modules of the bundle, and which distributions, the entry points load.
IMPORTED = f"""
import sys
startup = set(sys.modules)  # and what the interpreter's site-packages load by themselves (.pth files)
import importlib, importlib.metadata, json
for name in {ENTRY_POINTS!r}:
    importlib.import_module(name)
owners = importlib.metadata.packages_distributions()
top = {{name.split('.')[0] for name in set(sys.modules) - startup}} - set(sys.stdlib_module_names)
print(json.dumps({{
    "bundle": [module.__file__ for name, module in sys.modules.items() if name.split('.')[0] == 'scripts'
               and getattr(module, '__file__', None)],
    "distributions": sorted({{d.lower().replace('_', '-') for name in top for d in owners.get(name, [])}}),
}}))
"""


def requirement_names(path: Path) -> set[str]:
    return {
        re.split(r"[=<>\[ ;]", line, maxsplit=1)[0].lower()
        for line in path.read_text().splitlines()
        if line and not line.startswith((" ", "#"))
    }


def test_the_image_holds_exactly_what_its_entry_points_import(tmp_path):
    bundle = tmp_path / "bundle"
    copies = COPY.findall((CONTEXT / "Dockerfile").read_text())
    assert copies
    for sources, destination in copies:
        target = tmp_path / destination.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        for source in sources.replace("\\\n", " ").split():
            shutil.copy(CONTEXT / source, target)
    # As the image runs it: only /bundle on the path (-P: not the current folder either), and psycopg
    # on libpq (the image's lock has no psycopg-binary).
    result = subprocess.run(
        [sys.executable, "-P", "-c", IMPORTED],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(bundle), "PSYCOPG_IMPL": "python"},
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    imported = {Path(path).relative_to(bundle) for path in loaded["bundle"]}
    copied = {path.relative_to(bundle) for path in bundle.rglob("*.py")}
    assert imported == copied
    assert {path.parent for path in copied} == {Path("scripts/backups")}
    assert Path("scripts/backups/on_stack.py") not in copied  # the host's side drives Compose

    # The lock: every package they import, and no top-level requirement that nothing imports.
    assert set(loaded["distributions"]) <= requirement_names(CONTEXT / "requirements.txt")
    assert requirement_names(CONTEXT / "requirements.in") <= set(loaded["distributions"])
