"""Calls to Tiny's API v3: bearer token, pacing, bounded retries, 401 renewal, call counting.

Every failure is mapped to the application's errors (TransientFailure, RateLimited,
ReauthorizationRequired) and logged with Tiny's X-Request-Id; the token never appears in a
log record or an exception.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import attrs
import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    stop_before_delay,
    wait_random_exponential,
)

from kanglu import __version__
from kanglu.adapters.tiny.paging import PageShapeError, page_items
from kanglu.adapters.tiny.ratelimit import RATE_LIMITED_MESSAGE, RateLimitHeaders, RateLimitPacer
from kanglu.application.errors import PermissionMissing, RateLimited, TransientFailure
from kanglu.application.ports import TokenSource
from kanglu.domain.permissions import ErpPermission

log = logging.getLogger(__name__)

CallHook = Callable[[str, str, float], None]

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEFAULT_USER_AGENT = f"kanglu-erp/{__version__}"


# The application permission (Tiny module) each path needs, by its first segment.
_PERMISSIONS = {
    "pedidos": ErpPermission.PEDIDOS,
    "notas": ErpPermission.NOTAS_FISCAIS,
    "formas-envio": ErpPermission.FORMAS_ENVIO,
    "info": ErpPermission.INFO_CONTA,
}


@attrs.frozen
class Endpoint:
    """A method and a path template as the spec names it, e.g. GET /pedidos/{idPedido}."""

    method: str
    template: str

    @property
    def permission(self) -> ErpPermission | None:
        return _PERMISSIONS.get(self.template.strip("/").split("/", 1)[0])

    def path(self, **params: object) -> str:
        return self.template.format(**{k: quote(str(v), safe="") for k, v in params.items()})

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


class CallStats:
    """Counts of calls per endpoint and outcome (HTTP status, or `timeout` / `network`), for
    logs, metrics and benchmarks. Thread-safe; `on_call(endpoint, status, seconds)` sees each."""

    def __init__(self, on_call: CallHook | None = None) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._on_call = on_call

    def record(self, endpoint: str, status: str, seconds: float) -> None:
        with self._lock:
            self._counts[endpoint][status] += 1
        if self._on_call is not None:
            try:
                self._on_call(endpoint, status, seconds)
            except Exception:  # a metrics hook must never break a call
                log.exception("call hook failed", extra={"endpoint": endpoint})

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {endpoint: dict(statuses) for endpoint, statuses in self._counts.items()}

    def total(self) -> int:
        with self._lock:
            return sum(sum(statuses.values()) for statuses in self._counts.values())

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


@attrs.frozen
class RetryPolicy:
    """Bounds on retrying 5xx, timeouts and network errors, and on waiting out short 429s."""

    attempts: int = 3
    total_seconds: float = 20.0  # no retry starts after this long
    backoff_initial: float = 0.5
    backoff_max: float = 5.0
    short_rate_wait: float = 5.0  # a 429 whose reset is this close is waited out
    rate_waits: int = 2
    backoff_without_reset: tuple[float, float] = (20.0, 40.0)  # a 429 that says nothing


def parse_json(content: bytes) -> Any:
    """Tiny's JSON with every non-integer number as a Decimal: money never becomes a float."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(content, parse_float=Decimal, parse_constant=refuse)


class _Retryable(Exception):
    """An attempt that may succeed if repeated (5xx, timeout, network, unreadable body)."""

    def __init__(self, outcome: str, request_id: str | None = None) -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.request_id = request_id


class BadRequest(TransientFailure):
    """Tiny refused the request's parameters (HTTP 400). Transient for a caller that cannot
    do better; a caller that tried a parameter Tiny may not accept catches it and asks again."""


@attrs.frozen
class ApiAnswer:
    status: int
    body: Any
    request_id: str | None


