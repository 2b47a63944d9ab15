"""Tiny's smallest plan (30 a minute plus a 4-a-second burst bucket) and per-module 403s, against a fake Tiny."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from kanglu.adapters.tiny import RateLimitPacer, TinyGateway
from kanglu.adapters.tiny.ratelimit import RateLimitHeaders
from kanglu.application.errors import PermissionMissing, RateLimited
from kanglu.domain.orders import ErpOrder
from kanglu.domain.permissions import ErpPermission
from tests.unit.tiny.fake_tiny import FakeTime, FakeTiny, FakeTokens, listing_item

SINCE = datetime(2026, 7, 1, 12, tzinfo=UTC)
MINUTE = {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "25", "X-RateLimit-Reset": "40"}
BURST_429 = {"X-RateLimit-Limit": "4", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}


def burst_429() -> httpx.Response:
    return httpx.Response(429, content=b"", headers={"X-Request-Id": "req-burst", **BURST_429})


def production_pacer(fake_time: FakeTime) -> RateLimitPacer:
    return RateLimitPacer(clock=fake_time.monotonic, sleep=fake_time.sleep)  # 0.25 s burst pace, 5 s max wait


def test_a_burst_429_is_a_one_second_pause_not_a_reschedule(
    tiny: FakeTiny, make_gateway: Callable[..., TinyGateway], tokens: FakeTokens, fake_time: FakeTime
) -> None:
    gateway = make_gateway(pacer=production_pacer(fake_time))
    tiny.orders = [listing_item(1)]
    tiny.rate_headers = MINUTE
    gateway.changed_orders(tokens, SINCE, 0)
    tiny.script = [burst_429()]
    page = gateway.changed_orders(tokens, SINCE, 0)  # no RateLimited: the connection is not set aside
    assert [o.erp_order_id for o in page.items] == [1]  # type: ignore[union-attr]
    assert gateway.call_counts()["GET /pedidos"] == {"200": 2, "429": 1}
    assert max(fake_time.sleeps) == pytest.approx(1.0)
    # The minute's budget still rules the pace (its 25 left), not the burst's 4: the next calls
    # go at the bucket's pace, a little under 4 a second, instead of 60 / 4 = 15 s apart.
    fake_time.sleeps.clear()
    for _ in range(3):
        gateway.changed_orders(tokens, SINCE, 0)
    assert fake_time.sleeps and all(0.25 <= s <= 0.3 for s in fake_time.sleeps)


def test_the_minutes_429_still_reschedules_until_its_reset(
    tiny: FakeTiny, make_gateway: Callable[..., TinyGateway], tokens: FakeTokens, fake_time: FakeTime
) -> None:
    gateway = make_gateway(pacer=production_pacer(fake_time))
    tiny.rate_headers = MINUTE
    gateway.changed_orders(tokens, SINCE, 0)
    tiny.script = [httpx.Response(429, content=b"", headers={"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "0",
                                                             "X-RateLimit-Reset": "37"})]
    with pytest.raises(RateLimited) as caught:
        gateway.changed_orders(tokens, SINCE, 0)
    assert caught.value.retry_after == pytest.approx(37)


def test_a_30_a_minute_budget_is_paced_without_ever_meeting_a_429() -> None:
    """The pacer against a model of Tiny's two buckets: 120 calls in a row at 30 a minute."""
    fake_time = FakeTime()
    pacer = production_pacer(fake_time)
    window_start, used, second, in_second, refused = None, 0, None, 0, 0
    calls = 0
    while calls < 120:
        try:
            pacer.acquire("connection:1")
        except RateLimited as wait:  # the worker would come back after retry_after
            assert wait.retry_after is not None and wait.retry_after <= 61
            fake_time.sleep(wait.retry_after)
            continue
        now = fake_time.now
        if window_start is None or now >= window_start + 60:
            window_start, used = now, 0
        if second != int(now):
            second, in_second = int(now), 0
        reset = max(1, int(window_start + 60 - now + 0.999))
        if used >= 30:
            refused += 1
            pacer.observe("connection:1", RateLimitHeaders(30, 0, reset), refused=True)
            continue
        if in_second >= 4:
            refused += 1
            pacer.observe("connection:1", RateLimitHeaders(4, 0, 1), refused=True)
            continue
        used, in_second, calls = used + 1, in_second + 1, calls + 1
        pacer.observe("connection:1", RateLimitHeaders(30, 30 - used, reset))
        fake_time.now += 0.05  # the answer's latency
    assert refused == 0
    minutes = (fake_time.now - 1000.0) / 60
    assert 3.0 <= minutes <= 4.5  # 120 calls at 30 a minute: 4 windows, the last one only begun


def test_a_403_on_the_invoices_names_the_notas_fiscais_permission(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    tiny.orders = [listing_item(1, situacao=5)]
    orders = [o for o in gateway.changed_orders(tokens, SINCE, 0).items if isinstance(o, ErpOrder)]
    tiny.script = [httpx.Response(403, json={"mensagem": "Acesso negado"})]
    with pytest.raises(PermissionMissing) as caught:
        gateway.invoices_for(tokens, orders)
    assert caught.value.permission is ErpPermission.NOTAS_FISCAIS
    assert "Notas Fiscais: leitura" in caught.value.message


@pytest.mark.parametrize(("permission", "path"), [
    (ErpPermission.PEDIDOS, "/pedidos"), (ErpPermission.NOTAS_FISCAIS, "/notas"),
    (ErpPermission.FORMAS_ENVIO, "/formas-envio"), (ErpPermission.INFO_CONTA, "/info"),
])
def test_a_permission_is_probed_with_one_small_call(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens, permission: ErpPermission, path: str
) -> None:
    tiny.script = [httpx.Response(403, json={"mensagem": "Acesso negado"})]
    assert gateway.has_permission(tokens, permission) is False
    assert gateway.has_permission(tokens, permission) is True
    assert [r.url.path.rsplit("/v3", 1)[1] for r in tiny.requests] == [path, path]


def test_a_burst_429_never_passes_for_the_minutes_budget_when_the_next_answers_say_nothing(
    tiny: FakeTiny, make_gateway: Callable[..., TinyGateway], tokens: FakeTokens, fake_time: FakeTime
) -> None:
    """Headers are sometimes missing: the burst's `Limit: 4` must not become the plan's limit,
    or the pace would fall to 60 / 4 = 15 s a call and set the connection aside."""
    gateway = make_gateway(pacer=production_pacer(fake_time))
    tiny.rate_headers = MINUTE
    gateway.changed_orders(tokens, SINCE, 0)
    tiny.rate_headers = {}
    tiny.script = [burst_429()]
    for _ in range(4):
        gateway.changed_orders(tokens, SINCE, 0)  # never RateLimited
    assert max(fake_time.sleeps) <= 1.0
