"""Alerts end to end, with real pieces only: the Tiny sandbox over HTTP, the web app's JSON API
on a live server, the worker, an SMTP server on loopback and an HTTPS webhook receiver.

Tiny revokes the access: exactly one e-mail reaches the merchant's login address and exactly
one webhook arrives, whose signature checks out with the secret PUT /notifications returned.
Reconnecting: one "recovered" e-mail and one webhook. More worker passes add nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from dependency_injector import providers

from kanglu.adapters.alerts.webhook import HttpWebhookClient
from kanglu.adapters.sql import orm
from kanglu.application.commands import BeginConnectErpCommand, CompleteConnectErpCommand, SaveErpCredentialsCommand
from kanglu.domain.secrets import Secret
from tests.e2e.browser_flow import Stack, running_stack
from tests.e2e.receivers import WebhookReceiver, smtp_server, webhook_receiver


@pytest.fixture(autouse=True)
def plain_domain_classes_afterwards() -> Iterator[None]:
    mapped_before = orm.mappers_started()
    yield
    if not mapped_before:
        orm.stop_mappers()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Stack, Any, WebhookReceiver]]:
    with smtp_server() as (smtp_url, inbox), webhook_receiver(tmp_path) as receiver:
        with running_stack(tmp_path / "var", orders=20, seed=5, settings={"smtp_url": smtp_url}) as stack:
            # The worker's webhook client trusts the receiver's self-signed certificate.
            stack.container.adapters.webhooks.override(providers.Object(HttpWebhookClient(verify=receiver.context, allow_private=True)))
            yield stack, inbox, receiver


def api(stack: Stack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{stack.base_url}/api/v1{path}", timeout=10,
                         headers={"Authorization": f"Bearer {stack.merchant.api_key}"}, **kwargs)


def connect(stack: Stack) -> None:
    """As the merchant does in the browser: Conectar, Autorizar on the sandbox, back to Kanglu."""
    use_cases = stack.container.use_cases
    authorize_url = use_cases.connect_erp().begin(BeginConnectErpCommand(stack.merchant.id))
    consent = httpx.post(f"{stack.sandbox.base_url}/_sandbox/consent", json={"authorize_url": authorize_url},
                         timeout=10)
    consent.raise_for_status()
    query = parse_qs(urlsplit(consent.json()["location"]).query)
    use_cases.connect_erp().complete(CompleteConnectErpCommand(state=query["state"][0], code=query["code"][0]))


def run_worker_until(stack: Stack, done: Any, what: str, timeout: float = 30) -> None:
    """Worker passes (the outbox's delivery job runs every 2 s) until `done()`."""
    deadline = time.monotonic() + timeout
    while True:
        stack.run_worker_once()
        if done():
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def verify(secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def test_a_revoke_sends_one_email_and_one_signed_webhook_and_reconnecting_one_of_each(world) -> None:  # type: ignore[no-untyped-def]
    stack, inbox, receiver = world
    tiny = stack.tiny
    stack.container.use_cases.save_credentials()(SaveErpCredentialsCommand(
        stack.merchant.id, tiny["client_id"], Secret(tiny["client_secret"]), tiny["invite_link"]))
    saved = api(stack, "PUT", "/notifications", json={"email": True, "webhook_url": receiver.url})
    assert saved.status_code == 200, saved.text
    secret = saved.json()["webhook_secret"]
    assert secret and api(stack, "GET", "/notifications").json() == {
        "email": True, "webhook_url": receiver.url, "webhook_secret": None}

    connect(stack)
    stack.run_worker_once()
    assert api(stack, "GET", "/integrations/tiny").json()["status"] == "connected"
    assert inbox.messages == [] and receiver.deliveries == []  # a first connection alerts nobody

    # Tiny revokes every token of the account; a manual sync makes the poll due now.
    httpx.post(f"{stack.sandbox.base_url}/_sandbox/accounts/default/revoke", timeout=10).raise_for_status()
    assert api(stack, "POST", "/integrations/tiny/sync").status_code == 202
    run_worker_until(stack, lambda: inbox.messages and receiver.deliveries, "the disconnection alerts")
    for _ in range(3):  # more passes, and the outbox job's next runs: nothing is sent twice
        time.sleep(0.7)
        stack.run_worker_once()
    assert api(stack, "GET", "/integrations/tiny").json()["status"] == "disconnected"

    assert len(inbox.messages) == 1 and len(receiver.deliveries) == 1
    mail = inbox.messages[0]
    assert mail["To"] == stack.merchant.email
    assert mail["Subject"] == "A integração com o Tiny foi desconectada"
    text = mail.get_content()
    assert "não aceita mais a autorização dada à Kanglu" in text and f"{stack.base_url}/integrations" in text
    hook = receiver.deliveries[0]
    assert verify(secret, hook.body, hook.headers["x-kanglu-signature"])
    payload = json.loads(hook.body)
    assert payload["event"] == "connection.disconnected" and payload["reason"].startswith("o Tiny não aceita mais a autorização")
    assert hook.headers["x-kanglu-delivery"] == payload["id"]

    connect(stack)
    run_worker_until(stack, lambda: len(inbox.messages) == 2 and len(receiver.deliveries) == 2, "the recovery")
    for _ in range(2):
        time.sleep(0.7)
        stack.run_worker_once()
    assert len(inbox.messages) == 2 and len(receiver.deliveries) == 2
    assert inbox.messages[1]["Subject"] == "A integração com o Tiny voltou a funcionar"
    recovered = receiver.deliveries[1]
    assert verify(secret, recovered.body, recovered.headers["x-kanglu-signature"])
    assert json.loads(recovered.body)["event"] == "connection.recovered"

    # The history tells the same story, newest first.
    kinds = [e["kind"] for e in api(stack, "GET", "/integrations/tiny/events", params={"per_page": 100}).json()["items"]]
    assert kinds.count("alert_sent") == 4
    assert kinds.count("connected") == 2 and "disconnected" in kinds and "poll" in kinds
    assert kinds.index("connected") < kinds.index("disconnected")  # the reconnection is the newer
