"""The history and the alerts (application/journal.py), "Sincronizar agora", the alert settings
and their delivery, with fakes."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import timedelta

import pytest

from kanglu.application import journal
from kanglu.application.alerts import AlertDelivery, sign
from kanglu.application.commands import DisconnectErpCommand, PollOrdersByStatusCommand, RequestSyncCommand, SaveNotificationSettingsCommand
from kanglu.application.commands import RefreshTokenCommand
from kanglu.application.errors import ApplicationError, InvalidInput, ReauthorizationRequired
from kanglu.application.ports import MailMessage
from kanglu.application.use_cases.disconnect_erp import DisconnectErp as DisconnectUseCase
from kanglu.application.use_cases.merchant_sync import PurgeEvents, RequestSync as RequestSyncUseCase
from kanglu.application.use_cases.merchant_sync import SaveNotificationSettings, SyncTooSoon
from kanglu.domain.events import AlertChannel, AlertKind, AlertRequest, EventKind
from kanglu.domain.jobs import JobKind
from kanglu.domain.merchants import Merchant
from tests.builders import World, connected_world, erp_order
from tests.fakes import FakeSecretBox


class _Everything:
    def __contains__(self, _: object) -> bool:
        return True


def alerts_of(world: World) -> list[AlertRequest]:
    return [m.request for m in world.uow.read().outbox.all() if isinstance(m.request, AlertRequest)]


def kinds_of(world: World) -> list[EventKind]:
    return [e.kind for e in world.uow.read().events.all()]


def test_connecting_is_an_event_and_alerts_nobody() -> None:
    world, _ = connected_world()
    assert kinds_of(world) == [EventKind.CONNECTED]
    assert alerts_of(world) == []


def test_a_disconnection_alerts_each_channel_once_however_often_it_is_seen() -> None:
    world, cid = connected_world()
    with world.uow() as u:
        settings = u.notifications.get(7)
        settings.webhook_url = "https://loja.example/h"
        u.notifications.save(settings)
        connection = u.connections.get(cid)
        for _ in range(2):
            journal.disconnected(u, connection, "o Tiny recusou o acesso", world.clock.now())
        u.commit()
    alerts = alerts_of(world)
    assert sorted(a.channel for a in alerts) == [AlertChannel.EMAIL, AlertChannel.WEBHOOK]
    assert {a.kind for a in alerts} == {AlertKind.DISCONNECTED}
    assert kinds_of(world).count(EventKind.DISCONNECTED) == 2  # the history has both


def test_desconectar_by_the_merchant_sends_no_alert_and_reconnecting_then_sends_no_recovery() -> None:
    world, cid = connected_world()
    DisconnectUseCase(uow=world.uow, clock=world.clock)(DisconnectErpCommand(7))
    assert alerts_of(world) == [] and kinds_of(world)[-1] is EventKind.DISCONNECTED
    with world.uow() as u:
        journal.connected(u, u.connections.get(cid), world.clock.now())
        u.commit()
    assert alerts_of(world) == []


def test_a_refused_renewal_disconnects_alerts_and_the_reconnection_sends_recovered() -> None:
    world, cid = connected_world()
    world.oauth.fail_next.append(ReauthorizationRequired("Token is not active", "invalid_grant"))
    world.refresh()(RefreshTokenCommand(cid, force=True))
    assert [a.kind for a in alerts_of(world)] == [AlertKind.DISCONNECTED]
    assert world.uow.read().connections.get(cid).alert_open == AlertKind.DISCONNECTED.value
    with world.uow() as u:
        connection = u.connections.get(cid)
        journal.connected(u, connection, world.clock.now())
        u.commit()
    assert [a.kind for a in alerts_of(world)] == [AlertKind.DISCONNECTED, AlertKind.RECOVERED]
    assert world.uow.read().connections.get(cid).alert_open is None


def test_the_permissions_seam_alerts_a_missing_permission_once_and_its_return() -> None:
    world, cid = connected_world()
    now = world.clock.now()
    with world.uow() as u:
        connection = u.connections.get(cid)
        journal.permissions_changed(u, connection, set(), {"notas_fiscais"}, now)
        journal.permissions_changed(u, connection, {"notas_fiscais"}, {"notas_fiscais", "formas_envio"}, now)
        u.commit()
    alerts = alerts_of(world)
    assert [a.kind for a in alerts] == [AlertKind.PERMISSION_MISSING]
    assert alerts[0].reason == "falta a permissão Notas Fiscais no aplicativo do Tiny"
    assert kinds_of(world).count(EventKind.PERMISSION_MISSING) == 2
    with world.uow() as u:
        journal.permissions_changed(u, u.connections.get(cid), {"notas_fiscais", "formas_envio"}, set(), now)
        u.commit()
    assert [a.kind for a in alerts_of(world)] == [AlertKind.PERMISSION_MISSING, AlertKind.RECOVERED]


def test_email_turned_off_and_no_webhook_means_no_alert_message() -> None:
    world, cid = connected_world()
    with world.uow() as u:
        settings = u.notifications.get(7)
        settings.email = False
        u.notifications.save(settings)
        journal.disconnected(u, u.connections.get(cid), "motivo", world.clock.now())
        u.commit()
    assert alerts_of(world) == []


def test_a_poll_records_its_counts_and_quiet_polls_fold() -> None:
    world, cid = connected_world()
    world.gateway.accepted_tokens = lambda: _Everything()
    for i in range(1, 4):
        world.gateway.put(erp_order(i), world.clock.now() - timedelta(hours=1))
    world.poll()(PollOrdersByStatusCommand(cid))
    world.gateway.put(erp_order(1, number="changed"), world.clock.now() + timedelta(minutes=1))
    world.clock.advance(timedelta(minutes=2))
    world.poll()(PollOrdersByStatusCommand(cid))
    for _ in range(3):
        world.clock.advance(timedelta(minutes=2))
        world.poll()(PollOrdersByStatusCommand(cid))
    polls = [e for e in world.uow.read().events.all() if e.kind is EventKind.POLL]
    assert [(e.imported, e.updated, e.polls, e.is_folded) for e in polls] == [
        (3, 0, 1, False), (0, 1, 1, False), (0, 0, 3, True)]
    assert all(e.api_calls >= 1 for e in polls) and polls[2].api_calls >= 3


def test_sync_now_at_most_once_a_minute() -> None:
    world, cid = connected_world()
    sync = RequestSyncUseCase(uow=world.uow, clock=world.clock)
    world.clock.advance(timedelta(minutes=1))
    assert sync(RequestSyncCommand(7)) == world.clock.now()
    assert world.uow.read().jobs.get(JobKind.POLL, cid).due_at == world.clock.now()
    world.clock.advance(timedelta(seconds=30))
    with pytest.raises(SyncTooSoon) as refused:
        sync(RequestSyncCommand(7))
    assert refused.value.next_allowed_at == world.clock.now() + timedelta(seconds=30)
    world.clock.advance(timedelta(seconds=30))
    assert sync(RequestSyncCommand(7)) == world.clock.now()
    DisconnectUseCase(uow=world.uow, clock=world.clock)(DisconnectErpCommand(7))
    world.clock.advance(timedelta(minutes=2))
    with pytest.raises(ApplicationError):
        sync(RequestSyncCommand(7))


def test_the_webhook_secret_is_made_for_a_new_url_and_shown_once() -> None:
    world, _ = connected_world()
    save = SaveNotificationSettings(uow=world.uow, clock=world.clock, secret_box=FakeSecretBox())
    first = save(SaveNotificationSettingsCommand(7, True, "https://loja.example/h"))
    assert first.new_secret and first.new_secret.startswith("whsec_")
    assert save(SaveNotificationSettingsCommand(7, False, "https://loja.example/h")).new_secret is None  # same URL: same secret
    stored = world.uow.read().notifications.get(7)
    assert FakeSecretBox().open(stored.webhook_secret).value == first.new_secret and stored.email is False
    assert save(SaveNotificationSettingsCommand(7, True, "https://outra.example/h")).new_secret not in (None, first.new_secret)
    with pytest.raises(InvalidInput):
        save(SaveNotificationSettingsCommand(7, True, "http://loja.example/h"))


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[MailMessage] = []

    def send(self, message: MailMessage) -> None:
        self.sent.append(message)


class RecordingWebhooks:
    def __init__(self) -> None:
        self.posts: list[tuple[str, bytes, Mapping[str, str]]] = []

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        self.posts.append((url, body, headers))


def test_the_delivery_writes_portuguese_email_and_signs_the_webhook() -> None:
    world, cid = connected_world()
    box = FakeSecretBox()
    with world.uow() as u:
        u.merchants.add(Merchant("Loja Aurora", "lojista@aurora.com.br", None, world.clock.now()))
        u.commit()
    merchant_id = max(world.uow.read().state.merchants)
    secret = SaveNotificationSettings(uow=world.uow, clock=world.clock, secret_box=box)(
        SaveNotificationSettingsCommand(merchant_id, True, "https://loja.example/h")).new_secret
    assert secret is not None
    mailer, webhooks = RecordingMailer(), RecordingWebhooks()
    delivery = AlertDelivery(uow=world.uow, secret_box=box, mailer=mailer, webhooks=webhooks,
                             public_url="https://app.kanglu.com.br")
    now = world.clock.now()
    sent = delivery.deliver(AlertRequest(AlertChannel.EMAIL, AlertKind.DISCONNECTED, merchant_id, cid,
                                         "o Tiny recusou a renovação do acesso (invalid_grant)", now))
    [mail] = mailer.sent
    assert mail.to == "lojista@aurora.com.br" and sent is not None and "lojista@aurora.com.br" in sent
    assert "Motivo: o Tiny recusou a renovação do acesso (invalid_grant)." in mail.text
    assert "https://app.kanglu.com.br/integrations" in mail.text and "horário de Brasília" in mail.text
    delivery.deliver(AlertRequest(AlertChannel.WEBHOOK, AlertKind.RECOVERED, merchant_id, cid, None, now))
    [(url, body, headers)] = webhooks.posts
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert url == "https://loja.example/h" and headers["X-Kanglu-Signature"] == expected == sign(secret, body)
    assert json.loads(body)["event"] == "connection.recovered"


def test_old_events_are_purged() -> None:
    world, _ = connected_world()
    world.clock.advance(timedelta(days=91))
    assert PurgeEvents(uow=world.uow, clock=world.clock)() == 1
    assert kinds_of(world) == []


def test_a_disconnection_is_told_even_while_a_missing_permission_is_open_and_reconnecting_leaves_it_open() -> None:
    world, cid = connected_world()
    now = world.clock.now()
    with world.uow() as u:
        connection = u.connections.get(cid)
        journal.permissions_changed(u, connection, set(), {"pedidos"}, now)
        journal.disconnected(u, connection, "o Tiny recusou o acesso", now)
        journal.connected(u, connection, now)
        journal.permissions_changed(u, connection, {"pedidos"}, {"pedidos"}, now)
        u.commit()
    assert [a.kind for a in alerts_of(world)] == [AlertKind.PERMISSION_MISSING, AlertKind.DISCONNECTED,
                                                  AlertKind.RECOVERED]
    assert world.uow.read().connections.get(cid).alert_open is None
