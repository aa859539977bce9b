"""A backup on disk: BACKUP_DIR/ENV/<UTC time it started>/ holding manifest.json, app.dump,
glitchtip.dump, glitchtip-uploads.tar and SHA256SUMS (every file's sha256, the manifest's too, for
`sha256sum -c`). It is written into a hidden `.incomplete-*` folder beside and renamed at the very
end, so a folder with a timestamp name is always complete. Folders are mode 700, files 600.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

FORMAT = 1
MANIFEST, CHECKSUMS, UPLOADS, SECRETS_COPY = "manifest.json", "SHA256SUMS", "glitchtip-uploads.tar", "secrets.env"
# <UTC time>, or with a label (-before-restore) or a counter when two start in the same second.
NAME = re.compile(r"^\d{8}T\d{6}Z(?:-[a-z0-9-]+)?$")
INCOMPLETE = ".incomplete-"
ANOTHER = "restore another backup, or a copy of this one from off the machine"


class Invalid(Exception):
    """A backup that must not be restored: `problem`, and what to do about it."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


def private_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def complete(folder: Path) -> list[Path]:
    """The complete backups in an environment's folder, oldest first."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and NAME.match(p.name)) if folder.is_dir() else []


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` complete backups; returns what was deleted."""
    old = complete(folder)[:-keep]
    for path in old:
        shutil.rmtree(path)
    return old


@contextlib.contextmanager
def writing(folder: Path) -> Iterator[Path]:
    """A hidden folder to write a backup into, removed unless `finish` named it. One backup of an
    environment at a time: the lock is on its folder, which the host and the backup service both
    see, and under it the leftovers of a killed backup go."""
    private_folder(folder.parent)
    fd = os.open(private_folder(folder), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for stale in folder.glob(INCOMPLETE + "*"):
            shutil.rmtree(stale)
        temporary = folder / f"{INCOMPLETE}{os.getpid()}"
        temporary.mkdir(mode=0o700)
        try:
            yield temporary
        finally:
            shutil.rmtree(temporary, ignore_errors=True)  # gone already if it was finished
            os.fsync(fd)  # the rename reaches the disk
    finally:
        os.close(fd)  # and the lock goes


def finish(temporary: Path, name: str, manifest: dict) -> Path:
    """Write the manifest and the checksums, then give the backup its name."""
    files = {p.name: {"bytes": p.stat().st_size, "sha256": sha256(p)} for p in sorted(temporary.iterdir())}
    write_private(temporary / MANIFEST, json.dumps({**manifest, "files": files}, indent=2) + "\n")
    sums = {**{name: entry["sha256"] for name, entry in files.items()}, MANIFEST: sha256(temporary / MANIFEST)}
    write_private(temporary / CHECKSUMS, "".join(f"{digest}  {file}\n" for file, digest in sums.items()))
    target = next(
        path
        for n in itertools.count(1)
        if not (path := temporary.parent / (name if n == 1 else f"{name}-{n}")).exists()
    )
    # As root (the backup container), hand the files to whoever owns the backups folder: the operator.
    owner = temporary.parent.parent.stat()
    if os.geteuid() == 0 and owner.st_uid != 0:
        for path in [temporary.parent, temporary, *temporary.iterdir()]:
            os.chown(path, owner.st_uid, owner.st_gid)
    os.rename(temporary, target)
    return target


def sha256(path: Path) -> str:
    with open(path, "rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def write_private(path: Path, text: str) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def verify(folder: Path, needed: Iterable[str]) -> dict:
    """The manifest of a backup whose every file is present and matches SHA256SUMS; Invalid otherwise.
    Reads only."""
    if not folder.is_dir() or folder.name.startswith(INCOMPLETE):
        raise Invalid(
            f"{folder} is not a complete backup",
            "name one: a folder named by its time, e.g. backups/production/20261129T023000Z",
        )
    try:
        lines = (line.partition("  ") for line in (folder / CHECKSUMS).read_text().splitlines())
    except FileNotFoundError:
        raise Invalid(f"{folder} has no {CHECKSUMS}", "this is not a backup made by scripts/backup") from None
    sums = {name: digest for digest, _, name in lines}
    for name in [MANIFEST, *needed, *sums]:
        if not (folder / name).is_file():
            raise Invalid(f"{name} is missing from {folder}", ANOTHER)
        if sha256(folder / name) != sums.get(name):
            raise Invalid(f"{name} does not match its checksum in {CHECKSUMS}: it was changed or damaged", ANOTHER)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except ValueError:
        manifest = {}
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Invalid(
            f"{folder / MANIFEST} is not a format-{FORMAT} manifest",
            "restore it with the version of the bundle that made it",
        )
    return manifest
