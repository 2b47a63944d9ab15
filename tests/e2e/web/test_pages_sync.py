"""The pages of issue 18 through the Flask client: the card's sync state, Sincronizar agora,
the Avisos form (the webhook secret shown once, never in the session cookie), the Histórico."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.web.conftest import WebWorld, post_form


def test_sync_state_needs_a_login_and_follows_the_import(world: WebWorld) -> None:
    account = world.merchant()
    anonymous = world.app.test_client()
    assert anonymous.get("/integrations/tiny/sync-state").status_code in (302, 303)
    world.connect(account)
    client = world.client(account)
    state = client.get("/integrations/tiny/sync-state")
    assert state.headers["Cache-Control"] == "no-store"
    assert state.json["first_import"] is True and state.json["orders"] == 0 and state.json["next_sync_text"] == "agora"
    page = client.get("/integrations").get_data(as_text=True)
    assert "Primeira importação em andamento" in page and "sync.js" in page


def test_sincronizar_agora_then_a_second_within_the_minute(world: WebWorld) -> None:
    account = world.merchant()
    world.connect(account)
    world.clock.advance(timedelta(minutes=3))
    client = world.client(account)
    first = post_form(client, "/integrations", "/integrations/tiny/sync")
    assert first.status_code == 303
    assert "Sincronização pedida" in client.get("/integrations").get_data(as_text=True)
    post_form(client, "/integrations", "/integrations/tiny/sync")
    assert "há menos de um minuto" in client.get("/integrations").get_data(as_text=True)


def test_the_webhook_secret_is_shown_once_and_never_put_in_the_cookie(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    answer = post_form(client, "/integrations", "/integrations/notifications",
                       {"email": "on", "webhook_url": "https://loja.example/kanglu"})
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    secret = page.split('id="webhook_secret" value="')[1].split('"')[0]
    assert secret.startswith("whsec_")
    assert all(secret not in header for header in answer.headers.getlist("Set-Cookie"))
    again = client.get("/integrations").get_data(as_text=True)
    assert secret not in again and 'value="https://loja.example/kanglu"' in again
    refused = post_form(client, "/integrations", "/integrations/notifications", {"webhook_url": "http://x"})
    assert refused.status_code == 422 and "Use um endereço https://" in refused.get_data(as_text=True)
    off = post_form(client, "/integrations", "/integrations/notifications", {"webhook_url": "https://loja.example/kanglu"})
    assert off.status_code == 303  # the same URL: no new secret, a plain redirect
    assert world.container.adapters.sync_queries().notifications(account.id).email is False


def test_the_historico_lists_what_happened(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    assert "Nada ainda" in client.get("/integrations/history").get_data(as_text=True)
    world.connect(account)
    post_form(client, "/integrations", "/integrations/tiny/disconnect")
    page = client.get("/integrations/history").get_data(as_text=True)
    assert page.index('data-kind="disconnected"') < page.index('data-kind="connected"')
    assert "integração desconectada pelo lojista" in page
    assert 'href="/integrations/history"' in client.get("/orders").get_data(as_text=True)  # in the menu
