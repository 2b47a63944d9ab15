"""Rate limits and injected faults, as Kanglu's adapter will meet them."""

from __future__ import annotations

import threading

import httpx
import pytest

from kanglu.sandbox import SandboxServer
from tests.contract.conftest import api_client, new_account


def rate(answer) -> tuple[int, int, int]:
    h = answer.headers
    return int(h["X-RateLimit-Limit"]), int(h["X-RateLimit-Remaining"]), int(h["X-RateLimit-Reset"])


def test_headers_count_down_and_the_429_is_empty_without_retry_after(sandbox) -> None:
    account = new_account(sandbox, settings={"rate_limit": 5, "burst": 0})
    with api_client(sandbox, account) as api:
        seen = [rate(api.get("/info")) for _ in range(5)]
        assert [remaining for _, remaining, _ in seen] == [4, 3, 2, 1, 0]
        assert all(limit == 5 and 1 <= reset <= 60 for limit, _, reset in seen)
        over = api.get("/pedidos")
        assert over.status_code == 429
        assert over.content == b""
        assert "retry-after" not in over.headers
        assert rate(over)[1] == 0
        sandbox.clock.advance(rate(over)[2])
        again = api.get("/pedidos")
        assert again.status_code == 200 and rate(again)[1] == 4
    assert account.counters.get("api", "GET /pedidos", "429") == 1


def test_a_401_does_not_spend_the_budget(http, sandbox) -> None:
    account = new_account(sandbox, settings={"rate_limit": 3})
    for _ in range(5):
        assert http.get(f"{sandbox.api_url}/info", headers={"Authorization": "Bearer x"}).status_code == 401
    with api_client(sandbox, account) as api:
        assert rate(api.get("/info"))[1] == 2


