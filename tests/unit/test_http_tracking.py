"""The HTTP tracking adapter against httpx.MockTransport: what it sends, how it reads answers."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kanglu.adapters.tracking.http import HttpTrackingService, encode, safe_url
from kanglu.application.errors import TransientFailure
from kanglu.domain.tracking import TrackingRequest, TrackingRequestKind

URL = "https://tracking.example.com/v1/shipments?token=hunter2"


def tracking_request(**changes: object) -> TrackingRequest:
    request = TrackingRequest(
        kind=TrackingRequestKind.START,
        shipment_key="abc123",
        merchant_id=7,
        erp_order_id=901,
        order_number="10001",
        ecommerce_number="MLB-1",
        carrier_code="correios",
        tracking_code="SS123456785BR",
        tracking_url="https://rastreamento.correios.com.br/app/index.php?objeto=SS123456785BR",
        customer_name="Maria da Conceição",
        customer_email="maria@example.com",
        customer_phone="11987654321",
        occurred_at=datetime(2026, 7, 1, 12, 30, tzinfo=UTC),
    )
    return attrs.evolve(request, **changes)


def service(handler: Callable[[httpx.Request], httpx.Response], url: str = URL) -> HttpTrackingService:
    return HttpTrackingService(client=httpx.Client(transport=httpx.MockTransport(handler)), url=url)


def test_posts_the_documented_json_with_the_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"ok": True})

    service(handler).deliver(tracking_request())
    (sent,) = seen
    assert sent.method == "POST" and str(sent.url) == URL
    assert sent.headers["Idempotency-Key"] == "abc123:start"
    assert sent.headers["Content-Type"].startswith("application/json")
    assert json.loads(sent.content) == {
        "version": 1,
        "kind": "start",
        "idempotency_key": "abc123:start",
        "shipment_key": "abc123",
        "occurred_at": "2026-07-01T12:30:00+00:00",
        "merchant_id": 7,
        "order": {"erp_order_id": 901, "number": "10001", "ecommerce_number": "MLB-1"},
        "carrier": {"code": "correios", "name": "Correios"},
        "tracking": {
            "code": "SS123456785BR",
            "url": "https://rastreamento.correios.com.br/app/index.php?objeto=SS123456785BR",
        },
        "customer": {"name": "Maria da Conceição", "email": "maria@example.com", "phone": "11987654321"},
    }


def test_a_carrier_the_registry_lost_is_still_sent_by_its_code() -> None:
    body = json.loads(encode(tracking_request(carrier_code="gone_carrier", customer_name=None)))
    assert body["carrier"] == {"code": "gone_carrier", "name": "gone_carrier"}
    assert body["customer"]["name"] is None


@given(
    kind=st.sampled_from(TrackingRequestKind),
    text=st.one_of(st.none(), st.text(max_size=40)),
    number=st.integers(1, 2**53),
)
def test_any_request_encodes_to_json_that_round_trips_its_fields(kind, text, number) -> None:
    request = tracking_request(kind=kind, order_number=text, customer_name=text, erp_order_id=number)
    body = json.loads(encode(request))
    assert (body["kind"], body["order"]["number"], body["customer"]["name"]) == (kind.value, text, text)
    assert body["order"]["erp_order_id"] == number and body["idempotency_key"].endswith(":" + kind.value)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 409])
def test_success_and_already_seen_are_done(status: int) -> None:
    service(lambda r: httpx.Response(status)).deliver(tracking_request())


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_and_throttling_are_retried(status: int) -> None:
    with pytest.raises(TransientFailure) as failed:
        service(lambda r: httpx.Response(status, headers={"Retry-After": "30"})).deliver(tracking_request())
    assert f"HTTP {status}" in failed.value.message and failed.value.retry_after == 30.0


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow"), httpx.ConnectError("refused"),
              httpx.RemoteProtocolError("bye")]
)
def test_timeouts_and_connection_errors_are_retried(error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(TransientFailure) as failed:
        service(handler).deliver(tracking_request())
    assert "serviço de rastreamento" in failed.value.message


@pytest.mark.parametrize("status", [400, 401, 404, 422, 302])
def test_other_answers_are_retried_but_logged_as_errors_with_the_status(status: int, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="kanglu.adapters.tracking.http")
    answer = httpx.Response(status, json={"mensagem": "campo tracking.code obrigatório"})
    with pytest.raises(TransientFailure) as failed:
        service(lambda r: answer).deliver(tracking_request())
    assert f"HTTP {status}" in failed.value.message and "tracking.code obrigatório" in failed.value.message
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.status == status and "will not fix itself" in record.getMessage()
    assert record.shipment == "abc123" and record.kind == "start"


def test_no_secret_or_personal_data_reaches_the_logs(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    url = "https://user:s3cr3t-pass@tracking.example.com/v1/shipments?token=hunter2"
    for status in (200, 409, 400, 503):
        try:
            service(lambda r, s=status: httpx.Response(s, text="nope"), url=url).deliver(tracking_request())
        except TransientFailure:
            assert status in (400, 503)
    ours = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name.startswith("kanglu"))
    everything = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "tracking.example.com/v1/shipments" in ours
    for secret in ("hunter2", "maria@example.com", "11987654321"):
        assert secret not in ours
    # httpx logs every request URL at INFO: credentials must not be part of it.
    assert "s3cr3t-pass" not in everything


def test_url_credentials_travel_as_basic_auth() -> None:
    seen: list[httpx.Request] = []
    service(lambda r: seen.append(r) or httpx.Response(204), url="https://kanglu:p%40ss@t.example/hook").deliver(
        tracking_request()
    )
    (sent,) = seen
    assert str(sent.url) == "https://t.example/hook"
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"kanglu:p@ss").decode()


def test_safe_url_drops_credentials_and_query() -> None:
    assert safe_url("https://u:p@h.example:8443/x/y?token=t#f") == "https://h.example:8443/x/y"
