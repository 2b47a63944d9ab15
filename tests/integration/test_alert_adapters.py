"""The alert adapters against real servers on loopback: SMTP (aiosmtpd) and an HTTPS webhook."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kanglu.adapters.alerts.mail import ConsoleMailer, SmtpMailer, SmtpUrlError
from kanglu.adapters.alerts.webhook import HttpWebhookClient
from kanglu.application.errors import TransientFailure
from kanglu.application.ports import MailMessage
from tests.e2e.receivers import free_port, smtp_server, webhook_receiver

MESSAGE = MailMessage("lojista@aurora.com.br", "A integração com o Tiny foi desconectada",
                      "Olá, Loja Aurora.\n\nMotivo: o Tiny recusou o acesso.", "<abc@kanglu>")


def test_smtp_delivers_a_portuguese_message_with_its_message_id() -> None:
    with smtp_server() as (url, inbox):
        SmtpMailer(url, "Kanglu <avisos@kanglu.com.br>").send(MESSAGE)
    [mail] = inbox.messages
    assert inbox.envelopes == [("avisos@kanglu.com.br", ["lojista@aurora.com.br"])]
    assert mail["Subject"] == MESSAGE.subject and mail["Message-ID"] == "<abc@kanglu>"
    assert "Motivo: o Tiny recusou o acesso." in mail.get_content()


def test_smtp_down_is_a_transient_failure_and_a_bad_url_is_refused() -> None:
    with pytest.raises(TransientFailure):
        SmtpMailer(f"smtp://127.0.0.1:{free_port()}", timeout=2).send(MESSAGE)
    with pytest.raises(SmtpUrlError):
        SmtpMailer("http://mail.example")


def test_the_console_mailer_prints_the_whole_message() -> None:
    out = io.StringIO()
    ConsoleMailer(stream=out).send(MESSAGE)
    assert "Para: lojista@aurora.com.br\nAssunto: A integração com o Tiny foi desconectada" in out.getvalue()
    assert "Motivo: o Tiny recusou o acesso." in out.getvalue()


def test_the_webhook_is_posted_and_a_refusal_is_retried(tmp_path: Path) -> None:
    with webhook_receiver(tmp_path) as receiver:
        client = HttpWebhookClient(verify=receiver.context, allow_private=True)
        client.post(receiver.url, b'{"a":1}', {"X-Kanglu-Signature": "sha256=00"})
        receiver.status = 500
        with pytest.raises(TransientFailure):
            client.post(receiver.url, b"{}", {})
        # Without the opt-in, a loopback address is never called.
        with pytest.raises(TransientFailure, match="não é público"):
            HttpWebhookClient(verify=receiver.context).post(receiver.url, b"{}", {})
    assert [d.body for d in receiver.deliveries] == [b'{"a":1}', b"{}"]
    assert receiver.deliveries[0].headers["x-kanglu-signature"] == "sha256=00"