def test_burst_per_second_on_top_of_the_minute(sandbox) -> None:
    account = new_account(sandbox, settings={"rate_limit": 100, "burst": 2})
    with api_client(sandbox, account) as api:
        statuses = [api.get("/info").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        sandbox.clock.advance(1)
        assert api.get("/info").status_code == 200


def test_the_default_is_the_smallest_plan_with_tinys_own_headers_on_each_buckets_429(sandbox) -> None:
    account = sandbox.create_account(orders=5, seed=4242)
    assert (account.settings.rate_limit, account.settings.burst) == (30, 4)
    with api_client(sandbox, account) as api:
        answers = [api.get("/info") for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
        assert rate(answers[0])[:2] == (30, 29)
        burst = answers[-1]
        assert rate(burst) == (4, 0, 1)  # the burst bucket's figures, not the minute's
        assert burst.content == b"" and "retry-after" not in burst.headers
        used = 4
        while used < 30:  # the rest of the minute, four a second
            sandbox.clock.advance(1)
            for _ in range(min(4, 30 - used)):
                assert api.get("/info").status_code == 200
                used += 1
        sandbox.clock.advance(1)
        minute = api.get("/info")
        assert minute.status_code == 429
        limit, remaining, reset = rate(minute)
        assert (limit, remaining) == (30, 0) and 1 <= reset <= 60
        sandbox.clock.advance(reset)
        assert api.get("/info").status_code == 200
    assert account.counters.get("api", "GET /info", "429") == 2


def test_a_plan_is_chosen_by_its_reads_per_minute(http, sandbox) -> None:
    account = new_account(sandbox)
    url = f"{sandbox.base_url}/_sandbox/accounts/{account.id}"
    for plan in (30, 60, 120, 140):
        assert http.patch(url, json={"plan": plan}).json()["settings"]["rate_limit"] == plan
    assert http.patch(url, json={"plan": 45}).status_code == 400
    created = http.post(f"{sandbox.base_url}/_sandbox/accounts", json={"orders": 1, "plan": 60}).json()
    assert sandbox.state.account(created["account_id"]).limiter.per_minute == 60


def test_rate_limit_headers_can_be_missing(sandbox) -> None:
    account = new_account(sandbox, settings={"rate_limit": 2, "headers_missing_rate": 1.0})
    with api_client(sandbox, account) as api:
        answers = [api.get("/info") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert not any(k.lower().startswith("x-ratelimit") for a in answers for k in a.headers)
    assert all(a.headers["x-request-id"] for a in answers)


def test_forced_errors_then_success(http, sandbox) -> None:
    account = new_account(sandbox)
    faults = f"{sandbox.base_url}/_sandbox/accounts/{account.id}/faults"
    assert http.patch(faults, json={"force_errors": [503, 500]}).status_code == 200
    with api_client(sandbox, account) as api:
        first, second, third = api.get("/pedidos"), api.get("/pedidos"), api.get("/pedidos")
    assert (first.status_code, second.status_code, third.status_code) == (503, 500, 200)
    assert first.headers["x-request-id"]
    counters = http.get(f"{sandbox.base_url}/_sandbox/accounts/{account.id}/counters").json()
    assert counters["api"]["GET /pedidos"]["by_status"] == {"200": 1, "500": 1, "503": 1}


def test_error_rate_one_always_fails_and_zero_never(http, sandbox) -> None:
    account = new_account(sandbox, faults={"error_rate": 1.0, "error_statuses": [502]})
    with api_client(sandbox, account) as api:
        assert {api.get("/info").status_code for _ in range(5)} == {502}
        http.patch(f"{sandbox.base_url}/_sandbox/accounts/{account.id}/faults", json={"error_rate": 0})
        assert {api.get("/info").status_code for _ in range(5)} == {200}


def test_faults_can_be_limited_to_some_endpoints(http, sandbox) -> None:
    account = new_account(sandbox, faults={"error_rate": 1.0, "error_statuses": [503],
                                           "endpoints": ["GET /pedidos/{idPedido}"]})
    with api_client(sandbox, account) as api:
        listed = api.get("/pedidos").json()["itens"]
        assert api.get(f"/pedidos/{listed[0]['id']}").status_code == 503
        assert api.get("/info").status_code == 200
    url = f"{sandbox.base_url}/_sandbox/accounts/{account.id}/faults"
    assert http.get(url).json()["faults"]["endpoints"] == ["GET /pedidos/{idPedido}"]
    assert http.patch(url, json={"endpoints": "GET /info"}).status_code == 400  # a list, not a text


def test_forced_429_storm(sandbox) -> None:
    account = new_account(sandbox, faults={"force_429": 2}, settings={"rate_limit": 120})
    with api_client(sandbox, account) as api:
        assert [api.get("/info").status_code for _ in range(3)] == [429, 429, 200]
        account.faults["api"].storm_until = sandbox.clock.now() + 30
        storm = api.get("/info")
        assert storm.status_code == 429 and storm.content == b"" and rate(storm)[2] == 30
        sandbox.clock.advance(31)
        assert api.get("/info").status_code == 200


def test_latency_and_slow_answers_wait_outside_the_request(sandbox, sleeps) -> None:
    account = new_account(sandbox, faults={"latency_ms": 50, "slow_seconds": 40, "force_slow": 1})
    before = len(sleeps.calls)
    with api_client(sandbox, account) as api:
        assert api.get("/info").status_code == 200
        assert api.get("/info").status_code == 200
    assert sleeps.calls[before:] == [40.05, 0.05]


def test_token_endpoint_faults(http, sandbox) -> None:
    account = new_account(sandbox, token_faults={"force_errors": [503]})
    tokens = sandbox.issue_tokens(account)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": account.client_id, "client_secret": account.client_secret}
    first = http.post(f"{sandbox.auth_url}/token", data=form)
    assert first.status_code == 503
    second = http.post(f"{sandbox.auth_url}/token", data=form)
    assert second.status_code == 200, "a transient failure does not spend the refresh token"
    assert account.counters.get("oauth", "token:refresh_token", "503") == 1


def _refresh_form(account, refresh_token: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": account.client_id, "client_secret": account.client_secret}


def _oauth_state(http, sandbox, account) -> dict:  # type: ignore[no-untyped-def,type-arg]
    answer = http.get(f"{sandbox.base_url}/_sandbox/accounts/{account.id}/oauth")
    assert answer.status_code == 200
    return answer.json()


def _live(http, sandbox, account, refresh_token: str) -> bool:  # type: ignore[no-untyped-def]
    answer = http.post(f"{sandbox.base_url}/_sandbox/accounts/{account.id}/oauth/check",
                       json={"refresh_token": refresh_token})
    return answer.json()["live"]


def test_token_faults_that_never_reach_keycloak_leave_the_refresh_token_live(http, sandbox, sleeps) -> None:
    """A hang (answered 504 after `hang_seconds`), a dropped connection, a 503 and a 429: the
    refresh is not carried out, the same refresh token works afterwards."""
    account = new_account(sandbox)
    tokens = sandbox.issue_tokens(account)
    url = f"{sandbox.base_url}/_sandbox/accounts/{account.id}/faults?scope=token"
    assert http.patch(url, json={"force_hang": 1, "hang_seconds": 7, "force_reset": 1, "force_errors": [503],
                                 "force_429": 1}).status_code == 200
    form = _refresh_form(account, tokens["refresh_token"])
    before = len(sleeps.calls)
    assert http.post(f"{sandbox.auth_url}/token", data=form).status_code == 504
    assert sleeps.calls[before:] == [7.0]
    with pytest.raises(httpx.TransportError):
        http.post(f"{sandbox.auth_url}/token", data=form)
    assert http.post(f"{sandbox.auth_url}/token", data=form).status_code == 429
    assert http.post(f"{sandbox.auth_url}/token", data=form).status_code == 503
    assert _live(http, sandbox, account, tokens["refresh_token"])
    assert http.post(f"{sandbox.auth_url}/token", data=form).status_code == 200
    assert not _live(http, sandbox, account, tokens["refresh_token"])
    assert account.counters.get("oauth", "token:refresh_token", "reset") == 1
    state = _oauth_state(http, sandbox, account)
    assert state["spent_refresh_token_uses"] == 0 and state["live_refresh_tokens"] == 1


def test_a_late_answer_is_carried_out_and_a_spent_token_reuse_is_counted(http, sandbox, sleeps) -> None:
    account = new_account(sandbox, token_faults={"force_late": 1, "late_seconds": 3})
    tokens = sandbox.issue_tokens(account)
    form = _refresh_form(account, tokens["refresh_token"])
    before = len(sleeps.calls)
    first = http.post(f"{sandbox.auth_url}/token", data=form)
    assert first.status_code == 200 and sleeps.calls[before:] == [3.0]
    assert not _live(http, sandbox, account, tokens["refresh_token"])  # rotated before the answer left
    again = http.post(f"{sandbox.auth_url}/token", data=form)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    assert _oauth_state(http, sandbox, account)["spent_refresh_token_uses"] == 1


def test_a_forced_invalid_grant_refuses_without_spending(http, sandbox) -> None:
    account = new_account(sandbox, token_faults={"force_invalid_grant": 1})
    tokens = sandbox.issue_tokens(account)
    refused = http.post(f"{sandbox.auth_url}/token", data=_refresh_form(account, tokens["refresh_token"]))
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    assert _oauth_state(http, sandbox, account)["spent_refresh_token_uses"] == 0


def test_global_faults_reach_every_account(http, sandbox) -> None:
    accounts = [new_account(sandbox, orders=1) for _ in range(2)]
    answer = http.patch(f"{sandbox.base_url}/_sandbox/faults", json={"force_errors": [500]})
    try:
        assert answer.status_code == 200
        for account in accounts:
            with api_client(sandbox, account) as api:
                assert api.get("/info").status_code == 500
                assert api.get("/info").status_code == 200
    finally:
        http.patch(f"{sandbox.base_url}/_sandbox/faults", json={"force_errors": []})


def test_fault_changes_are_validated(http, sandbox, account) -> None:
    url = f"{sandbox.base_url}/_sandbox/accounts/{account.id}/faults"
    for bad in ({"error_rate": 2}, {"force_errors": [200]}, {"nope": 1}, {"latency_ms": "x"}):
        answer = http.patch(url, json=bad)
        assert answer.status_code == 400, bad
        assert answer.json()["error"]
    assert http.patch(url + "?scope=db", json={}).status_code == 400


def test_a_slow_answer_does_not_hold_up_other_calls_to_the_same_account() -> None:
    """Deterministic, no timing: the first call's delay blocks until released, and a second call
    to the same account must complete meanwhile (latency never serialises an account)."""
    entered, release = threading.Event(), threading.Event()

    def blocking_sleep(seconds: float) -> None:
        entered.set()
        assert release.wait(timeout=30)

    with SandboxServer(orders=5, sleep=blocking_sleep, faults={"slow_seconds": 5}) as server:
        account = server.default_account
        account.faults["api"].force_slow = 1
        with api_client(server, account) as api:
            slow = threading.Thread(target=lambda: results.append(api.get("/pedidos").status_code))
            results: list[int] = []
            slow.start()
            assert entered.wait(timeout=30)
            assert api.get("/info").status_code == 200  # served while the first call sleeps
            assert results == []
            release.set()
            slow.join(timeout=30)
        assert results == [200]


def test_a_forced_429_reports_rate_headers_even_on_an_unlimited_account(sandbox) -> None:
    account = new_account(sandbox, faults={"force_429": 1})
    assert account.settings.rate_limit == 0
    with api_client(sandbox, account) as api:
        storm = api.get("/info")
        calm = api.get("/info")
    assert storm.status_code == 429 and rate(storm)[:2] == (120, 0)
    assert calm.status_code == 200 and not any(k.lower().startswith("x-ratelimit") for k in calm.headers)
