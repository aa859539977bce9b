"""A backup on disk, and the folder of an environment's backups.

    backups/ENV/20261129T023000Z/         (BACKUP_DIR/ENV/<UTC time the backup started>)
        manifest.json            what, when, from which stack: images, release, Postgres version,
                                 row counts of the main tables, size and sha256 of every file
        app.dump, glitchtip.dump pg_dump --format=custom of each database
        glitchtip-uploads.tar    GlitchTip's uploads (/code/uploads)
        SHA256SUMS               the same checksums, manifest.json's too, for `sha256sum -c`

A backup is written into a hidden `.incomplete-*` folder beside and renamed at the very end, so
a folder with a timestamp name is always complete. Folders are mode 700, files 600.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from scripts.settings import envfiles

FORMAT = 1
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
UPLOADS = "glitchtip-uploads.tar"
SECRETS_COPY = "secrets.env"
# <UTC time>, or with a label (-before-restore) or a counter when two start in the same second.
NAME = re.compile(r"^\d{8}T\d{6}Z(?:-[a-z0-9-]+)?$")
INCOMPLETE = ".incomplete-"


class BackupInvalid(Exception):
    """A backup folder that must not be restored: `problem`, and what to do about it."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def backups_root(values: Mapping[str, str], root: Path = envfiles.REPO) -> Path:
    """BACKUP_DIR, relative to the bundle's folder unless absolute."""
    return root / (values.get("BACKUP_DIR") or "backups")


def env_folder(backups: Path, env: str) -> Path:
    return backups / env


def private_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def complete(folder: Path) -> list[Path]:
    """The complete backups in an environment's folder, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and NAME.match(p.name))


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` complete backups; returns what was deleted."""
    old = complete(folder)[:-keep] if keep > 0 else []
    for path in old:
        shutil.rmtree(path)
    return old


def remove_incomplete(folder: Path) -> list[Path]:
    """Leftovers of backups that were killed or failed (call it holding the folder's lock)."""
    stale = [p for p in folder.iterdir() if p.name.startswith(INCOMPLETE)] if folder.is_dir() else []
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


class NewBackup:
    """A backup being written: `with NewBackup(folder) as new:` write into `new.temporary`, then
    `new.finish()` renames it to its timestamp. Leaving the block any other way removes it."""

    def __init__(self, folder: Path, label: str = "", now: datetime | None = None):
        self.folder = folder
        self.started = now or datetime.now(UTC)
        self.name = self.started.strftime("%Y%m%dT%H%M%SZ") + (f"-{label}" if label else "")
        self.temporary = folder / f"{INCOMPLETE}{self.name}-{os.getpid()}"
        self.final: Path | None = None

    def __enter__(self) -> NewBackup:
        private_folder(self.folder.parent)
        private_folder(self.folder)
        self.temporary.mkdir(mode=0o700)
        return self

    def finish(self) -> Path:
        target, number = self.folder / self.name, 1
        while target.exists():
            number += 1
            target = self.folder / f"{self.name}-{number}"
        self._owned_like_the_backups_folder()
        os.rename(self.temporary, target)
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename itself reaches the disk
        finally:
            os.close(fd)
        self.final = target
        return target

    def _owned_like_the_backups_folder(self) -> None:
        """As root (the backup service's container), hand the files to whoever owns the backups
        folder, so that the operator on the host can read, copy and prune them."""
        owner = self.folder.parent.stat()
        if os.geteuid() != 0 or owner.st_uid == 0:
            return
        for path in [self.folder, self.temporary, *self.temporary.iterdir()]:
            os.chown(path, owner.st_uid, owner.st_gid)

    def __exit__(self, *exc_info) -> None:
        if self.final is None:
            shutil.rmtree(self.temporary, ignore_errors=True)


def size(count: int) -> str:
    """Bytes for people: 512 B, 45.1 kB, 3.2 MB."""
    amount = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} TB"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: dict) -> None:
    """manifest.json with the size and sha256 of every other file, and SHA256SUMS for all of them."""
    files = sorted(p.name for p in folder.iterdir() if p.name not in (MANIFEST, CHECKSUMS))
    manifest["files"] = {name: {"bytes": (folder / name).stat().st_size, "sha256": sha256(folder / name)}
                         for name in files}
    write_private(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    sums = {**{name: entry["sha256"] for name, entry in manifest["files"].items()}, MANIFEST: sha256(folder / MANIFEST)}
    write_private(folder / CHECKSUMS, "".join(f"{digest}  {name}\n" for name, digest in sums.items()))


def write_private(path: Path, text: str) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def verify(folder: Path, needed: Iterable[str]) -> dict:
    """The manifest of a backup whose every file is present and intact; BackupInvalid otherwise.
    Reads only: nothing is touched."""
    if not folder.is_dir():
        raise BackupInvalid(f"{folder} is not a folder", "name a backup folder, e.g. backups/production/<time>")
    if folder.name.startswith(INCOMPLETE):
        raise BackupInvalid(f"{folder.name} is an unfinished backup (it was interrupted or failed)",
                            "restore a complete one: a folder named by its time")
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise BackupInvalid(f"{folder} has no {MANIFEST}", "this is not a backup made by scripts/backup") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupInvalid(f"{manifest_path} is damaged ({exc})", "restore another backup") from None
    sums_path = folder / CHECKSUMS
    if sums_path.exists():
        sums = {}
        for line in sums_path.read_text().splitlines():
            digest, _, name = line.partition("  ")
            sums[name] = digest
        if sums.get(MANIFEST) != sha256(manifest_path):
            raise BackupInvalid(f"{MANIFEST} does not match its checksum in {CHECKSUMS}: it was changed or damaged",
                                "restore another backup, or a copy of this one from off the machine")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"),
                                                                                           dict):
        raise BackupInvalid(f"{manifest_path} is not a format-{FORMAT} manifest",
                            "restore it with the version of the bundle that made it")
    files = manifest["files"]
    for name in needed:
        if name not in files:
            raise BackupInvalid(f"the manifest lists no {name}", "restore another backup")
    for name, entry in files.items():
        path = folder / name
        if not path.is_file():
            raise BackupInvalid(f"{name} is missing from {folder}", "restore another backup, or copy the file back")
        if path.stat().st_size != entry["bytes"] or sha256(path) != entry["sha256"]:
            raise BackupInvalid(f"{name} is damaged: its size or sha256 differs from the manifest",
                                "restore another backup, or a copy of this one from off the machine")
    return manifest
