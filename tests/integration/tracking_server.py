"""A tracking service over real HTTP, for tests: idempotent on `Idempotency-Key`, strict about
the wire format and the order of a shipment's transitions, with scripted faults."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

REQUIRED = ("version", "kind", "idempotency_key", "shipment_key", "occurred_at", "merchant_id", "order", "carrier",
            "tracking", "customer")


@attrs.define
class Shipment:
    shipment_key: str
    erp_order_id: int
    tracking_code: str
    carrier_code: str
    status: str = "tracking"


@attrs.define
class ServerState:
    """What the service has durably accepted, and what it answered."""

    fail_first: int = 0  # the first N requests get a 500 and are not processed
    slow_on: frozenset[int] = frozenset()  # acceptances (0-based) answered only after `slow_seconds`
    slow_seconds: float = 5.0
    lock: threading.Lock = attrs.Factory(threading.Lock)
    stopping: threading.Event = attrs.Factory(threading.Event)
    requests: int = 0
    failures_served: int = 0
    slow_served: int = 0
    replays: int = 0
    rejected: list[tuple[int, str]] = attrs.Factory(list)  # (status, why)
    answers: dict[str, int] = attrs.Factory(dict)  # idempotency key -> stored answer
    accepted: list[dict[str, Any]] = attrs.Factory(list)
    shipments: dict[str, Shipment] = attrs.Factory(dict)

    def events_by_order(self) -> dict[int, list[tuple[str, str]]]:
        with self.lock:
            found: dict[int, list[tuple[str, str]]] = {}
            for body in self.accepted:
                found.setdefault(body["order"]["erp_order_id"], []).append((body["kind"], body["tracking"]["code"]))
            return found

    def shipments_by_order(self) -> dict[int, list[Shipment]]:
        with self.lock:
            found: dict[int, list[Shipment]] = {}
            for shipment in self.shipments.values():
                found.setdefault(shipment.erp_order_id, []).append(shipment)
            return found

    def handle(self, key: str | None, body: Any) -> tuple[int, float]:
        """(status, seconds to wait before answering)."""
        with self.lock:
            self.requests += 1
            if self.failures_served < self.fail_first:
                self.failures_served += 1
                return 500, 0.0
            problem = _problem(key, body)
            if problem:
                self.rejected.append((400, problem))
                return 400, 0.0
            assert key is not None
            if key in self.answers:
                self.replays += 1
                return 409, 0.0
            kind, shipment_key = body["kind"], body["shipment_key"]
            shipment = self.shipments.get(shipment_key)
            if (kind == "start") == (shipment is not None) or (shipment and shipment.status != "tracking"):
                self.rejected.append((422, f"{kind} out of order for {shipment_key}"))
                return 422, 0.0
            if kind == "start":
                self.shipments[shipment_key] = Shipment(
                    shipment_key, body["order"]["erp_order_id"], body["tracking"]["code"], body["carrier"]["code"]
                )
            else:
                assert shipment is not None
                shipment.status = "delivered" if kind == "delivered" else "cancelled"
            delay = self.slow_seconds if len(self.accepted) in self.slow_on else 0.0
            if delay:
                self.slow_served += 1
            self.accepted.append(body)
            self.answers[key] = 201
            return 201, delay


def _problem(key: str | None, body: Any) -> str | None:
    if not key:
        return "no Idempotency-Key"
    if not isinstance(body, dict) or any(field not in body for field in REQUIRED):
        return "missing fields"
    if body["version"] != 1 or body["idempotency_key"] != key or body["kind"] not in ("start", "delivered", "cancel"):
        return "bad version, key or kind"
    if not body["tracking"].get("code") or not body["carrier"].get("code"):
        return "no tracking or carrier code"
    return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            body = None
        status, delay = self.server.state.handle(self.headers.get("Idempotency-Key"), body)
        if delay:
            # Processed and stored, but the answer comes after the client gave up.
            self.server.state.stopping.wait(delay)
        payload = json.dumps({"status": status}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep the test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ServerState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@contextmanager
def tracking_server(state: ServerState) -> Iterator[str]:
    """Runs the service in a thread; yields its URL."""
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, name="tracking-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/shipments"
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
