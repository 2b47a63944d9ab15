"""The merchant's webhook: a POST of the signed alert, any 2xx accepted.

The URL is the merchant's, so the worker must not become a way into Kanglu's own network: a
host that resolves to a loopback, private, link-local or otherwise non-public address is
refused (tests and a private deployment can allow them). A DNS answer that changes between
this check and the connection is not caught; the egress firewall is the real wall.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from kanglu import __version__
from kanglu.application.errors import TransientFailure


class HttpWebhookClient:
    def __init__(self, timeout: float = 10.0, verify: ssl.SSLContext | bool = True, allow_private: bool = False) -> None:
        # Its own client: a merchant's slow endpoint must not take the pool Tiny's calls use.
        # No redirects: the signature is for the URL the merchant gave.
        self._client = httpx.Client(timeout=timeout, verify=verify, follow_redirects=False, trust_env=False,
                                    headers={"User-Agent": f"kanglu-alerts/{__version__}"})
        self._allow_private = allow_private

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        if not self._allow_private:
            self._refuse_non_public(url)
        try:
            response = self._client.post(url, content=body, headers=dict(headers))
        except httpx.HTTPError as exc:
            raise TransientFailure(f"webhook inacessível: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise TransientFailure(f"o webhook respondeu {response.status_code}")

    @staticmethod
    def _refuse_non_public(url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            answers = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            raise TransientFailure("o endereço do webhook não foi encontrado") from exc
        for *_, sockaddr in answers:
            address = ipaddress.ip_address(sockaddr[0])
            if not address.is_global:
                raise TransientFailure("o endereço do webhook não é público")

    def close(self) -> None:
        self._client.close()
