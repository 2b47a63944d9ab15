"""The token journal on local disk: tokens Tiny issued, sealed, until the database has them.

A renewal writes its answer here before storing it in the database and removes it after; a
worker that dies in between (SIGKILL, a crash, the database away until it stopped) leaves the
file, and the next worker started on this machine stores the tokens (RefreshToken.recover).
Tokens are sealed with the deployment's encryption keys, as in the database; files are 0600
and written atomically (temporary file, fsync, rename), so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path

from kanglu.application.ports import PendingGrant, SecretBox, TokenGrant
from kanglu.domain.secrets import Sealed

log = logging.getLogger(__name__)


class FileTokenJournal:
    def __init__(self, directory: Path, secret_box: SecretBox) -> None:
        self._dir = Path(directory)
        self._box = secret_box

    def _path(self, pending: PendingGrant) -> Path:
        return self._dir / f"connection-{pending.connection_id}-v{pending.seen_token_version}.json"

    def record(self, pending: PendingGrant) -> None:
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        grant = pending.grant
        body = json.dumps({
            "connection_id": pending.connection_id,
            "seen_token_version": pending.seen_token_version,
            "obtained_at": pending.obtained_at.isoformat(),
            "access_token": self._box.seal(grant.access_token).ciphertext,
            "refresh_token": self._box.seal(grant.refresh_token).ciphertext,
            "expires_in": grant.expires_in,
            "refresh_expires_in": grant.refresh_expires_in,
        }).encode()
        path = self._path(pending)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        self._sync_directory()

    def remove(self, pending: PendingGrant) -> None:
        self._path(pending).unlink(missing_ok=True)

    def pending(self) -> list[PendingGrant]:
        if not self._dir.is_dir():
            return []
        found = []
        for path in sorted(self._dir.glob("connection-*.json")):
            try:
                data = json.loads(path.read_bytes())
                found.append(PendingGrant(
                    connection_id=int(data["connection_id"]),
                    seen_token_version=int(data["seen_token_version"]),
                    grant=TokenGrant(
                        access_token=self._box.open(Sealed(data["access_token"])),
                        refresh_token=self._box.open(Sealed(data["refresh_token"])),
                        expires_in=int(data["expires_in"]),
                        refresh_expires_in=data["refresh_expires_in"],
                    ),
                    obtained_at=datetime.fromisoformat(data["obtained_at"]),
                ))
            except Exception:  # noqa: BLE001 - an unreadable entry (another key, damage) is left for a person
                log.exception("unreadable token journal entry left in place", extra={"file": path.name})
        return found

    def _sync_directory(self) -> None:
        """The rename itself reaches the disk (POSIX: fsync the directory)."""
        try:
            fd = os.open(self._dir, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
