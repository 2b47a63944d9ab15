"""The token journal on disk: sealed, private, atomic, and read back whole."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

from kanglu.adapters.crypto import FernetSecretBox
from kanglu.adapters.token_journal import FileTokenJournal
from kanglu.application.ports import PendingGrant, TokenGrant
from kanglu.domain.secrets import Secret


def pending(connection_id: int = 7, version: int = 3) -> PendingGrant:
    grant = TokenGrant(Secret("acc-PLAIN-token"), Secret("ref-PLAIN-token"), 14400, 86400)
    return PendingGrant(connection_id, version, grant, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))


def test_an_entry_is_read_back_as_written_and_never_in_plaintext(tmp_path: Path) -> None:
    box = FernetSecretBox((FernetSecretBox.generate_key(),))
    journal = FileTokenJournal(tmp_path / "token-journal", box)
    assert journal.pending() == []
    entry = pending()
    journal.record(entry)
    files = list((tmp_path / "token-journal").iterdir())
    assert [f.name for f in files] == ["connection-7-v3.json"]  # no temporary file left
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    text = files[0].read_text()
    assert "PLAIN" not in text
    (read,) = journal.pending()
    assert (read.connection_id, read.seen_token_version, read.obtained_at) == (7, 3, entry.obtained_at)
    assert (read.grant.access_token.value, read.grant.refresh_token.value) == ("acc-PLAIN-token", "ref-PLAIN-token")
    assert (read.grant.expires_in, read.grant.refresh_expires_in) == (14400, 86400)
    journal.remove(entry)
    journal.remove(entry)  # twice is fine
    assert journal.pending() == []


def test_an_entry_sealed_with_an_unknown_key_is_left_in_place(tmp_path: Path) -> None:
    journal = FileTokenJournal(tmp_path, FernetSecretBox((FernetSecretBox.generate_key(),)))
    journal.record(pending())
    other = FileTokenJournal(tmp_path, FernetSecretBox((FernetSecretBox.generate_key(),)))
    assert other.pending() == []
    assert len(list(tmp_path.glob("connection-*.json"))) == 1
