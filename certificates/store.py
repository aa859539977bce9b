"""The certificate nginx serves, in the volume the certificates service shares with nginx.

    live -> generations/<time>-<digest>   what nginx loads: fullchain.pem and privkey.pem
    generations/                          each pair ever installed (the newest few are kept)
    acme-challenge/                       the HTTP-01 webroot: nginx serves /.well-known/acme-challenge/ from it

A new pair is written into a generation folder of its own, then `live` is switched to it with one
rename: nginx (nginx/entrypoint/40-tls-certificate.sh) never sees a certificate with another's key.
The link is relative, so it holds wherever the volume is mounted (nginx: /etc/nginx/certificates).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

FULLCHAIN, PRIVKEY = "fullchain.pem", "privkey.pem"
# The pair served now and the one before it stay; older ones go.
KEEP = 2


class Store:
    def __init__(self, root: Path):
        self.root = root
        self.live = root / "live"
        self.generations = root / "generations"
        self.webroot = root / "acme-challenge"

    def current(self) -> tuple[bytes, bytes] | None:
        """The served certificate chain and key, or None before the first one."""
        try:
            return (self.live / FULLCHAIN).read_bytes(), (self.live / PRIVKEY).read_bytes()
        except FileNotFoundError:
            return None

    def install(self, fullchain: bytes, key: bytes) -> bool:
        """Serve this pair from now on; False when it is already the one served."""
        if self.current() == (fullchain, key):
            return False
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{hashlib.sha256(fullchain).hexdigest()[:8]}"
        folder = self.generations / name
        folder.mkdir(parents=True)
        write(folder / FULLCHAIN, fullchain, 0o644)
        write(folder / PRIVKEY, key, 0o600)
        pending = self.root / "live.new"
        pending.unlink(missing_ok=True)
        pending.symlink_to(Path("generations") / name)
        os.replace(pending, self.live)
        self.prune(keep=name)
        return True

    def prune(self, keep: str) -> None:
        older = sorted(p.name for p in self.generations.iterdir() if p.name != keep)
        for name in older[: max(0, len(older) - (KEEP - 1))]:
            shutil.rmtree(self.generations / name)

    def prepare(self) -> None:
        """The folders nginx and certbot expect, readable by nginx's workers (they serve the challenges)."""
        self.webroot.mkdir(parents=True, exist_ok=True)
        self.generations.mkdir(parents=True, exist_ok=True)
        for folder in (self.root, self.webroot):
            folder.chmod(0o755)


def write(path: Path, content: bytes, mode: int) -> None:
    """Written and flushed to disk with its final mode before anything points at it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
