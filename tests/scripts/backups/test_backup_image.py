"""The backup image (scripts/backups/Dockerfile) holds exactly the modules its schedule imports: every
one it needs (a missing one would fail only in the container), and nothing else of scripts/."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.harness.processes import REPO

CONTEXT = REPO / "scripts"  # compose.yml: the backup service's build context
# COPY SOURCE... DESTINATION, the destination in the image's /bundle (PYTHONPATH there).
COPY = re.compile(r"^COPY\s+((?:[^\n\\]|\\\n)+?)\s+(/bundle/\S*)$", re.M)
IMPORTED = ("import sys, scripts.backups.backup_schedule\n"
            "print('\\n'.join(module.__file__ for name, module in list(sys.modules.items())"
            " if name.split('.')[0] == 'scripts'))")


def test_the_image_copies_exactly_what_the_schedule_imports(tmp_path):
    bundle = tmp_path / "bundle"
    copies = COPY.findall((CONTEXT / "backups" / "Dockerfile").read_text())
    assert copies
    for sources, destination in copies:
        target = tmp_path / destination.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        for source in sources.replace("\\\n", " ").split():
            if (CONTEXT / source).is_dir():
                shutil.copytree(CONTEXT / source, target, dirs_exist_ok=True)
            else:
                shutil.copy(CONTEXT / source, target)
    # As the image runs it: only /bundle on the path, not the repository (-P: not the current folder either).
    result = subprocess.run([sys.executable, "-P", "-c", IMPORTED], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(bundle)})
    assert result.returncode == 0, result.stderr
    imported = {Path(path).relative_to(bundle) for path in result.stdout.split()}
    copied = {path.relative_to(bundle) for path in bundle.rglob("*.py")}
    assert imported == copied
    assert Path("scripts/backups/backup_schedule.py") in copied
