"""Integrações: credentials, Conectar, the OAuth callback in every outcome, Desconectar."""

from __future__ import annotations

import html as html_lib
from urllib.parse import parse_qs, urlencode, urlsplit

from flask.testing import FlaskClient

from kanglu.application.errors import TransientFailure
from kanglu.domain.connections import ConnectionStatus, ErpConnection
from tests.e2e.web.conftest import CLIENT_ID, CLIENT_SECRET, INVITE_LINK, Account, WebWorld, login, post_form


def text_of(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.status_code
    return html_lib.unescape(answer.get_data(as_text=True))


def connection_of(world: WebWorld, account: Account) -> ErpConnection:
    connection = world.uow.read().connections.for_merchant(account.id)
    assert connection is not None
    return connection


def save_form(client: FlaskClient, **fields: str):  # type: ignore[no-untyped-def]
    data = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "invite_link": INVITE_LINK, **fields}
    return post_form(client, "/integrations", "/integrations/tiny", data)


def start_connect(world: WebWorld, client: FlaskClient) -> str:
    """Click *Conectar*; returns the state of the authorize URL it redirects to."""
    answer = post_form(client, "/integrations", "/integrations/tiny/connect")
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith("https://erp.example/auth?")
    return parse_qs(urlsplit(location).query)["state"][0]


def callback(client: FlaskClient, **params: str) -> str:
    """Follow the callback to where it ends and return that page's text."""
    answer = client.get("/integrations/tiny/callback?" + urlencode(params))
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/integrations"
    return text_of(client, "/integrations")


def test_a_new_merchant_sees_the_tiny_card_not_configured(world: WebWorld) -> None:
    account = world.merchant()
    page = text_of(world.client(account), "/integrations")
    assert 'data-status="not_configured">não configurado<' in page
    assert "http://kanglu.test/integrations/tiny/callback" in page
    assert 'data-copy="redirect_uri"' in page
    for step in ("Configurações → Aplicativos", "Criar aplicativo", "Client ID", "Client Secret", "Link de convite"):
        assert step in page
    assert "Conectar</button>" not in page  # nothing to connect with yet


