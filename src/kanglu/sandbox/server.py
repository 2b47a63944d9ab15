"""Run the sandbox: a threaded WSGI server in a background thread, for tests, benchmarks, the demo
and the `kanglu sandbox` command."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from kanglu.sandbox.accounts import Account, AccountSettings, SandboxState
from kanglu.sandbox.app import SandboxApp
from kanglu.sandbox.clock import SandboxClock
from kanglu.sandbox.limits import Faults
from kanglu.sandbox.oauth import OAuthServer

logger = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug prints a line per request; at hundreds of requests a second that is noise."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("sandbox request", extra={"request_line": self.requestline, "status": code})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        logger.debug(format % args)


class SandboxServer:
    """The sandbox on a real port (0 picks a free one), serving from a daemon thread.

    `state` gives tests direct access to accounts and datasets; `oauth` to the token store.
    `sleep` is how injected latency waits (tests pass a recorder instead of waiting).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        orders: int = 100,
        seed: int = 1,
        malformed_rate: float = 0.0,
        public_url: str | None = None,
        clock: SandboxClock | None = None,
        settings: dict[str, Any] | None = None,
        faults: dict[str, Any] | None = None,
        token_faults: dict[str, Any] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        default_account: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        defaults = AccountSettings()
        if settings:
            defaults.update(settings)
        api_faults, tok_faults = Faults(), Faults()
        if faults:
            api_faults.update(faults)
        if token_faults:
            tok_faults.update(token_faults)
        self.state = SandboxState(clock or SandboxClock(), defaults, api_faults, tok_faults)
        self.app = SandboxApp(self.state, sleep=sleep)
        self.host = host
        self.port = port
        self.public_url = public_url.rstrip("/") if public_url else None
        self._default: dict[str, Any] | None = (
            {"orders": orders, "seed": seed, "malformed_rate": malformed_rate, "client_id": client_id,
             "client_secret": client_secret} if default_account else None
        )
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ---- life cycle ------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        url_host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        self.state.base_url = self.public_url or f"http://{url_host}:{self.port}"
        if self._default is not None and not self.state.accounts:
            self.state.create_account(**self._default)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="kanglu-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what callers need ---------------------------------------------------------------------------
    @property
    def oauth(self) -> OAuthServer:
        return self.app.oauth

    @property
    def clock(self) -> SandboxClock:
        return self.state.clock

    @property
    def base_url(self) -> str:
        return self.state.base_url

    @property
    def api_url(self) -> str:
        return self.state.api_url

    @property
    def auth_url(self) -> str:
        return self.state.auth_url

    @property
    def default_account(self) -> Account:
        return self.state.all_accounts()[0]

    def create_account(self, **options: Any) -> Account:
        """Same options as POST /_sandbox/accounts (orders, seed, settings={...}, faults={...}…)."""
        return self.state.create_account(**options)

    def credentials(self, account: Account | None = None) -> dict[str, Any]:
        return self.state.credentials(account or self.default_account)

    def issue_tokens(self, account: Account | None = None) -> dict[str, object]:
        """A token pair for an account, as if its merchant had just authorised."""
        return self.app.oauth.issue(account or self.default_account)

    def revoke(self, account: Account | None = None) -> None:
        self.app.oauth.revoke(account or self.default_account)
