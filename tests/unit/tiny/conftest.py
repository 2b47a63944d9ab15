"""Fixtures for the Tiny adapter's unit tests: a fake Tiny, fake time, a gateway wired to both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kanglu.adapters.tiny import RateLimitPacer, TinyGateway
from tests.unit.tiny.fake_tiny import API, FakeTime, FakeTiny, FakeTokens

@pytest.fixture
def tiny() -> FakeTiny:
    return FakeTiny("token-one", "token-two")


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens("token-one", "token-two")


@pytest.fixture
def make_gateway(tiny: FakeTiny, fake_time: FakeTime) -> Callable[..., TinyGateway]:
    def build(**options: Any) -> TinyGateway:
        pacer = options.pop("pacer", None) or RateLimitPacer(
            burst_interval=options.pop("burst_interval", 0.0),
            fallback_interval=options.pop("fallback_interval", 0.0),
            clock=fake_time.monotonic,
            sleep=fake_time.sleep,
        )
        return TinyGateway(tiny.transport(), API, pacer=pacer, sleep=fake_time.sleep, clock=fake_time.monotonic,
                           **options)

    return build


@pytest.fixture
def gateway(make_gateway: Callable[..., TinyGateway]) -> TinyGateway:
    return make_gateway()
