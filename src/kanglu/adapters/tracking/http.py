"""The HTTP tracking adapter: posts each tracking request to an external tracking service.

The wire format and the answers it expects are described in README.md beside this module.
Every request carries an `Idempotency-Key` header; the outbox retries anything that did not
get a definite answer, so the external service may see a request twice but, honouring the
key, acts on it once.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from urllib.parse import unquote, urlsplit, urlunsplit

import attrs
import httpx
from cattrs.preconf.json import make_converter

from kanglu.application.errors import TransientFailure
from kanglu.domain.carriers import DEFAULT_REGISTRY, CarrierRegistry
from kanglu.domain.tracking import TrackingRequest

log = logging.getLogger(__name__)

WIRE_VERSION = 1
USER_AGENT = "kanglu-erp/0.1 (+tracking)"
_DETAIL_LIMIT = 200

# -- the wire format ------------------------------------------------------------------------


@attrs.frozen
class WireOrder:
    erp_order_id: int
    number: str | None
    ecommerce_number: str | None


@attrs.frozen
class WireCarrier:
    code: str
    name: str


@attrs.frozen
class WireTracking:
    code: str
    url: str | None


@attrs.frozen
class WireCustomer:
    name: str | None
    email: str | None
    phone: str | None


@attrs.frozen
class WireShipmentEvent:
    """What the tracking service receives: one transition of one shipment."""

    version: int
    kind: str
    idempotency_key: str
    shipment_key: str
    occurred_at: datetime
    merchant_id: int
    order: WireOrder
    carrier: WireCarrier
    tracking: WireTracking
    customer: WireCustomer

    @classmethod
    def from_request(cls, request: TrackingRequest, carriers: CarrierRegistry) -> WireShipmentEvent:
        carrier = carriers.get(request.carrier_code)
        return cls(
            version=WIRE_VERSION,
            kind=request.kind.value,
            idempotency_key=request.idempotency_key,
            shipment_key=request.shipment_key,
            occurred_at=request.occurred_at,
            merchant_id=request.merchant_id,
            order=WireOrder(request.erp_order_id, request.order_number, request.ecommerce_number),
            carrier=WireCarrier(request.carrier_code, carrier.name if carrier else request.carrier_code),
            tracking=WireTracking(request.tracking_code, request.tracking_url),
            customer=WireCustomer(request.customer_name, request.customer_email, request.customer_phone),
        )


converter = make_converter()


def encode(request: TrackingRequest, carriers: CarrierRegistry = DEFAULT_REGISTRY) -> bytes:
    """The request body, as the tracking service receives it."""
    payload = converter.unstructure(WireShipmentEvent.from_request(request, carriers))
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- the adapter ----------------------------------------------------------------------------


def safe_url(url: str) -> str:
    """The URL without credentials or query string, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After", "").strip()
    try:
        return max(float(raw), 0.0) if raw else None
    except ValueError:
        return None  # an HTTP date: the outbox's own backoff is good enough


def _detail(response: httpx.Response) -> str:
    """A short explanation from the service's answer: its JSON message, else its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for field in ("mensagem", "message", "detail", "error"):
            value = body.get(field)
            if isinstance(value, str):
                return value[:_DETAIL_LIMIT]
    return " ".join(response.text.split())[:_DETAIL_LIMIT]


class HttpTrackingService:
    """`TrackingService` over HTTP: POST JSON to `url` with the injected `httpx.Client`, whose
    timeouts (and any authentication headers) are the caller's choice.

    2xx and 409 (already seen) are done; everything else raises TransientFailure, so the
    outbox keeps the request and tries again later, in order, with backoff.
    """

    def __init__(self, *, client: httpx.Client, url: str, carriers: CarrierRegistry = DEFAULT_REGISTRY) -> None:
        self._client = client
        self._carriers = carriers
        self._safe_url = safe_url(url)
        # Credentials in the URL (https://user:pass@host/…) become a Basic auth header, so
        # that they never appear in the URL httpx logs at INFO level.
        parts = urlsplit(url)
        self._auth: httpx.BasicAuth | None = None
        if parts.username is not None or parts.password is not None:
            self._auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))
            host = parts.hostname or ""
            parts = parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host)
        self._url = urlunsplit(parts)

    def deliver(self, request: TrackingRequest) -> None:
        context = {
            "tracking_service": self._safe_url,
            "shipment": request.shipment_key,
            "kind": request.kind.value,
            "erp_order_id": request.erp_order_id,
        }
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "Idempotency-Key": request.idempotency_key,
            "User-Agent": USER_AGENT,
        }
        try:
            response = self._client.post(
                self._url,
                content=encode(request, self._carriers),
                headers=headers,
                # Without credentials in the URL, the client's own auth (none) applies.
                auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException as exc:
            # The service may well have acted on it: the retry carries the same key.
            log.warning("tracking service timed out", extra={**context, "error": type(exc).__name__})
            raise TransientFailure("tempo esgotado ao enviar ao serviço de rastreamento") from exc
        except httpx.TransportError as exc:
            log.warning("tracking service unreachable", extra={**context, "error": type(exc).__name__})
            raise TransientFailure(f"serviço de rastreamento inacessível ({type(exc).__name__})") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.error(
                "tracking request could not be sent; check KANGLU_TRACKING_URL",
                extra={**context, "error": type(exc).__name__},
            )
            raise TransientFailure(f"não foi possível enviar ao serviço de rastreamento ({type(exc).__name__})") from exc

        status = response.status_code
        request_id = response.headers.get("X-Request-Id")
        context |= {"status": status, "request_id": request_id}
        if 200 <= status < 300:
            log.debug("tracking request delivered", extra=context)
            return
        if status == 409:
            log.info("tracking service had already seen this request", extra=context)
            return
        if status == 429 or status >= 500:
            retry_after = _retry_after(response)
            log.warning("tracking service unavailable, will retry", extra={**context, "retry_after": retry_after})
            raise TransientFailure(
                f"serviço de rastreamento indisponível (HTTP {status})",
                retry_after=retry_after,
                request_id=request_id,
            )
        detail = _detail(response)
        # Not dropped: the request stays first in its order's queue, so that order's later
        # requests wait behind it rather than reach the service out of order.
        log.error(
            "tracking service refused the request; a bad request will not fix itself: it stays in the "
            "outbox and is retried with backoff until the service or Kanglu is fixed",
            extra={**context, "detail": detail},
        )
        message = f"serviço de rastreamento recusou a requisição (HTTP {status})"
        raise TransientFailure(f"{message}: {detail}" if detail else message, request_id=request_id)
