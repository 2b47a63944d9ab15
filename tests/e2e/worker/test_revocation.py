"""Desconectar revokes at Tiny: the web forgets the tokens at once, the worker calls the
sandbox's Keycloak-like /revoke, and the old refresh token is refused afterwards."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from kanglu.adapters.sql import tables as t
from kanglu.entrypoints.web import create_app
from tests.e2e.worker.harness import Deployment

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _token(world: Deployment, account_id: str, client_id: str, client_secret: str, refresh: str) -> httpx.Response:
    return httpx.post(
        world.sandbox.auth_url + "/token",
        data={"grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
              "refresh_token": refresh},
        timeout=10,
    )


def test_desconectar_revokes_the_refresh_token_at_tiny(sqlite_world: Deployment) -> None:
    world = sqlite_world
    account = world.new_account(orders=5)
    connection_id = world.connect(account)
    box = world.container.core.secret_box()
    with world.container.adapters.engine().connect() as connection:
        sealed = connection.execute(
            select(t.erp_connections.c.refresh_token).where(t.erp_connections.c.id == connection_id)
        ).scalar_one()
    old_refresh = box.open(sealed).value
    creds = world.sandbox.credentials(account)

    client = create_app(world.container).test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = _CSRF.search(page).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"csrf_token": csrf, "email": f"loja-{account.id}@example.com",
                                "password": "senha-segura-1"})
    page = client.get("/integrations").get_data(as_text=True)
    assert "Desconectar" in page
    answer = client.post("/integrations/tiny/disconnect", data={"csrf_token": _CSRF.search(page).group(1)})  # type: ignore[union-attr]
    assert answer.status_code in (302, 303)

    # Forgotten here at once; waiting, sealed, for the worker.
    row = world.rows("SELECT access_token, refresh_token, status FROM erp_connections WHERE id = :id", id=connection_id)[0]
    assert row.access_token is None and row.refresh_token is None and row.status == "disconnected"
    assert world.scalar("SELECT count(*) FROM token_revocations WHERE finished_at IS NULL") == 1
    assert "revoke" not in world.counters(account)["oauth"]

    world.run_once()

    assert world.counters(account)["oauth"]["revoke"] == {"200": 1}
    done = world.rows("SELECT outcome, refresh_token, client_secret FROM token_revocations")[0]
    assert done.outcome == "revoked" and done.refresh_token is None and done.client_secret is None
    refused = _token(world, account.id, creds["client_id"], creds["client_secret"], old_refresh)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_an_unreachable_tiny_leaves_the_revocation_to_retry(sqlite_world: Deployment) -> None:
    world = sqlite_world
    account = world.new_account(orders=5)
    connection_id = world.connect(account)
    from kanglu.application.commands import DisconnectErpCommand

    merchant_id = world.scalar("SELECT merchant_id FROM erp_connections WHERE id = :id", id=connection_id)
    world.container.use_cases.disconnect()(DisconnectErpCommand(merchant_id))
    log = world.run_once(env={"KANGLU_TINY_AUTH_URL": "http://127.0.0.1:9/realms/tiny/protocol/openid-connect"})
    assert "token revocation failed, will retry" in log
    row = world.rows("SELECT attempts, finished_at, refresh_token, last_error FROM token_revocations")[0]
    assert row.attempts == 1 and row.finished_at is None and row.refresh_token is not None and row.last_error