class TinyHttp:
    """Sends GETs to the API on behalf of one connection's TokenSource. Thread-safe: the
    transport's connection pool is, and the pacer and the counters hold their own locks.

    Requests go straight to an httpx transport, not through an httpx.Client: every poll
    makes at least one call, and the client's layers (header merging, auth, redirects,
    cookies, event hooks, proxy mounts, the response's stream wrapper), none of which a call
    to Tiny uses, cost about a tenth of a quiet poll's CPU. What those calls do need is here:
    the timeout, the headers, a body read in full and the connection returned to the pool.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport,
        api_url: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        user_agent: str = DEFAULT_USER_AGENT,
        stats: CallStats | None = None,
        pacer: RateLimitPacer | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._transport = transport
        self._extensions = {"timeout": timeout.as_dict()}
        self._headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate", "User-Agent": user_agent}
        self._base = api_url.rstrip("/")
        self.stats = stats or CallStats()
        self._pacer = pacer or RateLimitPacer(sleep=sleep)
        self._policy = policy or RetryPolicy()
        self._sleep = sleep

    def get(
        self,
        tokens: TokenSource,
        endpoint: Endpoint,
        params: Mapping[str, object] | None = None,
        *,
        allow_not_found: bool = False,
        **path_params: object,
    ) -> ApiAnswer:
        """The 2xx answer (or a 404 when allowed), JSON parsed. A 401 renews the token once."""
        # The query goes into the URL once, here: passed to httpx as `params`, the URL would
        # be parsed twice per call, every retry again.
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = httpx.URL(self._base + endpoint.path(**path_params), params=query or None)
        token = tokens.access_token()
        answer = self._with_retries(tokens.key, endpoint, url, token.value)
        if answer.status == 401:
            log.info("tiny answered 401, renewing the token once",
                     extra={"endpoint": str(endpoint), "account": tokens.key, "request_id": answer.request_id})
            # A renewal that fails for a while raises TransientFailure here, one Tiny refuses
            # for good ReauthorizationRequired: the old token is never tried again.
            token = tokens.renew()
            answer = self._with_retries(tokens.key, endpoint, url, token.value)
            if answer.status == 401:
                # Tiny's token endpoint has just vouched for the authorisation, so this 401 is
                # not a definite refusal (a token not yet known to every API node, a clock a
                # little behind): retried later, with the new tokens kept. Were the access really
                # revoked, the next renewal would get invalid_grant, which does disconnect.
                self._log_failure("tiny refused the renewed token, will retry", endpoint, tokens.key, answer,
                                  error=True)
                raise TransientFailure(
                    "o Tiny recusou o acesso recém-renovado; a sincronização será tentada de novo",
                    request_id=answer.request_id,
                )
        if answer.status == 403:
            # A module the application may not read, not a lost authorisation: reconnecting would
            # not help, ticking the permission in Tiny does.
            self._log_failure("tiny answered 403: permission missing", endpoint, tokens.key, answer)
            if endpoint.permission is None:
                raise TransientFailure(f"o Tiny recusou o acesso (HTTP 403) em {endpoint.template}",
                                       request_id=answer.request_id)
            raise PermissionMissing(endpoint.permission, request_id=answer.request_id)
        if answer.status == 404 and allow_not_found:
            return answer
        if answer.status == 400:
            self._log_failure("tiny refused the request's parameters", endpoint, tokens.key, answer)
            raise BadRequest(f"o Tiny recusou os parâmetros da consulta (HTTP 400) em {endpoint.template}",
                             request_id=answer.request_id)
        if not 200 <= answer.status < 300:
            self._log_failure("tiny answered an unexpected status", endpoint, tokens.key, answer, error=True)
            raise TransientFailure(
                f"resposta inesperada do Tiny (HTTP {answer.status}) em {endpoint.template}",
                request_id=answer.request_id,
            )
        return answer

    def get_listing(
        self, tokens: TokenSource, endpoint: Endpoint, params: Mapping[str, object]
    ) -> tuple[list[object], int | None]:
        """A listing's `itens` and `paginacao.total`; a listing of another shape is a failure
        worth retrying later (and worth a loud log)."""
        answer = self.get(tokens, endpoint, params)
        try:
            return page_items(answer.body)
        except PageShapeError:
            log.error("tiny sent a listing of an unexpected shape",
                      extra={"endpoint": str(endpoint), "account": tokens.key, "request_id": answer.request_id})
            raise TransientFailure(f"o Tiny enviou uma resposta em formato inesperado em {endpoint.template}",
                                   request_id=answer.request_id) from None

    def _with_retries(self, key: str, endpoint: Endpoint, url: httpx.URL, token: str) -> ApiAnswer:
        policy = self._policy
        retrying = Retrying(
            stop=stop_any(stop_after_attempt(policy.attempts), stop_before_delay(policy.total_seconds)),
            wait=wait_random_exponential(multiplier=policy.backoff_initial, max=policy.backoff_max),
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: _log_retry(state, endpoint, key),
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(key, endpoint, url, token)
        except _Retryable as exc:
            log.error(
                "tiny call failed after retries",
                extra={"endpoint": str(endpoint), "account": key, "outcome": exc.outcome, "request_id": exc.request_id},
            )
            raise TransientFailure(_transient_message(exc.outcome), request_id=exc.request_id) from None
        raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover

    def _attempt(self, key: str, endpoint: Endpoint, url: httpx.URL, token: str) -> ApiAnswer:
        """One request, after the pacer's slot; short 429s are waited out here."""
        policy = self._policy
        for rate_wait in range(policy.rate_waits + 1):
            self._pacer.acquire(key)
            started = time.monotonic()
            try:
                response = self._send(endpoint.method, url, token)
            except httpx.TimeoutException:
                self.stats.record(str(endpoint), "timeout", time.monotonic() - started)
                raise _Retryable("timeout") from None
            except httpx.TransportError as exc:
                self.stats.record(str(endpoint), "network", time.monotonic() - started)
                raise _Retryable(f"network:{type(exc).__name__}") from None
            self.stats.record(str(endpoint), str(response.status_code), time.monotonic() - started)
            request_id = response.headers.get("x-request-id")
            limits = RateLimitHeaders.from_headers(response.headers)
            status = response.status_code
            self._pacer.observe(key, limits, refused=status == 429)
            if status == 429:
                if limits.reset is not None and limits.reset <= policy.short_rate_wait and rate_wait < policy.rate_waits:
                    log.info("tiny answered 429, waiting for the window",
                             extra={"endpoint": str(endpoint), "account": key, "reset": limits.reset,
                                    "request_id": request_id})
                    self._pacer.block(key, limits.reset)
                    continue
                retry_after = limits.reset if limits.reset else random.uniform(*policy.backoff_without_reset)
                self._pacer.block(key, retry_after)
                log.warning("tiny answered 429, connection rescheduled",
                            extra={"endpoint": str(endpoint), "account": key, "retry_after": retry_after,
                                   "request_id": request_id})
                raise RateLimited(RATE_LIMITED_MESSAGE, retry_after=retry_after, request_id=request_id)
            if status >= 500 or status == 408:
                raise _Retryable(f"http:{status}", request_id)
            if not 200 <= status < 300:
                return ApiAnswer(status, None, request_id)
            try:
                body = parse_json(response.content)
            except ValueError:
                raise _Retryable("invalid_json", request_id) from None
            return ApiAnswer(status, body, request_id)
        raise AssertionError("unreachable: the last rate wait raises")  # pragma: no cover

    def _send(self, method: str, url: httpx.URL, token: str) -> httpx.Response:
        """One request, its body read in full (decoded when compressed) and the connection
        handed back to the pool, as httpx.Client.request would."""
        request = httpx.Request(method, url, headers={**self._headers, "Authorization": f"Bearer {token}"},
                                extensions=self._extensions)
        response = self._transport.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return response

    @staticmethod
    def _log_failure(message: str, endpoint: Endpoint, key: str, answer: ApiAnswer, error: bool = False) -> None:
        (log.error if error else log.warning)(
            message, extra={"endpoint": str(endpoint), "account": key, "status": answer.status,
                            "request_id": answer.request_id},
        )


def _log_retry(state: RetryCallState, endpoint: Endpoint, key: str) -> None:
    failure = state.outcome.exception() if state.outcome else None
    log.warning(
        "tiny call failed, retrying",
        extra={"endpoint": str(endpoint), "account": key, "attempt": state.attempt_number,
               "outcome": getattr(failure, "outcome", None), "request_id": getattr(failure, "request_id", None)},
    )


def _transient_message(outcome: str) -> str:
    if outcome == "timeout":
        return "o Tiny demorou demais para responder; a sincronização será tentada de novo"
    if outcome.startswith("http:"):
        return f"o Tiny está com instabilidade (HTTP {outcome[5:]}); a sincronização será tentada de novo"
    if outcome == "invalid_json":
        return "o Tiny enviou uma resposta ilegível; a sincronização será tentada de novo"
    return "não foi possível falar com o Tiny (falha de rede); a sincronização será tentada de novo"
