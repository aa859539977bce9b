"""A backup on disk, and the folder of an environment's backups.

    backups/ENV/20261129T023000Z/     (BACKUP_DIR/ENV/<UTC time the backup started>)
        manifest.json                 what, when, from which stack, row counts, size and sha256 of every file
        app.dump, glitchtip.dump      pg_dump --format=custom of each database
        glitchtip-uploads.tar         GlitchTip's uploads
        SHA256SUMS                    the same checksums, manifest.json's too, for `sha256sum -c`

A backup is written into a hidden `.incomplete-*` folder beside and renamed at the very end, so a
folder with a timestamp name is always complete. Folders are mode 700, files 600.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

FORMAT = 1
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
UPLOADS = "glitchtip-uploads.tar"
SECRETS_COPY = "secrets.env"
# <UTC time>, or with a label (-before-restore) or a counter when two start in the same second.
NAME = re.compile(r"^\d{8}T\d{6}Z(?:-[a-z0-9-]+)?$")
INCOMPLETE = ".incomplete-"
ANOTHER = "restore another backup, or a copy of this one from off the machine"


class Invalid(Exception):
    """A backup that must not be restored: `problem`, and what to do about it."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


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
def locked(folder: Path) -> Iterator[None]:
    """One backup of an environment at a time (the host's and the backup service's alike: the lock is
    on the folder itself, which both see). Leftovers of a killed backup are removed under it."""
    private_folder(folder.parent)
    fd = os.open(private_folder(folder), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for stale in folder.glob(INCOMPLETE + "*"):
            shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        os.close(fd)  # releases the lock


class NewBackup:
    """A backup being written: `with NewBackup(folder) as new:` write into `new.temporary`, then
    `new.finish(manifest)`. Leaving the block any other way removes it."""

    def __init__(self, folder: Path, label: str = ""):
        self.folder = folder
        self.started = datetime.now(UTC)
        self.name = self.started.strftime("%Y%m%dT%H%M%SZ") + (f"-{label}" if label else "")
        self.temporary = folder / f"{INCOMPLETE}{self.name}-{os.getpid()}"
        self.final: Path | None = None

    def __enter__(self) -> NewBackup:
        self.temporary.mkdir(mode=0o700)
        return self

    def finish(self, manifest: dict) -> Path:
        """Write the manifest and the checksums, then give the backup its name."""
        write_manifest(self.temporary, manifest)
        target, number = self.folder / self.name, 1
        while target.exists():
            number += 1
            target = self.folder / f"{self.name}-{number}"
        # As root (the backup container), the files go to whoever owns the backups folder, so that
        # the operator on the host can read, copy and prune them.
        owner = self.folder.parent.stat()
        if os.geteuid() == 0 and owner.st_uid != 0:
            for path in [self.folder, self.temporary, *self.temporary.iterdir()]:
                os.chown(path, owner.st_uid, owner.st_gid)
        os.rename(self.temporary, target)
        fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)  # the rename itself reaches the disk
        finally:
            os.close(fd)
        self.final = target
        return target

    def __exit__(self, *exc_info) -> None:
        if self.final is None:
            shutil.rmtree(self.temporary, ignore_errors=True)


def size(count: int) -> str:
    """Bytes for people: 512 B, 45.1 kB, 3.2 MB."""
    amount = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            break
        amount /= 1000
    return f"{amount:.0f} B" if unit == "B" else f"{amount:.1f} {unit}"


def sha256(path: Path) -> str:
    with open(path, "rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def write_private(path: Path, text: str) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def write_manifest(folder: Path, manifest: dict) -> None:
    """manifest.json with the size and sha256 of every other file, and SHA256SUMS for all of them."""
    files = sorted(p.name for p in folder.iterdir())
    manifest["files"] = {name: {"bytes": (folder / name).stat().st_size, "sha256": sha256(folder / name)}
                         for name in files}
    write_private(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    sums = {**{name: entry["sha256"] for name, entry in manifest["files"].items()}, MANIFEST: sha256(folder / MANIFEST)}
    write_private(folder / CHECKSUMS, "".join(f"{digest}  {name}\n" for name, digest in sums.items()))


def read_manifest(folder: Path) -> dict:
    """The manifest of a backup, checked against SHA256SUMS; Invalid otherwise."""
    if not folder.is_dir():
        raise Invalid(f"{folder} is not a folder", "name a backup folder, e.g. backups/production/<time>")
    if folder.name.startswith(INCOMPLETE):
        raise Invalid(f"{folder.name} is an unfinished backup (it was interrupted or failed)",
                      "restore a complete one: a folder named by its time")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise Invalid(f"{folder} has no {MANIFEST}", "this is not a backup made by scripts/backup") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(f"{folder / MANIFEST} is damaged ({exc})", ANOTHER) from None
    if (folder / CHECKSUMS).exists():
        lines = (line.partition("  ") for line in (folder / CHECKSUMS).read_text().splitlines())
        sums = {name: digest for digest, _, name in lines}
        if sums.get(MANIFEST) != sha256(folder / MANIFEST):
            raise Invalid(f"{MANIFEST} does not match its checksum in {CHECKSUMS}: it was changed or damaged", ANOTHER)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"),
                                                                                           dict):
        raise Invalid(f"{folder / MANIFEST} is not a format-{FORMAT} manifest",
                      "restore it with the version of the bundle that made it")
    return manifest


def verify(folder: Path, needed: Iterable[str]) -> dict:
    """The manifest of a backup whose every file is present and intact; Invalid otherwise. Reads only."""
    manifest = read_manifest(folder)
    for name in needed:
        if name not in manifest["files"]:
            raise Invalid(f"the manifest lists no {name}", "restore another backup")
    for name, entry in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise Invalid(f"{name} is missing from {folder}", "restore another backup, or copy the file back")
        if path.stat().st_size != entry["bytes"] or sha256(path) != entry["sha256"]:
            raise Invalid(f"{name} is damaged: its size or sha256 differs from the manifest", ANOTHER)
    return manifest
