"""The merchant's webhook: a POST of the signed alert, any 2xx accepted."""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import httpx

from kanglu import __version__
from kanglu.application.errors import TransientFailure


class HttpWebhookClient:
    def __init__(self, timeout: float = 10.0, verify: ssl.SSLContext | bool = True) -> None:
        # Its own client: a merchant's slow endpoint must not take the pool Tiny's calls use.
        # No redirects: the signature is for the URL the merchant gave.
        self._client = httpx.Client(timeout=timeout, verify=verify, follow_redirects=False,
                                    headers={"User-Agent": f"kanglu-alerts/{__version__}"})

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        try:
            response = self._client.post(url, content=body, headers=dict(headers))
        except httpx.HTTPError as exc:
            raise TransientFailure(f"webhook inacessível: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise TransientFailure(f"o webhook respondeu {response.status_code}")

    def close(self) -> None:
        self._client.close()
