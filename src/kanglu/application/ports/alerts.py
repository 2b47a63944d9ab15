"""Ports for merchant alerts: e-mail and webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs


@attrs.frozen
class MailMessage:
    to: str
    subject: str
    text: str
    message_id: str  # the same for every retry of one alert


class Mailer(Protocol):
    """Sends an e-mail; raises TransientFailure to be retried later."""

    def send(self, message: MailMessage) -> None: ...


class WebhookClient(Protocol):
    """POSTs a signed body; raises TransientFailure to be retried later (and for a refusal:
    a receiver that answers 4xx may be fixed by its owner)."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None: ...
