"""Delivering one merchant alert (an outbox message) by e-mail or signed webhook.

What the alert says is put together here, at delivery: the e-mail address, the webhook URL
and its secret are read as they are now (a merchant who fixed a wrong webhook gets the
retries at the new one). Raises TransientFailure to be retried by the outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from kanglu.application.errors import TransientFailure
from kanglu.application.ports import Mailer, MailMessage, SecretBox, UnitOfWorkFactory, WebhookClient
from kanglu.domain.events import AlertChannel, AlertKind, AlertRequest

log = logging.getLogger(__name__)

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
SIGNATURE_HEADER = "X-Kanglu-Signature"

_SUBJECTS = {
    AlertKind.DISCONNECTED: "A integração com o Tiny foi desconectada",
    AlertKind.PERMISSION_MISSING: "Falta uma permissão no aplicativo do Tiny",
    AlertKind.RECOVERED: "A integração com o Tiny voltou a funcionar",
}


def sign(secret: str, body: bytes) -> str:
    """The X-Kanglu-Signature value: sha256=<hex HMAC-SHA256 of the raw body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def local_time(at: datetime) -> str:
    return at.astimezone(SAO_PAULO).strftime("%d/%m/%Y às %H:%M")


def email_text(kind: AlertKind, name: str, reason: str | None, at: datetime, integrations_url: str) -> str:
    when = local_time(at)
    if kind is AlertKind.DISCONNECTED:
        lines = [
            f"A Kanglu perdeu o acesso à sua conta do Tiny em {when} (horário de Brasília).",
            f"Motivo: {reason}." if reason else "",
            "",
            "Enquanto a integração estiver desconectada, os pedidos novos não chegam à Kanglu.",
            "Para retomar, abra Integrações e clique em Conectar:",
        ]
    elif kind is AlertKind.PERMISSION_MISSING:
        lines = [
            f"Em {when} (horário de Brasília), o Tiny recusou uma consulta da Kanglu.",
            f"Motivo: {reason}." if reason else "",
            "",
            "A integração continua conectada e importa o que as outras permissões permitem.",
            "Marque a permissão no aplicativo do Tiny; os detalhes estão em Integrações:",
        ]
    else:
        lines = [
            f"Desde {when} (horário de Brasília), a integração com o Tiny está funcionando de novo.",
            f"{reason[:1].upper()}{reason[1:]}." if reason else "",
            "",
            "Os pedidos que mudaram enquanto isso serão importados na próxima sincronização.",
            "Acompanhe em Integrações:",
        ]
    body = [f"Olá, {name}.", "", *[line for line in lines if line is not None], integrations_url, "",
            "A Kanglu", "", "Você recebe este e-mail porque os avisos por e-mail estão ligados. "
            "Para desligá-los, abra Integrações > Avisos."]
    return "\n".join(body)


class AlertDelivery:
    def __init__(
        self, *, uow: UnitOfWorkFactory, secret_box: SecretBox, mailer: Mailer | None, webhooks: WebhookClient,
        public_url: str,
    ) -> None:
        self._uow = uow
        self._box = secret_box
        self._mailer = mailer
        self._webhooks = webhooks
        self._integrations_url = public_url.rstrip("/") + "/integrations"

    def deliver(self, alert: AlertRequest) -> str | None:
        """Send it; what to record in the history ("e-mail enviado para …"), None when
        nothing was sent (the channel was turned off meanwhile, or no mail server is set)."""
        with self._uow() as uow:
            merchant = uow.merchants.get(alert.merchant_id)
            settings = uow.notifications.get(alert.merchant_id)
        if merchant is None:
            return None
        if alert.channel is AlertChannel.EMAIL:
            if not settings.email or self._mailer is None:
                log.info("alert not e-mailed", extra={"merchant_id": alert.merchant_id, "kind": alert.kind.value,
                                                      "why": "turned off" if not settings.email else "no KANGLU_SMTP_URL"})
                return None
            self._mailer.send(MailMessage(
                to=merchant.email,
                subject=_SUBJECTS[alert.kind],
                text=email_text(alert.kind, merchant.name, alert.reason, alert.occurred_at, self._integrations_url),
                message_id=f"<{alert.key}@kanglu>",
            ))
            return f"e-mail \"{_SUBJECTS[alert.kind]}\" enviado para {merchant.email}"
        if not settings.webhook_url or settings.webhook_secret is None:
            return None
        body = json.dumps(self.webhook_payload(alert), ensure_ascii=False, separators=(",", ":")).encode()
        secret = self._box.open(settings.webhook_secret).value
        self._webhooks.post(settings.webhook_url, body, {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body),
            "X-Kanglu-Event": f"connection.{alert.kind.value}",
            "X-Kanglu-Delivery": alert.key,
        })
        return f"webhook connection.{alert.kind.value} entregue"

    def webhook_payload(self, alert: AlertRequest) -> dict[str, object]:
        return {
            "id": alert.key,
            "event": f"connection.{alert.kind.value}",
            "erp": "tiny",
            "reason": alert.reason,
            "occurred_at": alert.occurred_at.astimezone(SAO_PAULO).isoformat(timespec="seconds"),
            "integrations_url": self._integrations_url,
        }


__all__ = ["AlertDelivery", "TransientFailure", "sign"]
