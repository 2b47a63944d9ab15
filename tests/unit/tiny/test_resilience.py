"""Rate limits, retries, token renewal and what gets logged, against a fake Tiny."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from kanglu.adapters.tiny import RateLimitPacer, RetryPolicy, TinyGateway
from kanglu.adapters.tiny.ratelimit import RateLimitHeaders
from kanglu.application.errors import PermissionMissing, RateLimited, ReauthorizationRequired, TransientFailure
from kanglu.domain.permissions import ErpPermission
from tests.unit.tiny.fake_tiny import FakeTime, FakeTiny, FakeTokens, listing_item

SINCE = __import__("datetime").datetime(2026, 7, 1, 12, tzinfo=__import__("datetime").UTC)


def empty_429(headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(429, content=b"", headers={"X-Request-Id": "req-429", **(headers or {})})


def statuses(gateway: TinyGateway, endpoint: str = "GET /pedidos") -> dict[str, int]:
    return gateway.call_counts().get(endpoint, {})


# -- 429 ------------------------------------------------------------------------------------------


def test_a_429_with_a_short_reset_is_waited_out_and_retried(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens, fake_time: FakeTime
) -> None:
    tiny.orders = [listing_item(1)]
    tiny.script = [empty_429({"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"})]
    page = gateway.changed_orders(tokens, SINCE, 0)
    assert [o.erp_order_id for o in page.items] == [1]  # type: ignore[union-attr]
    assert statuses(gateway) == {"429": 1, "200": 1}
    assert sum(fake_time.sleeps) == pytest.approx(3)


def test_a_429_with_a_long_reset_reschedules_the_connection_instead_of_blocking(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens, fake_time: FakeTime
) -> None:
    tiny.orders = [listing_item(1)]
    tiny.script = [empty_429({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "42"})]
    with pytest.raises(RateLimited) as caught:
        gateway.changed_orders(tokens, SINCE, 0)
    assert caught.value.retry_after == pytest.approx(42)
    assert caught.value.request_id == "req-429"
    assert sum(fake_time.sleeps) == 0  # the worker thread was not held
    # The same account is not asked again before the reset; another account is served.
    before = len(tiny.requests)
    with pytest.raises(RateLimited):
        gateway.changed_orders(tokens, SINCE, 0)
    assert len(tiny.requests) == before
    other = FakeTokens("token-one", key="connection:2")
    assert len(gateway.changed_orders(other, SINCE, 0).items) == 1


def test_a_429_without_headers_backs_off_with_jitter(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    tiny.script = [empty_429()]
    with pytest.raises(RateLimited) as caught:
        gateway.changed_orders(tokens, SINCE, 0)
    assert caught.value.retry_after is not None and 20 <= caught.value.retry_after <= 40
    assert caught.value.message.startswith("limite de requisições")


def test_repeated_short_429s_end_in_a_reschedule(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    reset = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"}
    tiny.script = [empty_429(reset) for _ in range(5)]
    with pytest.raises(RateLimited):
        gateway.changed_orders(tokens, SINCE, 0)
    assert statuses(gateway) == {"429": 3}  # the first answer and two waits, then give the thread back


# -- pacing ---------------------------------------------------------------------------------------


def pacer_for(fake_time: FakeTime, **options: float) -> RateLimitPacer:
    return RateLimitPacer(clock=fake_time.monotonic, sleep=fake_time.sleep, **options)


def test_pacing_spreads_the_last_calls_of_the_window_over_the_time_left(
    tiny: FakeTiny, make_gateway: Callable[..., TinyGateway], tokens: FakeTokens, fake_time: FakeTime
) -> None:
    gateway = make_gateway(pacer=pacer_for(fake_time, burst_interval=0.25, max_wait=30))
    tiny.rate_headers = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "4", "X-RateLimit-Reset": "20"}
    gateway.changed_orders(tokens, SINCE, 0)
    gateway.changed_orders(tokens, SINCE, 0)
    # 4 left for 20 s: one call every 5 s rather than 4 at once and a wall.
    assert fake_time.sleeps == [pytest.approx(5)]
    assert statuses(gateway) == {"200": 2}


def test_plenty_left_goes_at_the_burst_pace(
    tiny: FakeTiny, make_gateway: Callable[..., TinyGateway], tokens: FakeTokens, fake_time: FakeTime
) -> None:
    gateway = make_gateway(pacer=pacer_for(fake_time, burst_interval=0.25))
    tiny.rate_headers = {"X-RateLimit-Limit": "120", "X-RateLimit-Remaining": "100", "X-RateLimit-Reset": "30"}
    for _ in range(3):
        gateway.changed_orders(tokens, SINCE, 0)
    assert fake_time.sleeps == [pytest.approx(0.25)] * 2


def test_a_spent_budget_beyond_the_wait_limit_is_a_rate_limit_before_tiny_says_429(
    tiny: FakeTiny, make_gateway: Callable[..., TinyGateway], tokens: FakeTokens, fake_time: FakeTime
) -> None:
    gateway = make_gateway(pacer=pacer_for(fake_time, max_wait=5))
    tiny.rate_headers = {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "50"}
    gateway.changed_orders(tokens, SINCE, 0)
    with pytest.raises(RateLimited) as caught:
        gateway.changed_orders(tokens, SINCE, 0)
    assert caught.value.retry_after == pytest.approx(50)
    assert len(tiny.requests) == 1  # the second call never reached Tiny


def test_missing_headers_fall_back_to_a_steady_pace(
    tiny: FakeTiny, make_gateway: Callable[..., TinyGateway], tokens: FakeTokens, fake_time: FakeTime
) -> None:
    gateway = make_gateway(pacer=pacer_for(fake_time, fallback_interval=1.0, burst_interval=0.25))
    for _ in range(3):
        gateway.changed_orders(tokens, SINCE, 0)
    assert fake_time.sleeps == [pytest.approx(1.0)] * 2


@pytest.mark.parametrize("names", [
    ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"),
    ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"),
    ("X-RATELIMIT-LIMIT", "X-RATELIMIT-REMAINING", "X-RATELIMIT-RESET"),
])
def test_rate_limit_headers_are_read_whatever_their_case(names: tuple[str, str, str]) -> None:
    for headers in (dict(zip(names, ("60", "7", "12.5"), strict=True)),
                    httpx.Headers(dict(zip(names, ("60", "7", "12.5"), strict=True)))):
        assert RateLimitHeaders.from_headers(headers) == RateLimitHeaders(60, 7, 12.5)


def test_nonsense_rate_limit_headers_are_ignored() -> None:
    parsed = RateLimitHeaders.from_headers({"X-RateLimit-Remaining": "many", "X-RateLimit-Reset": "1719830000"})
    assert parsed == RateLimitHeaders(None, None, None)  # a timestamp is not "seconds until"


# -- 5xx, timeouts, network --------------------------------------------------------------------


def test_a_5xx_then_success_is_retried(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    tiny.orders = [listing_item(1)]
    tiny.script = [httpx.Response(503, headers={"X-Request-Id": "req-503"}),
                   httpx.Response(500, json={"mensagem": "erro"})]
    assert len(gateway.changed_orders(tokens, SINCE, 0).items) == 1
    assert statuses(gateway) == {"503": 1, "500": 1, "200": 1}


def test_a_5xx_that_persists_is_a_transient_failure_with_tinys_request_id(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens, caplog: pytest.LogCaptureFixture
) -> None:
    tiny.script = [httpx.Response(502, headers={"X-Request-Id": f"req-{n}"}) for n in range(10)]
    with caplog.at_level(logging.WARNING), pytest.raises(TransientFailure) as caught:
        gateway.changed_orders(tokens, SINCE, 0)
    assert not isinstance(caught.value, RateLimited)
    assert caught.value.request_id == "req-2"
    assert statuses(gateway) == {"502": 3}  # bounded
    failures = [r for r in caplog.records if getattr(r, "request_id", None)]
    assert {r.request_id for r in failures} >= {"req-0", "req-1", "req-2"}  # type: ignore[attr-defined]


def test_timeouts_are_retried_then_given_up(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    tiny.orders = [listing_item(1)]
    tiny.script = [timeout]
    assert len(gateway.changed_orders(tokens, SINCE, 0).items) == 1
    assert statuses(gateway) == {"timeout": 1, "200": 1}

    tiny.script = [timeout] * 5
    with pytest.raises(TransientFailure, match="demorou demais"):
        gateway.changed_orders(tokens, SINCE, 0)


def test_a_connection_error_is_a_transient_failure(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    tiny.script = [refused] * 5
    with pytest.raises(TransientFailure, match="falha de rede"):
        gateway.changed_orders(tokens, SINCE, 0)
    assert statuses(gateway) == {"network": 3}


def test_retries_stop_at_the_total_time_cap(tiny: FakeTiny, make_gateway: Callable[..., TinyGateway],
                                            tokens: FakeTokens) -> None:
    gateway = make_gateway(policy=RetryPolicy(attempts=50, total_seconds=0.0))
    tiny.script = [httpx.Response(500)] * 50
    with pytest.raises(TransientFailure):
        gateway.changed_orders(tokens, SINCE, 0)
    assert statuses(gateway) == {"500": 1}


def test_an_unreadable_body_is_retried(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    tiny.orders = [listing_item(1)]
    tiny.script = [httpx.Response(200, content=b'{"itens": [')]
    assert len(gateway.changed_orders(tokens, SINCE, 0).items) == 1


def test_a_listing_of_another_shape_is_a_transient_failure(tiny: FakeTiny, gateway: TinyGateway,
                                                           tokens: FakeTokens) -> None:
    tiny.script = [httpx.Response(200, json={"retorno": {"status": "Erro"}, "itens": "none"})]
    with pytest.raises(TransientFailure, match="formato inesperado"):
        gateway.changed_orders(tokens, SINCE, 0)


def test_an_unexpected_4xx_is_a_transient_failure_not_a_disconnection(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    tiny.script = [httpx.Response(400, json={"mensagem": "Parâmetro inválido", "detalhes": []},
                                  headers={"X-Request-Id": "req-400"})]
    with pytest.raises(TransientFailure) as caught:
        gateway.list_orders(tokens, updated_since=SINCE.date())
    assert caught.value.request_id == "req-400" and "HTTP 400" in caught.value.message


# -- 401 / 403 ------------------------------------------------------------------------------------


def test_a_401_renews_the_token_once_and_retries(tiny: FakeTiny, gateway: TinyGateway) -> None:
    tiny.tokens = {"token-two"}  # token-one was revoked or expired in Tiny
    tiny.orders = [listing_item(1)]
    tokens = FakeTokens("token-one", "token-two")
    assert len(gateway.changed_orders(tokens, SINCE, 0).items) == 1
    assert tokens.renewals == 1
    assert [r.headers["authorization"] for r in tiny.requests] == ["Bearer token-one", "Bearer token-two"]
    assert statuses(gateway) == {"401": 1, "200": 1}


def test_a_401_right_after_a_successful_renewal_is_retried_later_not_a_disconnection(
    tiny: FakeTiny, gateway: TinyGateway
) -> None:
    """Tiny's token endpoint has just accepted the authorisation: the API refusing the new token
    is not a definite refusal. One renewal, no third call, a transient failure."""
    tiny.tokens = set()
    tokens = FakeTokens("token-one", "token-two")
    with pytest.raises(TransientFailure) as caught:
        gateway.changed_orders(tokens, SINCE, 0)
    assert not isinstance(caught.value, RateLimited)
    assert tokens.renewals == 1
    assert "recém-renovado" in caught.value.message
    assert statuses(gateway) == {"401": 2}


def test_a_renewal_that_failed_for_a_while_is_a_transient_failure(tiny: FakeTiny, gateway: TinyGateway) -> None:
    class Failing(FakeTokens):
        def renew(self):  # type: ignore[no-untyped-def]
            self.renewals += 1
            raise TransientFailure("o servidor de autorização do Tiny está com instabilidade (HTTP 503)")

    tiny.tokens = set()
    tokens = Failing("token-one")
    with pytest.raises(TransientFailure):
        gateway.changed_orders(tokens, SINCE, 0)
    assert tokens.renewals == 1
    assert statuses(gateway) == {"401": 1}  # the refused token is not sent again


def test_a_renewal_refused_by_tiny_propagates(tiny: FakeTiny, gateway: TinyGateway) -> None:
    class Refusing(FakeTokens):
        def renew(self):  # type: ignore[no-untyped-def]
            raise ReauthorizationRequired("o Tiny recusou a renovação", "invalid_grant")

    tiny.tokens = set()
    with pytest.raises(ReauthorizationRequired) as caught:
        gateway.changed_orders(Refusing("token-one"), SINCE, 0)
    assert caught.value.error_code == "invalid_grant"


def test_a_403_is_a_missing_permission_of_that_module_not_a_lost_authorisation(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    tiny.script = [httpx.Response(403, json={"mensagem": "Acesso negado"}, headers={"X-Request-Id": "req-403"})]
    with pytest.raises(PermissionMissing) as caught:
        gateway.changed_orders(tokens, SINCE, 0)
    assert caught.value.permission is ErpPermission.PEDIDOS
    assert caught.value.request_id == "req-403"
    assert "“Pedidos: leitura”" in caught.value.message
    assert tokens.renewals == 0
    assert not isinstance(caught.value, ReauthorizationRequired)


# -- secrets ----------------------------------------------------------------------------------------


def everything_said(records: list[logging.LogRecord], errors: list[BaseException]) -> str:
    said = [r.getMessage() + repr(sorted(r.__dict__.items(), key=lambda kv: kv[0])) for r in records]
    said += [str(e) + repr(e) + repr(getattr(e, "__dict__", {})) for e in errors]
    return "\n".join(said)


def test_no_token_ever_reaches_a_log_record_or_an_exception(
    tiny: FakeTiny, gateway: TinyGateway, caplog: pytest.LogCaptureFixture
) -> None:
    secret_one, secret_two = "s3cr3t-access-AAAA", "s3cr3t-access-BBBB"
    tiny.tokens = {secret_two}
    tokens = FakeTokens(secret_one, secret_two)

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    errors: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        tiny.script = [httpx.Response(503), timeout, empty_429({"X-RateLimit-Reset": "1"})]
        gateway.changed_orders(tokens, SINCE, 0)  # 503, timeout, 429 and a 401 on the way
        for script in ([httpx.Response(500)] * 3, [empty_429({"X-RateLimit-Reset": "90"})],
                       [httpx.Response(403)], [timeout] * 3):
            tiny.script = list(script)
            try:
                gateway.changed_orders(FakeTokens(secret_two, key=f"connection:{len(errors) + 9}"), SINCE, 0)
            except Exception as exc:  # noqa: BLE001 - collecting every error to inspect its text
                errors.append(exc)
        tiny.tokens = set()
        try:
            gateway.changed_orders(FakeTokens(secret_one, secret_two, key="connection:99"), SINCE, 0)
        except TransientFailure as exc:
            errors.append(exc)
    assert len(errors) == 5
    text = everything_said(caplog.records, errors)
    assert caplog.records and secret_one not in text and secret_two not in text
