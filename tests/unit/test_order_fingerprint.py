"""The order fingerprint: a versioned hash of canonical JSON, stable across field order and
added defaults, and an older version compared as unknown (imported again once, never in bulk)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs
from hypothesis import given
from hypothesis import strategies as st

from kanglu.application.commands import ImportOrderCommand
from kanglu.domain.canonical import canonical_json
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.domain.customers import Address, CustomerData
from kanglu.domain.money import Money
from kanglu.domain.orders import (
    FINGERPRINT_VERSION,
    ErpOrder,
    Invoice,
    OrderWarning,
    comparable_fingerprint,
    import_signature,
)
from kanglu.domain.shipping import ShippingService
from kanglu.domain.situacoes import Action, Situacao
from tests.builders import access_key, connected_world, customer, erp_order, s10

CORREIOS = DEFAULT_REGISTRY.get("correios")


def test_the_canonical_form_is_pinned() -> None:
    """Changing this text changes every stored fingerprint: bump FINGERPRINT_VERSION with it."""
    snapshot = ErpOrder(
        erp_order_id=5, situacao=Situacao.ENVIADA, number="10005", total=Money(Decimal("12.50")),
        created_at=date(2026, 6, 30), tracking_code=s10(1), warnings=(OrderWarning("total", "Sem total."),),
    )
    text = canonical_json({"order": snapshot, "action": Action.IGNORE, "carrier": None})
    assert text == (
        '{"action":"ignore","carrier":null,"order":{"created_at":"2026-06-30","erp_order_id":5,"number":"10005",'
        '"situacao":5,"total":{"amount":"12.50"},"tracking_code":{"value":"QB000000014BR"},'
        '"warnings":[{"field":"total","message":"Sem total."}]}}'
    )
    assert import_signature(snapshot, Action.IGNORE, None) == (
        "b7d86576a05e5d63aa1955f7b1a8462844ccf26249553818f1c692dcd4f5b070"  # its SHA-256
    )


def test_field_order_and_added_defaults_leave_the_form_alone() -> None:
    @attrs.frozen
    class Before:
        a: int
        b: str | None = None

    @attrs.frozen
    class After:  # fields reordered, one added with a default
        b: str | None = None
        c: tuple[int, ...] = ()
        a: int = 0
        d: bool = False

    assert canonical_json(Before(1, "x")) == canonical_json(After(a=1, b="x"))
    assert canonical_json(Before(1)) == canonical_json(After(a=1)) == '{"a":1}'
    assert canonical_json(After(a=1, d=True)) == '{"a":1,"d":true}'


def test_values_are_written_explicitly() -> None:
    assert canonical_json([Decimal("1.10"), datetime(2026, 1, 2, 3, 4), date(2026, 1, 2), None, Situacao.ENVIADA]) == (
        '["1.10","2026-01-02T03:04:00","2026-01-02",null,5]'
    )
    # None where the default is something else is kept: "no total" is not "zero".
    assert '"total":null' in canonical_json(erp_order(1, total=None))
    assert '"total"' not in canonical_json(erp_order(1, total=Money.zero()))


@given(
    st.sampled_from(list(Situacao)),
    st.sampled_from(["10.00", "199.90", "0.01"]),
    st.one_of(st.none(), st.integers(1, 50)),
    st.sampled_from(list(Action)),
    st.booleans(),
)
def test_any_change_of_what_an_import_writes_changes_the_signature(situacao, total, code, action, carrier) -> None:  # type: ignore[no-untyped-def]
    base = erp_order(1)
    changed = erp_order(1, situacao=situacao, total=Money.parse(total), tracking_code=s10(code) if code else None)
    same = changed == base and action is Action.IGNORE and not carrier
    signature = import_signature(changed, action, CORREIOS if carrier else None)
    assert (signature == import_signature(base, Action.IGNORE, None)) is same
    assert signature == import_signature(attrs.evolve(changed), action, CORREIOS if carrier else None)


def test_a_fingerprint_of_another_version_is_unknown() -> None:
    assert comparable_fingerprint("abc", FINGERPRINT_VERSION) == "abc"
    assert comparable_fingerprint("abc", FINGERPRINT_VERSION - 1) == ""


def test_an_order_of_an_older_version_is_rewritten_once_when_listed_again() -> None:
    world, cid = connected_world()
    importer = world.import_order()
    importer(ImportOrderCommand(cid, [erp_order(1), erp_order(2)]))
    with world.uow() as uow:  # as migration 0010 leaves the rows written before it
        for order in uow.orders.all():
            order.fingerprint, order.fingerprint_version = "0" * 32, 1
        uow.commit()
    assert world.uow.read().orders.fingerprints(cid, [1, 2]) == {1: "", 2: ""}

    report = importer(ImportOrderCommand(cid, [erp_order(1)]))
    assert (report.unchanged, report.updated) == (0, 1)
    assert len(world.uow.read().outbox.all()) == 2  # nothing changed for tracking
    stored = world.uow.read().orders.fingerprints(cid, [1, 2])
    assert stored[1] == import_signature(erp_order(1), Action.IMPORT, CORREIOS) and stored[2] == ""

    report = importer(ImportOrderCommand(cid, [erp_order(1)]))
    assert (report.unchanged, report.updated) == (1, 0)


def _as_plain_json(value: object) -> str:
    """The oracle: the same canonical form, built as plain data and written by json.dumps."""
    import enum
    import json

    def plain(item: object) -> object:
        if attrs.has(type(item)):
            return {f.name: getattr(item, f.name) for f in attrs.fields(type(item))
                    if f.default is attrs.NOTHING or getattr(item, f.name) != _default(f)
                    or type(getattr(item, f.name)) is not type(_default(f))}
        if isinstance(item, enum.Enum):
            return item.value
        if isinstance(item, (Decimal, date)):
            return str(item) if isinstance(item, Decimal) else item.isoformat()
        raise TypeError(type(item).__name__)

    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=plain)


def _default(field: attrs.Attribute) -> object:  # type: ignore[type-arg]
    default = field.default
    return default.factory() if isinstance(default, type(attrs.Factory(list))) else default


@given(
    erp_id=st.integers(1, 9_999),
    situacao=st.sampled_from(list(Situacao)),
    number=st.text(max_size=12),
    total=st.none() | st.decimals(min_value=0, max_value=10**6, places=2).map(lambda d: Money(d)),
    created_at=st.none() | st.dates(),
    warnings=st.lists(st.builds(OrderWarning, field=st.text(max_size=8), message=st.text(max_size=30)), max_size=2)
    .map(tuple),
)
def test_the_written_text_is_json_dumps_of_the_plain_data(
    erp_id: int, situacao: Situacao, number: str, total: Money | None, created_at: date | None,
    warnings: tuple[OrderWarning, ...],
) -> None:
    """canonical_json writes the text itself (for speed); it must stay exactly what json.dumps
    gives of the plain data, unicode and escapes included."""
    order = erp_order(erp_id, situacao, number=number, total=total, warnings=warnings,
                      **({"created_at": created_at} if created_at else {}))
    value = {"order": order, "action": Action.IMPORT, "carrier": None}
    assert canonical_json(value) == _as_plain_json(value)


_TEXT = st.none() | st.text(max_size=10)


@given(
    customer=st.none() | st.builds(
        customer, st.integers(1, 99), name=st.text(max_size=10), email=_TEXT,
        address=st.none() | st.builds(Address, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT),
    ),
    shipping=st.builds(ShippingService, st.none() | st.integers(0, 99), _TEXT, _TEXT, _TEXT,
                       st.none() | st.integers(0, 9), _TEXT),
    invoice=st.none() | st.builds(Invoice, _TEXT, _TEXT, st.none() | st.integers(0, 99).map(access_key)),
    created_at=st.datetimes(timezones=st.none() | st.just(ZoneInfo("America/Sao_Paulo"))),
    point_of_sale=st.booleans(),
)
def test_nested_values_are_written_as_json_dumps_writes_them(
    customer: CustomerData | None, shipping: ShippingService, invoice: Invoice | None, created_at: datetime,
    point_of_sale: bool,
) -> None:
    """The writer generated for each attrs class (nested ones, fields at and off their
    defaults, a factory's default, local date-times) gives json.dumps's text."""
    order = erp_order(1, customer=customer, shipping=shipping, invoice=invoice, created_at=created_at,
                      point_of_sale=point_of_sale)
    value = {"order": order, "action": Action.IGNORE, "carrier": "correios"}
    assert canonical_json(value) == _as_plain_json(value)
