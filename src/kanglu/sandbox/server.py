"""Run the sandbox: a threaded WSGI server in a background thread, for tests, benchmarks, the demo
and the `kanglu sandbox` command."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from kanglu.sandbox.accounts import Account, AccountSettings, SandboxState
from kanglu.sandbox.activity import Activity
from kanglu.sandbox.app import SandboxApp
from kanglu.sandbox.clock import SandboxClock
from kanglu.sandbox.limits import Faults
from kanglu.sandbox.oauth import OAuthServer
from kanglu.sandbox.statefile import StateFile

logger = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug prints a line per request; at hundreds of requests a second that is noise."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("sandbox request", extra={"request_line": self.requestline, "status": code})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        logger.debug(format % args)


class _Every:
    """Calls a function every `interval` seconds from a daemon thread until stopped; a failure is
    logged and the next round still happens."""

    def __init__(self, interval: float, function: Callable[[], object], name: str) -> None:
        self._function = function
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._function()
            except Exception:
                logger.exception("sandbox background task failed", extra={"task": self._thread.name})

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)


class SandboxServer:
    """The sandbox on a real port (0 picks a free one), serving from a daemon thread.

    `state` gives tests direct access to accounts and datasets; `oauth` to the token store.
    `sleep` is how injected latency waits (tests pass a recorder instead of waiting).
    `state_file`: restore from it when it exists (instead of creating the default account) and keep
    it saved: every `save_interval` seconds while something changed, and on `stop()`.
    `activity_interval`: every so many seconds, `activity.tick()` moves the accounts flagged
    `simulate` forward (the default account is flagged); tests call `activity.tick()` themselves.
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
        state_file: Path | str | None = None,
        save_interval: float = 5.0,
        activity_interval: float | None = None,
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
        self.activity: Activity = self.app.control.activity
        self.activity_interval = activity_interval
        self.save_interval = save_interval
        self.state_file = StateFile(state_file, self.state, self.oauth) if state_file is not None else None
        self.restored = 0  # accounts brought back from the state file
        if self.state_file is not None and self.state_file.exists():
            self.restored = self.state_file.load()
        self._background: list[_Every] = []

    # ---- life cycle ------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        # B104 (bind to all interfaces) is a false positive here: a comparison naming a reachable URL
        # for a wildcard listen address; it binds nothing.
        url_host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # nosec B104: compares only
        self.state.base_url = self.public_url or f"http://{url_host}:{self.port}"
        if self._default is not None:
            if not self.state.accounts:
                self.state.create_account(**self._default)
            if self.activity_interval:
                self.default_account.settings.simulate = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="kanglu-sandbox", daemon=True)
        self._thread.start()
        if self.activity_interval:
            self._background.append(_Every(self.activity_interval, self.activity.tick, "kanglu-sandbox-activity"))
        if self.state_file is not None:
            self.state_file.save()  # the new client_id is on disk before anyone can use it
            self._background.append(_Every(self.save_interval, self.state_file.save, "kanglu-sandbox-save"))
        return self

    def stop(self) -> None:
        for task in self._background:
            task.stop()
        self._background.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
        if self.state_file is not None:
            self.state_file.save()

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
