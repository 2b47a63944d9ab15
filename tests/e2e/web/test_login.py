"""Logging in and out: sessions, cookie flags, redirects, throttling of repeated failures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kanglu.domain.merchants import Merchant
from tests.e2e.web.conftest import PASSWORD, WebWorld, csrf_of, login, post_form, test_settings


def test_pages_ask_for_login_and_come_back_after_it(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client()
    for path in ("/integrations", "/orders", "/customers", "/carriers", "/situacoes", "/orders/failures"):
        answer = client.get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/login?next=")
    answer = login(client, account.email, next_url="/customers?q=ana")
    assert answer.status_code == 302 and answer.headers["Location"] == "/customers?q=ana"
    assert client.get("/customers?q=ana").status_code == 200


def test_login_never_redirects_off_site(world: WebWorld) -> None:
    account = world.merchant()
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        answer = login(world.client(), account.email, next_url=target)
        assert answer.headers["Location"] == "/integrations", target


def test_wrong_password_and_unknown_email_get_the_same_answer(world: WebWorld) -> None:
    account = world.merchant()
    wrong = login(world.client(), account.email, "senha-errada")
    unknown = login(world.client(), "ninguem@exemplo.com.br", "senha-errada")
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "E-mail ou senha incorretos." in answer.get_data(as_text=True)


def test_session_cookie_is_http_only_and_lax_and_secure_under_https(tmp_path: Path) -> None:
    for public_url, secure in (("http://127.0.0.1:8000", False), ("https://app.kanglu.com.br", True)):
        world = WebWorld(settings=test_settings(tmp_path / str(secure), public_url=public_url))
        account = world.merchant()
        answer = login(world.client(), account.email)
        cookie = next(v for k, v in answer.headers.items() if k == "Set-Cookie" and v.startswith("kanglu_session="))
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert "httponly" in flags and "samesite=lax" in flags
        assert ("secure" in flags) is secure


def test_logout_ends_the_session(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    assert client.get("/orders").status_code == 200
    answer = post_form(client, "/orders", "/logout")
    assert answer.status_code == 302
    assert client.get("/orders").status_code == 302


def test_a_new_password_ends_older_sessions(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    with world.uow() as uow:
        merchant: Merchant = uow.merchants.get(account.id)
        merchant.password_hash = "hashed:" + "outra-senha-forte"[::-1]
        uow.commit()
    assert client.get("/orders").status_code == 302


def test_login_is_csrf_protected(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client()
    answer = client.post("/login", data={"email": account.email, "password": PASSWORD})
    assert answer.status_code == 400
    assert client.get("/orders").status_code == 302


def test_five_failures_lock_the_email_for_a_while_then_longer(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client()
    for _ in range(4):
        assert login(client, account.email, "errada-123").status_code == 401
    fifth = login(client, account.email, "errada-123")
    assert fifth.status_code == 429
    assert "Muitas tentativas sem sucesso" in fifth.get_data(as_text=True)
    assert "30 segundos" in fifth.get_data(as_text=True)

    # Locked: even the right password is refused, without being checked.
    locked = login(world.client(), account.email)
    assert locked.status_code == 429
    assert world.client().get("/orders").status_code == 302

    world.clock.advance(seconds=31)
    assert login(client, account.email, "errada-123").status_code == 429  # the sixth failure: 60 s now
    assert "1 minuto" in login(world.client(), account.email).get_data(as_text=True)

    world.clock.advance(seconds=61)
    answer = login(world.client(), account.email)
    assert answer.status_code == 302  # the right password, once the lock is over

    # A success forgets the failures.
    for _ in range(4):
        assert login(world.client(), account.email, "errada-123").status_code == 401


def test_one_address_trying_many_emails_is_throttled(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client()
    for n in range(29):
        assert login(client, f"alvo{n}@exemplo.com.br", "chute-123").status_code == 401
    assert login(client, "alvo29@exemplo.com.br", "chute-123").status_code == 429
    # From the same address, the real merchant waits too; the lock lifts with time.
    assert login(client, account.email).status_code == 429
    world.clock.advance(timedelta(minutes=1))
    assert login(client, account.email).status_code == 302


def test_login_page_shows_the_form_in_portuguese(world: WebWorld) -> None:
    html = world.client().get("/login").get_data(as_text=True)
    assert 'lang="pt-BR"' in html
    for text in ("Entrar na sua conta", "E-mail", "Senha", "Entrar"):
        assert text in html
    assert csrf_of(html)
