"""How values read on the pages: Brazilian dates in São Paulo time, reais, documents, keys."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask
from markupsafe import Markup

from kanglu.domain.carriers import NOT_TRACKED
from kanglu.domain.documents import Document
from kanglu.domain.money import Money
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking import ShipmentStatus
from kanglu.domain.tracking_codes import TrackingCode

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def local_datetime(value: datetime) -> datetime:
    """An aware instant in São Paulo time; a naive one is taken as São Paulo time already
    (that is how Tiny gives its dates)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=SAO_PAULO)
    return value.astimezone(SAO_PAULO)


def datetime_br(value: date | datetime | None, empty: str = "—") -> str:
    if value is None:
        return empty
    if isinstance(value, datetime):
        return local_datetime(value).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def date_br(value: date | datetime | None, empty: str = "—") -> str:
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = local_datetime(value)
    return value.strftime("%d/%m/%Y")


def time_ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return ""
    elapsed = now - (value if value.tzinfo else local_datetime(value))
    if elapsed < timedelta(minutes=1):
        return "agora mesmo"
    if elapsed < timedelta(hours=1):
        minutes = int(elapsed.total_seconds() // 60)
        return f"há {minutes} minuto{'s' if minutes > 1 else ''}"
    if elapsed < timedelta(days=1):
        hours = int(elapsed.total_seconds() // 3600)
        return f"há {hours} hora{'s' if hours > 1 else ''}"
    days = elapsed.days
    return f"há {days} dia{'s' if days > 1 else ''}"


def money_br(value: Money | None) -> str:
    if value is None:
        return "—"
    amount = value.amount
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{sign}R$ {'.'.join(groups)},{cents}"


def document_br(value: Document | None) -> str:
    return value.formatted() if value is not None else "—"


def access_key_groups(value: object) -> str:
    """44 characters in groups of 4, as DANFEs print them: easier to read aloud and compare."""
    if value is None:
        return "—"
    text = str(value)
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def phone_br(value: str | None) -> str:
    if not value:
        return "—"
    digits = value.lstrip("+")
    if value.startswith("+"):
        if not (value.startswith("+55") and len(digits) in (12, 13)):
            return value  # a foreign number: shown as the ERP gave it
        digits = digits[2:]
    if len(digits) == 11:
        return f"({digits[:2]}) {digits[2:7]}-{digits[7:]}"
    if len(digits) == 10:
        return f"({digits[:2]}) {digits[2:6]}-{digits[6:]}"
    return value


def zip_br(value: str | None) -> str:
    if not value:
        return ""
    return f"{value[:5]}-{value[5:]}" if len(value) == 8 and value.isdigit() else value


def safe_url(value: str | None) -> str | None:
    """Only web addresses become links: a `javascript:` URL from an ERP field never does."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def plural(count: int, singular: str, plural_form: str) -> str:
    return f"{count} {singular if count == 1 else plural_form}"


# The badges of a situação and of a tracking state, each made once. Functions, not Jinja macros:
# an order list draws both for every row, and the two macro calls cost as much as the rest of
# the row (~0.45 ms of the 1 ms a 25-row table took to render).
def _badge(classes: str, label: str) -> Markup:
    return Markup('<span class="badge {}">{}</span>').format(classes, label)


_SITUACAO_KINDS = {
    Situacao.ENTREGUE: "ok",
    Situacao.CANCELADA: "bad",
    Situacao.NAO_ENTREGUE: "bad",
    Situacao.ENVIADA: "info",
    Situacao.PRONTO_ENVIO: "info",
    Situacao.FATURADA: "info",
}
_SITUACAO_BADGES = {s: _badge(f"plain badge-{_SITUACAO_KINDS.get(s, 'muted')}", s.label) for s in Situacao}
_TRACKING_KINDS = {
    ShipmentStatus.TRACKING: "info",
    ShipmentStatus.DELIVERED: "ok",
    ShipmentStatus.WAITING_DATA: "warn",
    ShipmentStatus.CANCELLED: "muted",
}
_TRACKING_BADGES = {s: _badge(f"badge-{_TRACKING_KINDS[s]}", s.label) for s in ShipmentStatus}
_NOT_TRACKED_BADGE = _badge("badge-muted", "Não rastreado")
_WAITING_FOR_CARRIER_BADGE = _badge("badge-warn", "Aguardando transportadora")


class Tracked(Protocol):
    """What a tracking badge reads of an order (an Order, or a listing's OrderSummary)."""

    @property
    def carrier_code(self) -> str | None: ...

    @property
    def tracking_code(self) -> TrackingCode | None: ...


def situacao_badge(situacao: Situacao) -> Markup:
    return _SITUACAO_BADGES[situacao]


def tracking_badge(status: ShipmentStatus, order: Tracked | None = None) -> Markup:
    """With the order, a waiting order that already has its code says what it really waits
    for, and an order the merchant chose not to track says so."""
    if order is not None:
        if status is ShipmentStatus.CANCELLED and order.carrier_code == NOT_TRACKED.code:
            return _NOT_TRACKED_BADGE
        if status is ShipmentStatus.WAITING_DATA and order.tracking_code and not order.carrier_code:
            return _WAITING_FOR_CARRIER_BADGE
    return _TRACKING_BADGES[status]


def install(app: Flask) -> None:
    app.jinja_env.filters.update(
        datetime_br=datetime_br,
        date_br=date_br,
        money_br=money_br,
        document_br=document_br,
        access_key=access_key_groups,
        phone_br=phone_br,
        zip_br=zip_br,
        safe_url=safe_url,
        sentence=sentence,
    )
    app.jinja_env.globals.update(
        plural=plural, time_ago=time_ago, situacao_badge=situacao_badge, tracking_badge=tracking_badge
    )


def sentence(message: str) -> str:
    """A use case's message ("informe o Client ID") as a sentence for a flash message."""
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."
