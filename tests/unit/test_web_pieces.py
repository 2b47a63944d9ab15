"""The web layer's small parts: throttling policy, formatting, page windows, parameters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

from kanglu.application.queries import OrderSummary
from kanglu.domain.money import Money
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking import ShipmentStatus
from kanglu.domain.tracking_codes import TrackingCode
from kanglu.entrypoints.web.formatting import (
    access_key_groups,
    datetime_br,
    money_br,
    phone_br,
    safe_url,
    sentence,
    situacao_badge,
    time_ago,
    tracking_badge,
)
from kanglu.entrypoints.web.pagination import page_url, page_window
from kanglu.entrypoints.web.params import MAX_PAGE, clean_query, parse_list_params
from kanglu.entrypoints.web.security import safe_next
from kanglu.entrypoints.web.throttle import InMemoryLoginAttempts, ThrottlePolicy

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


# -- throttling ---------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=60))
def test_locks_never_shrink_and_never_pass_the_cap(failures: int) -> None:
    policy = ThrottlePolicy()
    now, after = policy.lock_for(failures), policy.lock_for(failures + 1)
    if failures + 1 < policy.free:
        assert now is None and after is None
    else:
        assert after is not None and after <= policy.max_lock
        assert now is None or now <= after


def test_a_key_forgets_its_failures_after_a_quiet_hour() -> None:
    attempts = InMemoryLoginAttempts()
    for _ in range(4):
        attempts.failed(["pair:a@b.com"], T0)
    attempts.failed(["pair:a@b.com"], T0 + timedelta(hours=2))  # would be the fifth
    assert attempts.blocked_for(["pair:a@b.com"], T0 + timedelta(hours=2)) is None


def test_the_store_stays_bounded_and_drops_the_oldest_first() -> None:
    attempts = InMemoryLoginAttempts(max_entries=3)
    for n in range(5):
        attempts.failed([f"pair:{n}@x.com"], T0 + timedelta(seconds=n))
    assert len(attempts) == 3
    for _ in range(5):
        attempts.failed(["pair:4@x.com"], T0 + timedelta(seconds=10))
    assert attempts.blocked_for(["pair:4@x.com"], T0 + timedelta(seconds=10)) is not None


def test_the_longest_lock_among_the_keys_is_reported() -> None:
    attempts = InMemoryLoginAttempts()
    for n in range(7):
        attempts.failed(["pair:a@b.com"], T0)
    for n in range(5):
        attempts.failed(["pair:c@d.com"], T0)
    assert attempts.blocked_for(["pair:c@d.com", "pair:a@b.com"], T0) == timedelta(seconds=120)
    attempts.succeeded(["pair:a@b.com"])
    assert attempts.blocked_for(["pair:c@d.com", "pair:a@b.com"], T0) == timedelta(seconds=30)


# -- formatting ---------------------------------------------------------------------------


@given(st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2))
def test_money_reads_the_brazilian_way_and_parses_back(amount: Decimal) -> None:
    text = money_br(Money.parse(amount))
    assert text.removeprefix("-").startswith("R$ ")
    assert Money.parse(text.replace("-R$ ", "-").replace("R$ ", "")) == Money.parse(amount)


def test_brazilian_formats() -> None:
    assert money_br(Money.parse("1234567.5")) == "R$ 1.234.567,50"
    assert datetime_br(datetime(2026, 7, 1, 2, 30, tzinfo=UTC)) == "30/06/2026 23:30"  # São Paulo, UTC-3
    assert datetime_br(datetime(2026, 7, 1, 2, 30)) == "01/07/2026 02:30"  # naive: already local
    assert datetime_br(date(2026, 7, 1)) == "01/07/2026" and datetime_br(None) == "—"
    assert phone_br("11987654321") == "(11) 98765-4321" and phone_br("+5511987654321") == "(11) 98765-4321"
    assert phone_br("1133334444") == "(11) 3333-4444" and phone_br("+4930123456") == "+4930123456"
    assert time_ago(T0 - timedelta(minutes=1), T0) == "há 1 minuto"
    assert time_ago(T0 - timedelta(hours=3), T0) == "há 3 horas" and time_ago(T0 - timedelta(days=2), T0) == "há 2 dias"
    assert sentence("informe o Client ID") == "Informe o Client ID." and sentence("Pronto!") == "Pronto!"


def test_badges_say_what_an_order_waits_for_and_that_it_is_not_tracked() -> None:
    def order(carrier_code: str | None, code: str | None) -> OrderSummary:
        return OrderSummary(1, 1, Situacao.ENVIADA, None, carrier_code=carrier_code,
                            tracking_code=TrackingCode(code) if code else None)

    assert situacao_badge(Situacao.ENTREGUE) == '<span class="badge plain badge-ok">Entregue</span>'
    assert situacao_badge(Situacao.NAO_ENTREGUE) == '<span class="badge plain badge-bad">Não Entregue</span>'
    assert situacao_badge(Situacao.ABERTA) == '<span class="badge plain badge-muted">Aberta</span>'
    waiting, cancelled = ShipmentStatus.WAITING_DATA, ShipmentStatus.CANCELLED
    assert tracking_badge(waiting) == '<span class="badge badge-warn">Aguardando código de rastreio</span>'
    assert tracking_badge(waiting, order(None, "JD123456789")) == (
        '<span class="badge badge-warn">Aguardando transportadora</span>')
    assert tracking_badge(waiting, order("jadlog", None)) == tracking_badge(waiting)
    assert tracking_badge(cancelled, order("none", None)) == '<span class="badge badge-muted">Não rastreado</span>'
    assert tracking_badge(cancelled, order("jadlog", "JD123456789")) == (
        '<span class="badge badge-muted">Cancelado</span>')
    assert tracking_badge(ShipmentStatus.TRACKING) == '<span class="badge badge-info">Em rastreamento</span>'


@given(st.text(alphabet="0123456789", min_size=44, max_size=44))
def test_access_keys_read_in_eleven_groups_of_four(key: str) -> None:
    grouped = access_key_groups(key)
    assert grouped.replace(" ", "") == key and [len(g) for g in grouped.split(" ")] == [4] * 11


@given(st.text(max_size=60))
def test_only_web_addresses_become_links(text: str) -> None:
    link = safe_url(text)
    assert link is None or urlsplit(link).scheme in ("http", "https")
    assert safe_url("javascript:alert(1)") is None and safe_url(" https://x.com/a ") == "https://x.com/a"


@given(st.text(max_size=40))
def test_next_targets_always_stay_on_the_site(target: str) -> None:
    result = safe_next(target, "/integrations")
    assert result.startswith("/") and not result.startswith("//") and "\\" not in result
    assert not urlsplit(result).netloc


# -- listings -------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=5000), st.data())
def test_page_windows_show_first_last_and_neighbours_in_order(pages: int, data: st.DataObject) -> None:
    page = data.draw(st.integers(min_value=1, max_value=pages))
    window = page_window(page, pages)
    numbers = [n for n in window if n is not None]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1 and numbers[-1] == pages and page in numbers
    assert set(range(max(1, page - 2), min(pages, page + 2) + 1)) <= set(numbers)
    for before, gap, after in zip(window, window[1:], window[2:], strict=False):
        if gap is None:
            assert before is not None and after is not None and after - before > 1
    assert len(window) <= 9


def test_page_urls_keep_the_filters_and_drop_page_one() -> None:
    assert page_url("/orders", {"q": "ana", "situacao": "", "page": "3"}, 1) == "/orders?q=ana"
    assert page_url("/orders", {"q": "a b"}, 2) == "/orders?q=a+b&page=2"


@given(st.text(max_size=12))
def test_page_parameters_are_whole_numbers_in_range_or_refused(raw: str) -> None:
    params, errors = parse_list_params({"page": raw}, per_page=20, blank_is_absent=False)
    if "page" in errors:
        assert params.page == 1
    else:
        assert raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE and params.page == int(raw)


def test_search_text_loses_control_characters() -> None:
    assert clean_query("  João\x00 \t Silva\n") == "João Silva"
    assert clean_query("\x00\x01 ") is None