def test_saving_credentials_keeps_the_secret_write_only(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    answer = save_form(client)
    assert answer.status_code == 303
    page = text_of(client, "/integrations")
    assert "Credenciais do Tiny salvas" in page
    assert 'data-status="pending">aguardando autorização<' in page
    assert CLIENT_ID in page and INVITE_LINK in page
    assert CLIENT_SECRET not in page
    assert "Já salvo. Deixe em branco para manter." in page
    assert "Conectar</button>" in page

    # Saving again with the secret left blank keeps it.
    save_form(client, client_secret="")
    saved = connection_of(world, account).client_secret
    assert saved is not None
    assert world.container.core.secret_box().open(saved).value == CLIENT_SECRET


def test_bad_credentials_are_refused_field_by_field_in_portuguese(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    answer = save_form(client, client_id="", invite_link="http://example.com/convite")
    assert answer.status_code == 422
    page = html_lib.unescape(answer.get_data(as_text=True))
    assert "Informe o Client ID." in page
    assert "O Link de Convite deve usar https://." in page
    assert "http://example.com/convite" in page  # what the merchant typed stays, to be fixed
    assert world.uow.read().connections.for_merchant(account.id) is None


def test_a_refused_salvar_keeps_the_secret_just_typed_in_its_password_field(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    answer = save_form(client, invite_link="http://example.com/convite")
    assert answer.status_code == 422
    page = html_lib.unescape(answer.get_data(as_text=True))
    assert f'type="password" id="client_secret" name="client_secret" value="{CLIENT_SECRET}"' in page
    assert page.count(CLIENT_SECRET) == 1  # in the masked field only
    assert answer.headers["Cache-Control"] == "no-store"
    # Resubmitted as the browser would, with the link fixed: saved, secret included.
    assert save_form(client).status_code == 303
    saved = connection_of(world, account).client_secret
    assert saved is not None and world.container.core.secret_box().open(saved).value == CLIENT_SECRET


def test_a_stored_secret_is_never_rendered_even_when_salvar_is_refused(world: WebWorld) -> None:
    account = world.merchant()
    world.configure(account)
    client = world.client(account)
    answer = save_form(client, client_id="abc", client_secret="")
    assert answer.status_code == 422
    page = html_lib.unescape(answer.get_data(as_text=True))
    assert CLIENT_SECRET not in page
    assert "Já salvo. Deixe em branco para manter." in page


def test_a_refused_secret_is_not_echoed(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    answer = save_form(client, client_secret="com espaço", invite_link="http://example.com/convite")
    assert answer.status_code == 422
    assert "com espaço" not in html_lib.unescape(answer.get_data(as_text=True))


def test_a_client_id_that_is_not_tinys_is_refused_on_the_page(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    answer = save_form(client, client_id="abc")
    assert answer.status_code == 422
    page = html_lib.unescape(answer.get_data(as_text=True))
    assert "Este não é um Client ID do Tiny, que sempre começa com tiny-api-." in page
    assert 'value="abc"' in page
    assert world.uow.read().connections.for_merchant(account.id) is None


def test_once_connected_the_credentials_are_folded_one_click_from_editing(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    assert '<details class="fold" id="credentials" open>' in text_of(client, "/integrations")
    world.connect(account)
    page = text_of(client, "/integrations")
    assert '<details class="fold" id="credentials">' in page
    assert "Editar" in page and CLIENT_ID in page
    answer = save_form(client, invite_link="http://example.com/convite")
    assert '<details class="fold" id="credentials" open>' in answer.get_data(as_text=True)  # the error shows
    post_form(client, "/integrations", "/integrations/tiny/disconnect")
    assert '<details class="fold" id="credentials">' in text_of(client, "/integrations")  # Conectar is next


def test_a_revoked_authorisation_says_why_when_and_what_to_do(world: WebWorld) -> None:
    account = world.merchant()
    connection_id = world.connect(account)
    with world.uow() as uow:
        connection = uow.connections.get(connection_id)
        connection.mark_disconnected(
            "o Tiny não aceita mais a autorização dada à Kanglu: ela foi revogada no Tiny, expirou ou já tinha sido usada",
            world.clock.now(),  # 2026-07-01 12:00 UTC
        )
        uow.commit()
    page = text_of(world.client(account), "/integrations")
    assert "A Kanglu perdeu o acesso ao Tiny em 01/07/2026 09:00." in page
    assert "Motivo: O Tiny não aceita mais a autorização dada à Kanglu: ela foi revogada no Tiny" in page
    assert "O que fazer: clique em <strong>Conectar</strong> e autorize a Kanglu no Tiny." in page
    alert = page[page.index('data-alert="revoked"'):]
    alert = alert[: alert.index("</div>")]
    assert "token" not in alert.lower() and "((" not in alert and "(" not in alert


def test_conectar_sends_the_browser_to_tiny_and_the_callback_connects(world: WebWorld) -> None:
    account = world.merchant()
    world.configure(account)
    client = world.client(account)
    state = start_connect(world, client)
    page = callback(client, code=world.oauth.issue_code(), state=state)
    assert "Tiny conectado à conta Loja Exemplo Ltda." in page
    assert 'data-status="connected">conectado<' in page
    assert "Loja Exemplo Ltda" in page
    assert connection_of(world, account).status is ConnectionStatus.CONNECTED


def test_access_denied_leaves_the_connection_as_it_was(world: WebWorld) -> None:
    account = world.merchant()
    world.connect(account)
    before = connection_of(world, account)
    client = world.client(account)
    state = start_connect(world, client)
    page = callback(client, error="access_denied", state=state)
    assert "A autorização foi negada no Tiny. Nada foi alterado." in page
    after = connection_of(world, account)
    assert after.status is ConnectionStatus.CONNECTED
    assert (after.access_token, after.refresh_token, after.token_version) == (
        before.access_token,
        before.refresh_token,
        before.token_version,
    )


def test_a_replayed_state_is_refused(world: WebWorld) -> None:
    account = world.merchant()
    world.configure(account)
    client = world.client(account)
    state = start_connect(world, client)
    callback(client, code=world.oauth.issue_code(), state=state)
    exchanges = world.oauth.exchange_calls
    page = callback(client, code=world.oauth.issue_code(), state=state)
    assert "Este link de autorização já foi usado ou foi substituído por outro." in page
    assert world.oauth.exchange_calls == exchanges


def test_a_tampered_state_is_refused(world: WebWorld) -> None:
    account = world.merchant()
    world.configure(account)
    client = world.client(account)
    state = start_connect(world, client)
    payload, _, signed_rest = state.partition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signed_rest
    page = callback(client, code=world.oauth.issue_code(), state=forged)
    assert "parâmetro state inválido" in page
    assert connection_of(world, account).status is ConnectionStatus.PENDING
    # The genuine state still works afterwards: the forgery spent nothing.
    assert "Tiny conectado" in callback(client, code=world.oauth.issue_code(), state=state)


def test_a_state_older_than_ten_minutes_is_refused(world: WebWorld) -> None:
    account = world.merchant()
    world.configure(account)
    client = world.client(account)
    state = start_connect(world, client)
    world.clock.advance(minutes=10, seconds=1)
    page = callback(client, code=world.oauth.issue_code(), state=state)
    assert "A autorização demorou mais de 10 minutos e expirou." in page
    assert connection_of(world, account).status is ConnectionStatus.PENDING


def test_a_failed_exchange_says_so_and_connects_nothing(world: WebWorld) -> None:
    account = world.merchant()
    world.configure(account)
    client = world.client(account)
    state = start_connect(world, client)
    world.oauth.fail_next.append(TransientFailure("Tiny indisponível (503)"))
    page = callback(client, code=world.oauth.issue_code(), state=state)
    assert "Não foi possível falar com o Tiny para concluir a autorização." in page
    assert connection_of(world, account).status is ConnectionStatus.PENDING


def test_a_callback_without_parameters_is_refused_with_a_message(world: WebWorld) -> None:
    account = world.merchant()
    page = callback(world.client(account))
    assert "não trouxe o parâmetro state" in page


def test_the_callback_works_without_a_session_and_shows_the_result_after_login(world: WebWorld) -> None:
    account = world.merchant()
    world.configure(account)
    state = start_connect(world, world.client(account))
    stranger = world.client()  # another browser: no Kanglu session
    answer = stranger.get("/integrations/tiny/callback?" + urlencode({"code": world.oauth.issue_code(), "state": state}))
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert connection_of(world, account).status is ConnectionStatus.CONNECTED  # from the state alone
    login_page = stranger.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Entre para ver o resultado" in login_page
    after = login(stranger, account.email, next_url="/integrations")
    assert after.headers["Location"] == "/integrations"
    assert "Tiny conectado à conta Loja Exemplo Ltda." in text_of(stranger, "/integrations")


def test_another_merchants_browser_is_not_told_whose_account_was_connected(world: WebWorld) -> None:
    owner, other = world.merchant(), world.merchant("Outra Loja", "outra@loja.com.br")
    world.configure(owner)
    state = start_connect(world, world.client(owner))
    page = callback(world.client(other), code=world.oauth.issue_code(), state=state)
    assert "Autorização do Tiny concluída." in page
    assert "Loja Exemplo Ltda" not in page


def test_conectar_before_saving_credentials_explains_what_is_missing(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    answer = post_form(client, "/integrations", "/integrations/tiny/connect")
    assert answer.status_code == 303 and answer.headers["Location"] == "/integrations"
    assert "Salve o Client ID, o Client Secret e o Link de Convite antes de conectar." in text_of(client, "/integrations")


def test_desconectar_keeps_the_orders_and_says_so(world: WebWorld) -> None:
    account = world.merchant()
    world.connect(account)
    client = world.client(account)
    answer = post_form(client, "/integrations", "/integrations/tiny/disconnect")
    assert answer.status_code == 303
    page = text_of(client, "/integrations")
    assert "Os pedidos já importados continuam aqui." in page
    assert 'data-status="disconnected">desconectado<' in page
    assert connection_of(world, account).access_token is None
    assert "Conectar</button>" in page


def test_the_card_shows_sync_time_in_sao_paulo_and_the_failures_link(world: WebWorld) -> None:
    from kanglu.domain.orders import MalformedOrder

    account = world.merchant()
    connection_id = world.connect(account)
    with world.uow() as uow:
        connection = uow.connections.get(connection_id)
        connection.last_sync_at = world.clock.now()  # 2026-07-01 12:00 UTC
        connection.last_error = "Sincronização: Tiny indisponível (503)"
        uow.commit()
    world.import_orders(account, [MalformedOrder(erp_order_id=77, reason="chave de acesso inválida", raw={})])
    world.clock.advance(minutes=5)
    page = text_of(world.client(account), "/integrations")
    assert "01/07/2026 09:00" in page and "há 5 minutos" in page
    assert "Último problema:</strong> Sincronização: Tiny indisponível (503)" in page
    assert 'href="/orders/failures"' in page and "1 pedido" in page


def test_the_help_lists_the_four_read_permissions_from_the_start(world: WebWorld) -> None:
    account = world.merchant()
    page = text_of(world.client(account), "/integrations")
    assert ("Marque as permissões de leitura: Pedidos: leitura, Notas Fiscais: leitura, Formas de Envio: leitura "
            "e Informações da Conta: leitura.") in " ".join(page.replace("<strong>", "").replace("</strong>", "").split())
    assert 'id="missing-permissions"' not in page


def test_a_missing_permission_names_the_box_to_tick_and_the_connection_stays(world: WebWorld) -> None:
    from kanglu.domain.permissions import ErpPermission

    account = world.merchant()
    world.gateway.missing = {ErpPermission.INFO_CONTA}  # the application was created without it
    connection_id = world.connect(account)
    with world.uow() as uow:
        uow.connections.get(connection_id).note_permission_missing(
            ErpPermission.NOTAS_FISCAIS, world.clock.now(), world.clock.now())
        uow.commit()
    client = world.client(account)
    page = text_of(client, "/integrations")
    assert 'data-status="connected">conectado<' in page
    card = page.split('id="missing-permissions"', 1)[1].split("</section>", 1)[0]
    assert "<strong>Notas Fiscais: leitura</strong> (enquanto isso, os pedidos são importados sem a nota fiscal)" in card
    assert "<strong>Informações da Conta: leitura</strong>" in card
    assert card.index("Notas Fiscais") < card.index("Informações da Conta")
    assert "a cada 5 minutos" in card
    answer = client.get("/api/v1/integrations/tiny", headers={"Authorization": f"Bearer {account.api_key}"}).json
    assert answer["status"] == "connected"
    assert answer["missing_permissions"] == ["notas_fiscais", "info_conta"]
