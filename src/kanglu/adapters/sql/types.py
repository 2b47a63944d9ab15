"""Column types that turn the domain's value objects into portable SQL values and back.

Every type works the same on SQLite and PostgreSQL: instants are stored in UTC and come back
timezone-aware, money is exact to the cent, value objects are JSON documents (JSONB on
PostgreSQL) written and read by one cattrs converter.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import cattrs
from sqlalchemy import JSON, BigInteger, DateTime, Integer, Numeric, SmallInteger, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from kanglu.domain.access_keys import AccessKey
from kanglu.domain.customers import Address
from kanglu.domain.documents import Document, DocumentKind
from kanglu.domain.money import CENT, Money
from kanglu.domain.orders import Invoice, OrderWarning, ShippingAddress
from kanglu.domain.permissions import ErpPermission, ordered
from kanglu.domain.secrets import Sealed
from kanglu.domain.shipping import ShippingService
from kanglu.domain.situacoes import Situacao
from kanglu.domain.events import AlertRequest
from kanglu.domain.tracking import TrackingRequest
from kanglu.domain.tracking_codes import TrackingCode

SAO_PAULO = ZoneInfo("America/Sao_Paulo")

# Integer primary keys: BIGINT on PostgreSQL, but INTEGER on SQLite, where only an
# "INTEGER PRIMARY KEY" is the auto-incrementing rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: timestamptz on PostgreSQL; on SQLite, which has no time zones, naive UTC
    text that sorts and compares correctly. Always returned aware, in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive instant is ambiguous; storing it as UTC would silently shift it.
            raise ValueError("naive datetime given where an aware (UTC) instant is expected")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LocalDateOrDateTime(TypeDecorator[date | datetime | None]):
    """When the ERP says an order was created: a date, or a local São Paulo date-time.

    Stored as ISO text ("2026-06-30" or "2026-06-30T14:05:00[-03:00]") that sorts
    chronologically; a missing value is the empty string so that it sorts last in "newest
    first" on both backends (NULL ordering differs between them) and the order-list index
    stays a plain one.
    """

    impl = String(40)
    cache_ok = True
    # None is bound (as "") rather than left out of the INSERT: the column has no default.
    should_evaluate_none = True

    def process_bind_param(self, value: date | datetime | str | None, dialect: Dialect) -> str:
        if value is None:
            return ""
        if isinstance(value, str):  # a bound literal in a comparison
            return value
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(SAO_PAULO).isoformat()
        return value.isoformat()

    def process_result_value(self, value: str | None, dialect: Dialect) -> date | datetime | None:
        if not value:
            return None
        if len(value) == 10:
            return date.fromisoformat(value)
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(SAO_PAULO) if parsed.tzinfo is not None else parsed


class MoneyType(TypeDecorator[Money]):
    """Money as NUMERIC(14, 2). SQLite keeps numerics as floating point, which holds every
    cent exactly up to 10^13; the value is read back through its shortest text form."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(14, 2, asdecimal=False))
        return dialect.type_descriptor(Numeric(14, 2))

    def process_bind_param(self, value: Money | Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = value.amount if isinstance(value, Money) else value
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Money | None:
        if value is None:
            return None
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        return Money(amount.quantize(CENT))


class _TextValue(TypeDecorator[Any]):
    """A value object kept as its `.value` text; bare text is accepted too, for the literals
    of a query (`document IN (...)`)."""

    impl: TypeEngine[Any] | type[TypeEngine[Any]] = String  # each subclass sets its length
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return value if isinstance(value, str) else value.value


class DocumentType(_TextValue):
    """A CPF or CNPJ stored bare; the kind follows from the length (11 or 14)."""

    impl = String(14)
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> Document | None:
        if value is None:
            return None
        # Not re-validated: stored documents were validated on the way in, and a rule that
        # changes later must not make old rows unreadable.
        return Document(DocumentKind.CPF if len(value) == 11 else DocumentKind.CNPJ, value)


class TrackingCodeType(_TextValue):
    impl = String(50)
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> TrackingCode | None:
        return None if value is None else TrackingCode(value)


class SealedType(TypeDecorator[Sealed]):
    """A secret as its ciphertext: the only form in which secrets reach the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Sealed | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Sealed):
            # Belt and braces: a plaintext Secret or str must never be written.
            raise TypeError("only Sealed values may be stored in a sealed column")
        return value.ciphertext

    def process_result_value(self, value: str | None, dialect: Dialect) -> Sealed | None:
        return None if value is None else Sealed(value)


class SituacaoType(TypeDecorator[Situacao]):
    impl = SmallInteger
    cache_ok = True

    def process_bind_param(self, value: Situacao | int | None, dialect: Dialect) -> int | None:
        return None if value is None else int(value)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Situacao | None:
        return None if value is None else Situacao(value)


class StrEnumType(TypeDecorator[enum.StrEnum]):
    """A StrEnum as its value in a VARCHAR: no native enum types, so adding a member needs
    no migration."""

    impl = String  # a class, so that the length given below reaches it
    cache_ok = True

    def __init__(self, enum_cls: type[enum.StrEnum], length: int = 32) -> None:
        super().__init__(length)
        self.enum_cls = enum_cls
        self.length = length

    def process_bind_param(self, value: enum.StrEnum | str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(self.enum_cls(value).value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> enum.StrEnum | None:
        return None if value is None else self.enum_cls(value)


# -- JSON documents ---------------------------------------------------------------------

converter = cattrs.Converter()
for _cls in (AccessKey, TrackingCode):
    converter.register_unstructure_hook(_cls, lambda v: v.value)
    converter.register_structure_hook(_cls, lambda v, cls: cls(v))
converter.register_unstructure_hook(datetime, lambda v: v.isoformat())
converter.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))


class JsonDocument(TypeDecorator[Any]):
    """Plain JSON: JSONB on PostgreSQL, JSON text on SQLite. Anything json cannot encode is
    written as its text (a raw ERP payload must be recorded, whatever it holds)."""

    # None is SQL NULL (not the JSON text 'null'), so "no invoice" is `IS NULL` in queries.
    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(json.dumps(value, default=str))


class _AttrsDocument(JsonDocument):
    """A frozen attrs value object as a JSON document."""

    value_type: type = object

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else converter.unstructure(value, self.value_type)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else converter.structure(value, self.value_type)


class InvoiceType(_AttrsDocument):
    value_type = Invoice
    cache_ok = True


class ShippingServiceType(_AttrsDocument):
    value_type = ShippingService
    cache_ok = True


class ShippingAddressType(_AttrsDocument):
    value_type = ShippingAddress
    cache_ok = True


class AddressType(_AttrsDocument):
    value_type = Address
    cache_ok = True


class TrackingRequestType(_AttrsDocument):
    value_type = TrackingRequest
    cache_ok = True


class PermissionSetType(TypeDecorator[frozenset[ErpPermission]]):
    """A set of ERP permissions as their names, comma-separated in a fixed order; NULL when
    empty (the common case: nothing missing)."""

    impl = String(100)
    cache_ok = True

    def process_bind_param(self, value: frozenset[ErpPermission] | None, dialect: Dialect) -> str | None:
        return ",".join(p.value for p in ordered(value)) if value else None

    def process_result_value(self, value: str | None, dialect: Dialect) -> frozenset[ErpPermission]:
        return frozenset(ErpPermission(name) for name in value.split(",") if name) if value else frozenset()


class WarningsType(JsonDocument):
    """An order's warnings as a JSON list of {field, message}; no warnings is NULL, read back
    as an empty tuple."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return [converter.unstructure(w, OrderWarning) for w in value] if value else None

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return tuple(converter.structure(w, OrderWarning) for w in value) if value else ()


class OutboxRequestType(_AttrsDocument):
    """The outbox's document: a tracking request (stored as it always was) or an alert (told
    apart by its `channel`)."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return converter.unstructure(value, type(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return converter.structure(value, AlertRequest if "channel" in value else TrackingRequest)
