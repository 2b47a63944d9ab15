"""The sandbox's state file: accounts, datasets and tokens survive a restart, so Kanglu stays connected.

One versioned JSON document, written whole to a temporary file and moved over the old one (a crash
leaves either the old or the new state, never half of one), readable by its owner only: it holds
client secrets and tokens.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from kanglu.sandbox.accounts import SandboxState
from kanglu.sandbox.oauth import OAuthServer

logger = logging.getLogger(__name__)

VERSION = 1


class StateFileError(Exception):
    """The state file cannot be used (unreadable, not ours, another version); nothing was restored."""


class StateFile:
    """Loads and saves one sandbox's state; `save()` writes only when something changed."""

    def __init__(self, path: Path | str, state: SandboxState, oauth: OAuthServer) -> None:
        self.path = Path(path)
        self.state = state
        self.oauth = oauth
        self._saved: dict[str, Any] | None = None
        self._lock = threading.Lock()  # the background saver and stop() may save at once

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> int:
        """Restore the accounts and the OAuth state saved in the file; the number of accounts."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StateFileError(f"cannot read the sandbox state file {self.path}: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != "kanglu-sandbox-state":
            raise StateFileError(f"{self.path} is not a sandbox state file")
        if document.get("version") != VERSION:
            raise StateFileError(f"{self.path} has version {document.get('version')!r}, this sandbox reads "
                                 f"{VERSION}: delete it to start over")
        try:
            self.state.restore(document["state"])
            self.oauth.restore(document["oauth"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFileError(f"cannot restore {self.path} ({exc!r}): delete it to start over") from exc
        self._saved = self._content()
        count = len(document["state"]["accounts"])
        logger.info("sandbox state restored", extra={"path": str(self.path), "accounts": count})
        return count

    def save(self) -> bool:
        """Write the state if it differs from what was last loaded or saved; whether it wrote."""
        with self._lock:
            content = self._content()
            if content == self._saved:  # datasets' snapshots are cached objects: this compare is cheap
                return False
            self._write({"format": "kanglu-sandbox-state", "version": VERSION, "saved_at": self.state.clock.now(),
                         **content})
            self._saved = content
            return True

    def _content(self) -> dict[str, Any]:
        return {"state": self.state.snapshot(), "oauth": self.oauth.snapshot()}

    def _write(self, document: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp makes the file 0600 before a byte is written; same directory, so os.replace is atomic.
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")))  # json.dump: 4x slower
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
