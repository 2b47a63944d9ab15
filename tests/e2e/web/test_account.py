"""Sessions that end, the Conta page (password, sessions, API key) and the throttle's
ceilings, through the web app over fakes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import attrs

from kanglu.application.web_access import POLICIES, SESSION_IDLE_TIMEOUT
from tests.e2e.web.conftest import PASSWORD, WebWorld, csrf_of, login, post_form, test_settings


def _cookie(client) -> str:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie("kanglu_session")
    assert cookie is not None
    return cookie.value


def test_a_cookie_captured_before_logout_is_refused_after_it(world: WebWorld) -> None:
    account = world.merchant()
    browser = world.client(account)
    captured = _cookie(browser)
    assert post_form(browser, "/orders", "/logout").status_code == 302
    thief = world.client()
    thief.set_cookie("kanglu_session", captured)
    answer = thief.get("/orders")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert thief.get("/api/v1/orders").status_code == 401  # the API never took cookies anyway


def test_a_session_ends_after_twelve_idle_hours(world: WebWorld) -> None:
    account = world.merchant()
    browser = world.client(account)
    world.clock.advance(SESSION_IDLE_TIMEOUT - timedelta(minutes=1))
    assert browser.get("/orders").status_code == 200
    world.clock.advance(SESSION_IDLE_TIMEOUT)
    assert browser.get("/orders").status_code == 302


def test_page_views_touch_the_session_at_most_once_a_minute(world: WebWorld) -> None:
    account = world.merchant()
    browser = world.client(account)
    before = world.sessions.touches
    for _ in range(10):
        assert browser.get("/orders").status_code == 200
        world.clock.advance(seconds=5)
    assert world.sessions.touches - before == 0
    world.clock.advance(seconds=15)
    browser.get("/orders")
    assert world.sessions.touches - before == 1


def test_a_password_change_ends_the_other_sessions(world: WebWorld) -> None:
    account = world.merchant()
    here, laptop, phone = world.client(account), world.client(account), world.client(account)
    page = here.get("/conta").get_data(as_text=True)
    assert page.count("Encerrar</button>") == 2  # the two other sessions; this one logs out with Sair
    answer = here.post("/conta/senha", data={
        "csrf_token": csrf_of(page), "current_password": PASSWORD,
        "new_password": "outra-senha-forte", "confirm_password": "outra-senha-forte",
    })
    assert answer.status_code == 303
    assert "As outras 2 sessões abertas foram encerradas." in here.get("/conta").get_data(as_text=True)
    assert laptop.get("/orders").status_code == 302 and phone.get("/orders").status_code == 302
    assert here.get("/orders").status_code == 200  # this browser stays in
    assert login(world.client(), account.email).status_code == 401
    assert login(world.client(), account.email, "outra-senha-forte").status_code == 302


def test_a_password_change_asks_the_current_one(world: WebWorld) -> None:
    account = world.merchant()
    here, other = world.client(account), world.client(account)
    for form, field_message in (
        ({"current_password": "errada-123", "new_password": "nova-senha-1", "confirm_password": "nova-senha-1"},
         "A senha atual não confere."),
        ({"current_password": PASSWORD, "new_password": "curta", "confirm_password": "curta"},
         "A nova senha deve ter pelo menos 8 caracteres."),
        ({"current_password": PASSWORD, "new_password": "nova-senha-1", "confirm_password": "nova-senha-2"},
         "A confirmação não confere com a nova senha."),
    ):
        answer = post_form(here, "/conta", "/conta/senha", form)
        assert answer.status_code == 400
        assert field_message in answer.get_data(as_text=True)
    assert other.get("/orders").status_code == 200  # nothing changed, nobody logged out
    assert login(world.client(), account.email).status_code == 302


def test_the_session_list_names_the_devices_and_ends_one(world: WebWorld) -> None:
    account = world.merchant()
    here = world.client(account)
    phone = world.app.test_client()
    phone.environ_base.update({
        "HTTP_USER_AGENT": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
        "REMOTE_ADDR": "198.51.100.23",
    })
    login(phone, account.email)
    page = here.get("/conta").get_data(as_text=True)
    assert "Chrome no Android" in page and "198.51.100.23" in page and "esta sessão" in page
    other = next(s for s in world.sessions.active(account.id, world.clock.now()) if s.address == "198.51.100.23")
    answer = post_form(here, "/conta", f"/conta/sessoes/{other.id}/encerrar")
    assert answer.status_code == 303
    assert phone.get("/orders").status_code == 302
    assert here.get("/orders").status_code == 200


def test_a_merchant_cannot_end_another_merchants_session(world: WebWorld) -> None:
    alice, bob = world.merchant(), world.merchant("Loja Bento", "bento@loja.com.br")
    alice_browser, bob_browser = world.client(alice), world.client(bob)
    bob_session = world.sessions.active(bob.id, world.clock.now())[0]
    post_form(alice_browser, "/conta", f"/conta/sessoes/{bob_session.id}/encerrar")
    assert bob_browser.get("/orders").status_code == 200


def test_rotating_the_api_key_on_the_conta_page(world: WebWorld) -> None:
    account = world.merchant()
    browser = world.client(account)
    assert browser.get("/api/v1/orders", headers=account.bearer).status_code == 200
    answer = post_form(browser, "/conta", "/conta/chave-api")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "não será mostrada de novo" in html
    new_key = html.split('id="new_api_key" value="', 1)[1].split('"', 1)[0]
    assert new_key.startswith("kgl_") and new_key != account.api_key
    assert browser.get("/api/v1/orders", headers=account.bearer).status_code == 401
    assert browser.get("/api/v1/orders", headers={"Authorization": f"Bearer {new_key}"}).status_code == 200
    assert new_key not in browser.get("/conta").get_data(as_text=True)  # shown once


def test_the_conta_link_is_in_the_menu(world: WebWorld) -> None:
    account = world.merchant()
    page = world.client(account).get("/orders").get_data(as_text=True)
    assert 'href="/conta"' in page


# -- the throttle's ceilings --------------------------------------------------------------------


def _proxied_world(tmp_path: Path) -> WebWorld:
    return WebWorld(settings=attrs.evolve(test_settings(tmp_path), proxy_hops=1))


def _from(world: WebWorld, address: str):  # type: ignore[no-untyped-def]
    client = world.app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = address
    return client


def test_behind_a_proxy_failures_from_one_address_do_not_lock_another(tmp_path: Path) -> None:
    world = _proxied_world(tmp_path)
    account = world.merchant()
    attacker = _from(world, "203.0.113.66")
    for _ in range(4):
        assert login(attacker, account.email, "chute-123").status_code == 401
    assert login(attacker, account.email, "chute-123").status_code == 429
    assert login(attacker, account.email).status_code == 429  # locked, even with the right password
    assert login(_from(world, "198.51.100.7"), account.email).status_code == 302


def test_a_locked_email_logs_in_from_a_clean_address_after_the_cool_down(tmp_path: Path) -> None:
    world = _proxied_world(tmp_path)
    account = world.merchant()
    ceiling = POLICIES["email"]
    # A spread-out attack: five guesses from each of several addresses reach the e-mail's ceiling.
    tries = 0
    address = 0
    while tries < ceiling.free:
        client = _from(world, f"203.0.113.{address}")
        for _ in range(5):
            if tries == ceiling.free:
                break
            login(client, account.email, "chute-123")
            tries += 1
        address += 1
    clean = _from(world, "198.51.100.7")
    locked = login(clean, account.email)
    assert locked.status_code == 429
    assert "5 minutos" in locked.get_data(as_text=True)
    world.clock.advance(ceiling.first_lock - timedelta(seconds=1))
    assert login(clean, account.email).status_code == 429
    world.clock.advance(seconds=1)
    assert login(clean, account.email).status_code == 302


def test_guessing_the_current_password_is_throttled_like_a_login(world: WebWorld) -> None:
    account = world.merchant()
    stolen = world.client(account)
    wrong = {"current_password": "chute-123", "new_password": "nova-senha-1", "confirm_password": "nova-senha-1"}
    for _ in range(5):
        assert post_form(stolen, "/conta", "/conta/senha", wrong).status_code == 400
    locked = post_form(stolen, "/conta", "/conta/senha", {**wrong, "current_password": PASSWORD})
    assert locked.status_code == 429 and "Muitas tentativas" in locked.get_data(as_text=True)
