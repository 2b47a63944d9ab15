"""`kanglu merchant create` and `kanglu web` on a container wired with fakes."""

from __future__ import annotations

import json

import pytest
from dependency_injector import providers

from kanglu.application.use_cases.create_merchant import hash_api_key
from kanglu.entrypoints.cli import main
from kanglu.entrypoints.containers import Container, build_container
from kanglu.entrypoints.settings import Settings
from tests.fakes import FakePasswordHasher, FakeUnitOfWorkFactory


@pytest.fixture
def container(tmp_path) -> Container:  # type: ignore[no-untyped-def]
    container = build_container(Settings.from_env({"KANGLU_DATA_DIR": str(tmp_path)}))
    container.adapters.uow.override(providers.Object(FakeUnitOfWorkFactory()))
    container.core.passwords.override(providers.Object(FakePasswordHasher()))
    return container


def test_merchant_create_prints_the_id_and_a_key_stored_only_as_a_hash(container, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["merchant", "create", "--name", "Loja Aurora", "--email", "Lojista@Aurora.com.br",
                 "--password", "senha-forte"], container=container)
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"id", "api_key"} and printed["api_key"].startswith("kgl_")
    uow = container.adapters.uow().read()
    merchant = uow.merchants.get(printed["id"])
    assert merchant.email == "lojista@aurora.com.br" and merchant.password_hash == "hashed:" + "senha-forte"[::-1]
    assert uow.merchants.by_api_key_hash(hash_api_key(printed["api_key"])) is merchant
    assert all(printed["api_key"] not in repr(k) for k in uow.state.api_keys)


def test_merchant_create_without_password_is_an_api_only_merchant(container, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["merchant", "create", "--name", "Loja", "--email", "api@loja.com.br"], container=container) == 0
    printed = json.loads(capsys.readouterr().out)
    assert container.adapters.uow().read().merchants.get(printed["id"]).password_hash is None


def test_merchant_create_refuses_bad_input_in_portuguese(container, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["merchant", "create", "--name", " ", "--email", "sem-arroba", "--password", "curta"],
                container=container) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "name: informe o nome" in captured.err
    assert "email: e-mail inválido" in captured.err
    assert "password: a senha deve ter pelo menos 8 caracteres" in captured.err
    main(["merchant", "create", "--name", "A", "--email", "a@loja.com.br"], container=container)
    assert main(["merchant", "create", "--name", "B", "--email", "a@loja.com.br"], container=container) == 2
    assert "já existe um lojista com este e-mail" in capsys.readouterr().err


def test_web_takes_host_and_port(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exit_:
        main(["web", "--help"])
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert "--host" in usage and "--port" in usage


def test_kanglu_web_serves_the_login_page(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "KANGLU_DATA_DIR": str(tmp_path), "KANGLU_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "kanglu.entrypoints.cli", "web", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        answer = None
        for _ in range(200):  # up to ~20 s on a loaded machine; not a timing assertion
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    break
                time.sleep(0.1)
        assert answer is not None, server.stderr.read().decode() if server.poll() is not None else "no answer"
        assert answer.status_code == 200 and "Entrar na sua conta" in answer.text
        assert answer.headers["X-Frame-Options"] == "DENY"
    finally:
        server.terminate()
        server.wait(timeout=10)
