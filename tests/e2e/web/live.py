"""A live werkzeug server in a thread, for tests that need real HTTP (a browser)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


class _Late:
    """The server needs its port before the app exists (the app's redirect URL names it)."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


@contextmanager
def live_server(port: int = 0) -> Iterator[tuple[str, _Late]]:
    """Yields the base URL and a slot to put the WSGI app in; port 0 picks a free one."""
    slot = _Late()
    server = make_server("127.0.0.1", port, slot, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-web", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", slot
    finally:
        server.shutdown()
        thread.join(timeout=10)
