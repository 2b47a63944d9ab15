"""Query parameters of the listings, parsed once for both the pages and the API.

The API refuses a bad value with a field error (422); the pages drop it and show the
unfiltered listing, which is what a person who edited the URL by hand expects.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from kanglu.application.queries import MAX_PER_PAGE, UNKNOWN_CARRIER, OrderFilters, PageRequest
from kanglu.domain.carriers import NOT_TRACKED, CarrierRegistry
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking import ShipmentStatus

MAX_PAGE = 1_000_000  # keeps OFFSET (page x per_page) far inside a 64-bit integer
MAX_QUERY_LENGTH = 200
MAX_ID = 2**63 - 1  # ids beyond a BIGINT cannot exist: answer 404 without asking the database
_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")


def clean_query(text: str) -> str | None:
    """The search text without control characters (a NUL byte breaks PostgreSQL) or excess
    blanks; None when nothing is left."""
    kept = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    return " ".join(kept.split()) or None


_SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def _allowed(values: object) -> str:
    listed = [str(v) for v in values]  # type: ignore[attr-defined]
    return "use " + ", ".join(listed[:-1]) + " ou " + listed[-1]


def parse_instant(raw: str) -> datetime | None:
    """ISO 8601: a date (midnight in São Paulo) or a date-time; without an offset, São Paulo's
    (the time the merchant sees on the pages)."""
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(max(day.year, 1900), day.month, day.day, tzinfo=_SAO_PAULO)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.year < 1900:  # before any order: the same as no lower bound (and no overflow in UTC)
        return datetime(1900, 1, 1, tzinfo=_SAO_PAULO)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_SAO_PAULO)


def _whole(raw: str, low: int, high: int) -> int | None:
    if not _WHOLE_NUMBER.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


@attrs.frozen
class ListParams:
    q: str | None = None
    situacao: Situacao | None = None
    tracking_status: ShipmentStatus | None = None
    carrier_code: str | None = None
    updated_since: datetime | None = None
    page: int = 1
    per_page: int = 20

    def order_filters(self, customer_id: int | None = None) -> OrderFilters:
        return OrderFilters(
            q=self.q,
            situacao=int(self.situacao) if self.situacao is not None else None,
            tracking_status=self.tracking_status,
            carrier_code=self.carrier_code,
            customer_id=customer_id,
            updated_since=self.updated_since,
        )

    @property
    def page_request(self) -> PageRequest:
        return PageRequest(page=self.page, per_page=self.per_page)


class _Refused(ValueError):
    """A parameter's value the listing cannot use; `args[0]` says why, in Portuguese."""


ParameterParser = Callable[[str, CarrierRegistry | None], object]


def _query(raw: str, carriers: CarrierRegistry | None) -> str | None:
    if len(raw) > MAX_QUERY_LENGTH:
        raise _Refused(f"a busca aceita até {MAX_QUERY_LENGTH} caracteres")
    return clean_query(raw)


def _situacao(raw: str, carriers: CarrierRegistry | None) -> Situacao:
    code = _whole(raw, 0, 99)
    if code is None or code not in {int(s) for s in Situacao}:
        raise _Refused("situação desconhecida: " + _allowed(sorted(int(s) for s in Situacao)))
    return Situacao(code)


def _tracking_status(raw: str, carriers: CarrierRegistry | None) -> ShipmentStatus:
    try:
        return ShipmentStatus(raw)
    except ValueError:
        raise _Refused("estado de rastreamento desconhecido: " + _allowed(s.value for s in ShipmentStatus)) from None


def _carrier(raw: str, carriers: CarrierRegistry | None) -> str:
    assert carriers is not None  # the filter is only read where the registry is given
    if raw == UNKNOWN_CARRIER or carriers.get(raw) is not None:
        return raw
    codes = [c.code for c in carriers] + [NOT_TRACKED.code, UNKNOWN_CARRIER]
    raise _Refused("transportadora desconhecida: " + _allowed(codes))


def _updated_since(raw: str, carriers: CarrierRegistry | None) -> datetime:
    since = parse_instant(raw)
    if since is None:
        raise _Refused("use uma data ISO 8601, como 2026-12-07 ou 2026-12-07T10:00:00-03:00")
    return since


def _count(high: int) -> ParameterParser:
    def parse(raw: str, carriers: CarrierRegistry | None) -> int:
        number = _whole(raw, 1, high)
        if number is None:
            raise _Refused(f"informe um número inteiro de 1 a {high}")
        return number

    return parse


# (query parameter, ListParams field, parser), in the order their errors are listed.
_PARAMETERS: tuple[tuple[str, str, ParameterParser], ...] = (
    ("q", "q", _query),
    ("situacao", "situacao", _situacao),
    ("tracking_status", "tracking_status", _tracking_status),
    ("carrier", "carrier_code", _carrier),
    ("updated_since", "updated_since", _updated_since),
    ("page", "page", _count(MAX_PAGE)),
    ("per_page", "per_page", _count(MAX_PER_PAGE)),
)


def parse_list_params(
    args: Mapping[str, str],
    *,
    per_page: int,
    carriers: CarrierRegistry | None = None,
    blank_is_absent: bool,
) -> tuple[ListParams, dict[str, str]]:
    """The parameters, and a Portuguese message per refused one (those fall back to defaults).

    `blank_is_absent`: an HTML form sends `situacao=` for "todas"; an API client that sends
    an empty value has sent a bad one. `carriers`: the carrier filter is read only with it.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"per_page": per_page}
    for name, field, parse in _PARAMETERS:
        raw = args.get(name)
        if raw is None or (blank_is_absent and raw.strip() == "") or (name == "carrier" and carriers is None):
            continue
        try:
            values[field] = parse(raw, carriers)
        except _Refused as exc:
            errors[name] = str(exc)
    return ListParams(**values), errors
