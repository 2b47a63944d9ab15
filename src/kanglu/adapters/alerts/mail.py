"""E-mail for merchant alerts: SMTP (KANGLU_SMTP_URL), or the console for the demo."""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import sys
from email.message import EmailMessage
from email.utils import formatdate
from typing import TextIO
from urllib.parse import unquote, urlsplit

from kanglu.application.errors import TransientFailure
from kanglu.application.ports import MailMessage

log = logging.getLogger(__name__)

DEFAULT_MAIL_FROM = "Kanglu <nao-responda@localhost>"


class SmtpUrlError(ValueError):
    pass


def _email(message: MailMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message.message_id
    email.set_content(message.text)
    return email


class SmtpMailer:
    """`smtp://[user:pass@]host[:port]` (STARTTLS when the server offers it) or `smtps://`
    (TLS from the start). A connection per e-mail: alerts are rare."""

    def __init__(self, url: str, sender: str = DEFAULT_MAIL_FROM, timeout: float = 15.0,
                 tls_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SmtpUrlError("KANGLU_SMTP_URL must look like smtp://[user:pass@]host:port or smtps://…")
        self._tls = parts.scheme == "smtps"
        self._host = parts.hostname
        self._port = parts.port or (465 if self._tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._sender = sender
        self._timeout = timeout
        self._context = tls_context or ssl.create_default_context()

    def send(self, message: MailMessage) -> None:
        try:
            if self._tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout,
                                                        context=self._context)
            else:
                client = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            with client:
                client.ehlo()
                if not self._tls and client.has_extn("starttls"):
                    client.starttls(context=self._context)
                    client.ehlo()
                if self._user is not None:
                    client.login(self._user, self._password or "")
                client.send_message(_email(message, self._sender))
        except smtplib.SMTPRecipientsRefused as exc:
            # The address itself is refused: retried with backoff all the same (the merchant
            # may fix it), and said plainly in the outbox's last_error.
            raise TransientFailure(f"o servidor de e-mail recusou o destinatário ({len(exc.recipients)})") from exc
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise TransientFailure(f"falha ao enviar e-mail: {type(exc).__name__}") from exc
        log.info("alert e-mailed", extra={"message_id": message.message_id})


class ConsoleMailer:
    """The demo's mail server: each e-mail is printed whole, so the alerts can be seen
    without a mail server."""

    def __init__(self, sender: str = DEFAULT_MAIL_FROM, stream: TextIO | None = None) -> None:
        self._sender = sender
        self._stream = stream

    def send(self, message: MailMessage) -> None:
        stream = self._stream or sys.stdout
        rule = "-" * 72
        # Readable, not the wire form (which encodes the accents away in base64).
        stream.write(f"\n{rule}\nE-mail enviado pela Kanglu (demo: nenhum servidor de e-mail)\n{rule}\n")
        stream.write(f"De: {self._sender}\nPara: {message.to}\nAssunto: {message.subject}\n\n{message.text}\n")
        stream.write(f"{rule}\n")
        stream.flush()
