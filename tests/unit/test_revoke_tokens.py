"""Revocation at Tiny: the adapter's request and error mapping, and the use case's retries."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from kanglu.adapters.tiny import TinyOAuth
from kanglu.application.commands import DisconnectErpCommand
from kanglu.application.errors import ReauthorizationRequired, TransientFailure
from kanglu.application.ports import OAuthClient
from kanglu.application.use_cases.disconnect_erp import DisconnectErp as DisconnectUseCase
from kanglu.application.use_cases.revoke_tokens import GIVE_UP_AFTER, RevokeTokens
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.revocations import GAVE_UP, REVOKED
from kanglu.domain.secrets import Secret
from tests.builders import connected_world
from tests.unit.tiny.fake_tiny import AUTH

CLIENT = OAuthClient("tiny-api-client", Secret("client-s3cret-XYZ"))


def _adapter(*answers: httpx.Response | type[Exception], forms: list | None = None) -> TinyOAuth:
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path.endswith("/openid-connect/revoke")
        if forms is not None:
            forms.append(parse_qs(request.content.decode()))
        answer = queue.pop(0)
        if isinstance(answer, type):
            raise answer("scripted failure", request=request)  # type: ignore[call-arg]
        return answer

    return TinyOAuth(httpx.Client(transport=httpx.MockTransport(handle)), AUTH, sleep=lambda s: None)


def test_the_adapter_sends_rfc_7009_and_maps_the_answers() -> None:
    forms: list = []
    _adapter(httpx.Response(200), forms=forms).revoke(CLIENT, Secret("ref-1"))
    assert forms == [{"client_id": ["tiny-api-client"], "client_secret": ["client-s3cret-XYZ"], "token": ["ref-1"],
                      "token_type_hint": ["refresh_token"]}]
    with pytest.raises(TransientFailure):
        _adapter(httpx.Response(503)).revoke(CLIENT, Secret("ref-1"))
    with pytest.raises(TransientFailure):
        _adapter(httpx.ConnectError).revoke(CLIENT, Secret("ref-1"))
    with pytest.raises(TransientFailure):
        _adapter(httpx.ReadTimeout).revoke(CLIENT, Secret("ref-1"))
    with pytest.raises(ReauthorizationRequired):
        _adapter(httpx.Response(401, json={"error": "invalid_client"})).revoke(CLIENT, Secret("ref-1"))


def _world():  # type: ignore[no-untyped-def]
    world, connection_id = connected_world()
    connection = world.uow.read().connections.get(connection_id)
    refresh = world.box.open(connection.refresh_token).value
    DisconnectUseCase(uow=world.uow, clock=world.clock)(DisconnectErpCommand(connection.merchant_id))
    revoke = RevokeTokens(uow=world.uow, clock=world.clock, secret_box=world.box, oauth=world.oauth)
    return world.clock, world.uow, world.oauth, revoke, refresh


def test_disconnect_forgets_at_once_and_the_worker_revokes_later() -> None:
    clock, uow, oauth, revoke, refresh = _world()
    stored = uow.read().connections.all()
    assert all(c.refresh_token is None and c.status is ConnectionStatus.DISCONNECTED for c in stored)
    assert oauth.revoked == []
    assert revoke("worker-1").revoked == 1
    assert oauth.revoked == [refresh]
    done = uow.read().state.revocations[0]
    assert done.outcome == REVOKED and done.refresh_token is None and done.client_secret is None
    assert revoke("worker-1").revoked == 0  # once


def test_a_failed_revocation_is_retried_with_backoff_then_given_up() -> None:
    clock, uow, oauth, revoke, refresh = _world()
    oauth.fail_next = [TransientFailure("Tiny fora do ar")] * 1000
    report = revoke("worker-1")
    assert (report.revoked, report.failed) == (0, 1)
    pending = uow.read().state.revocations[0]
    assert pending.attempts == 1 and pending.next_attempt_at > clock.now() and pending.refresh_token is not None
    assert revoke("worker-1").failed == 0  # not due yet
    while uow.read().state.revocations[0].outcome is None:
        clock.advance(timedelta(minutes=16))
        revoke("worker-1")
    given_up = uow.read().state.revocations[0]
    assert given_up.outcome == GAVE_UP and given_up.refresh_token is None
    assert given_up.finished_at - given_up.created_at <= GIVE_UP_AFTER + timedelta(minutes=16)


def test_a_refusal_is_given_up_at_once() -> None:
    _clock, uow, oauth, revoke, _refresh = _world()
    oauth.fail_next = [ReauthorizationRequired("cliente inválido", "invalid_client")]
    assert revoke("worker-1").gave_up == 1
    assert uow.read().state.revocations[0].outcome == GAVE_UP
