"""Secrets at rest: after an account is connected (and its token renewed) the raw database
holds neither the client secret nor any token in plain text; `kanglu keys rotate` with a new
key first re-encrypts everything, after which the old key can be dropped."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from kanglu.adapters.crypto import FernetSecretBox, SecretDecryptionError
from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.schema import upgrade_to_head
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.application.commands import RefreshTokenCommand
from kanglu.application.ports import TokenGrant
from kanglu.application.use_cases.refresh_token import RenewalOutcome
from kanglu.domain.secrets import Secret
from kanglu.entrypoints import cli
from tests.fakes import FakeOAuth
from tests.integration.sql.helpers import CLIENT_SECRET, SqlWorld


class RecordingOAuth(FakeOAuth):
    """FakeOAuth handing out long random tokens, and remembering every one it gave."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: list[str] = []

    def _grant(self) -> TokenGrant:
        grant = super()._grant()
        access, refresh = f"at-{secrets.token_urlsafe(24)}", grant.refresh_token.value
        self.issued += [access, refresh]
        return TokenGrant(Secret(access), grant.refresh_token, grant.expires_in, grant.refresh_expires_in)


def raw_database(engine: Engine) -> bytes:
    """Everything the database holds, as an attacker with the files or the rows would see it."""
    if engine.dialect.name == "sqlite":
        engine.dispose()  # the last connection out checkpoints the WAL into the main file
        path = Path(make_url(engine.url).database)  # type: ignore[arg-type]
        files = [path, *path.parent.glob(path.name + "-*")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    with engine.connect() as connection:
        dumps = [
            connection.execute(text(f'SELECT string_agg(x::text, \'|\') FROM "{table}" x')).scalar() or ""
            for table in t.metadata.tables
        ]
    return "\n".join(dumps).encode("utf-8")


def connect_with(engine: Engine, keys: list[str]) -> tuple[SqlWorld, int]:
    world = SqlWorld(uow=SqlUnitOfWorkFactory(engine), box=FernetSecretBox(keys), oauth=RecordingOAuth())
    _, connection_id = world.connect()
    world.clock.advance(hours=3, minutes=55)
    assert world.refresh()(RefreshTokenCommand(connection_id)).outcome is RenewalOutcome.RENEWED
    return world, connection_id


def test_no_secret_in_plain_text_and_rotation_lets_the_old_key_go(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    upgrade_to_head(empty_database_url)
    engine = make_engine(empty_database_url)
    world, connection_id = connect_with(engine, [old_key])
    plaintexts = [CLIENT_SECRET, *world.oauth.issued]
    assert len(plaintexts) == 5  # the secret, two access tokens, two refresh tokens
    with world.uow() as u:
        before = u.connections.get(connection_id)
    stored = [before.client_secret, before.access_token, before.refresh_token]

    raw = raw_database(engine)
    assert before.client_secret.ciphertext.encode() in raw  # we are reading the right bytes
    for plaintext in plaintexts:
        assert plaintext.encode() not in raw, "a secret is stored in plain text"

    # The operator puts a new key first and rotates.
    monkeypatch.setenv("KANGLU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KANGLU_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("KANGLU_ENCRYPTION_KEYS", f"{new_key},{old_key}")
    assert cli.main(["keys", "rotate"]) == 0

    only_new, only_old = FernetSecretBox([new_key]), FernetSecretBox([old_key])
    with SqlUnitOfWorkFactory(engine)() as u:
        after = u.connections.get(connection_id)
    rotated = [after.client_secret, after.access_token, after.refresh_token]
    assert [only_new.open(s).value for s in rotated] == [world.box.open(s).value for s in stored]
    assert only_new.open(after.client_secret).value == CLIENT_SECRET
    for sealed in rotated:
        with pytest.raises(SecretDecryptionError):
            only_old.open(sealed)

    raw = raw_database(engine)
    for plaintext in plaintexts:
        assert plaintext.encode() not in raw
    for sealed in stored:  # the old ciphertexts are gone, not merely superseded
        assert sealed.ciphertext.encode() not in raw
    engine.dispose()


def test_rotation_reports_what_it_re_encrypted(engine: Engine) -> None:
    from kanglu.adapters.sql.key_rotation import rotate_secrets

    key = Fernet.generate_key().decode()
    world, connection_id = connect_with(engine, [key])
    world.save_credentials(world.merchant("second@example.com"))  # pending: the secret only
    newer = FernetSecretBox([Fernet.generate_key().decode(), key])
    report = rotate_secrets(engine, newer, batch_size=1)
    assert (report.rows, report.secrets) == (2, 4)
    assert report.by_table["erp_connections"] == 4 and not any(
        n for table, n in report.by_table.items() if table != "erp_connections"
    )
    with world.uow() as u:
        connection = u.connections.get(connection_id)
        assert newer.open(connection.refresh_token).value in world.oauth.valid_refresh
