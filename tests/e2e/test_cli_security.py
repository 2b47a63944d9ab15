"""The CLI on a real data folder: the first command on a fresh folder, private files, key
rotation end to end, database errors that say what happened."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from kanglu.adapters.sql import orm
from kanglu.adapters.sql.engine import make_engine
from kanglu.entrypoints.cli import main
from kanglu.entrypoints.containers import build_container
from kanglu.entrypoints.web import create_app


@pytest.fixture(autouse=True)
def plain_domain_classes_afterwards() -> Iterator[None]:
    """These tests map the domain classes (the real SQL adapters, in this process); the
    fake-backed tests that follow need the plain classes back (as in test_browser_flow.py)."""
    mapped_before = orm.mappers_started()
    yield
    if not mapped_before:
        orm.stop_mappers()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "fresh" / "var"
    for name in [k for k in os.environ if k.startswith("KANGLU_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KANGLU_DATA_DIR", str(folder))
    return folder


def test_merchant_create_is_a_fine_first_command_and_the_files_are_private(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = os.umask(0o022)  # the usual umask, which would make files 0644
    try:
        code = main(["merchant", "create", "--name", "Loja", "--email", "a@loja.com.br", "--password", "senha-forte"])
        assert code == 0, capsys.readouterr().err
        assert set(json.loads(capsys.readouterr().out)) == {"id", "api_key"}
        assert _mode(data_dir) == 0o700
        database = data_dir / "kanglu.sqlite3"
        for name in ("kanglu.sqlite3", "secret_key", "encryption_keys"):
            assert _mode(data_dir / name) == 0o600, name
        # While a process has it open, SQLite's -wal and -shm exist: private too.
        engine = make_engine(f"sqlite:///{database}")
        try:
            with engine.begin() as connection:
                connection.execute(text("UPDATE merchants SET name = 'Loja 2'"))
                for suffix in ("-wal", "-shm"):
                    assert _mode(Path(f"{database}{suffix}")) == 0o600, suffix
        finally:
            engine.dispose()
    finally:
        os.umask(previous)


def test_an_older_world_readable_database_is_tightened(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    database = data_dir / "kanglu.sqlite3"
    database.touch(mode=0o644)
    os.chmod(database, 0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o600


def test_rotate_key_through_the_cli_old_key_401_new_key_200(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["merchant", "create", "--name", "Loja", "--email", "a@loja.com.br"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert main(["merchant", "rotate-key", "--email", "A@Loja.com.br"]) == 0
    rotated = json.loads(capsys.readouterr().out)
    assert rotated["id"] == created["id"] and rotated["api_key"] != created["api_key"]
    container = build_container()
    try:
        client = create_app(container).test_client()
        old = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {created['api_key']}"})
        new = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {rotated['api_key']}"})
        assert (old.status_code, new.status_code) == (401, 200)
    finally:
        container.shutdown_resources()
    assert main(["merchant", "rotate-key", "--email", "ninguem@loja.com.br"]) == 2
    assert "no merchant" in capsys.readouterr().err


def test_database_errors_say_what_happened(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KANGLU_DATABASE_URL", f"sqlite:///{data_dir / 'no-such-folder' / 'x.sqlite3'}")
    assert main(["merchant", "create", "--name", "Loja", "--email", "a@loja.com.br"]) == 1
    err = capsys.readouterr().err
    assert "unable to open database file" in err and "Traceback" not in err and "ocupado" not in err
