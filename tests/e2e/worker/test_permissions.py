"""Issue 17's acceptance, end to end: a real `kanglu worker --once` against a sandbox account whose
Tiny application lacks a permission. A 403 is a missing permission, not a lost authorisation:
no disconnection, no reconnect loop; what the other permissions allow is imported; the card
names the box to tick; once it is ticked in Tiny, the polls fill in what was skipped."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, text

from kanglu.adapters.sql.types import UtcDateTime
from kanglu.domain.situacoes import INVOICED_SITUACOES
from kanglu.entrypoints.web import create_app
from tests.e2e.web.conftest import login
from tests.e2e.worker.harness import MAPPED_SITUACOES, Deployment, importable_ids
from tests.e2e.worker.test_tiny_faults import connection, imported_ids, job, make_due

pytestmark = pytest.mark.timeout(240)


def time_passes(d: Deployment, connection_id: int, minutes: int = 6) -> None:
    """The test's stand-in for waiting: the poll comes due, and the last permission check is
    older than the recheck interval (5 minutes)."""
    make_due(d, "poll", connection_id)
    update = text("UPDATE erp_connections SET permissions_checked_at = :at WHERE id = :id").bindparams(
        bindparam("at", type_=UtcDateTime()))
    with d.container.adapters.engine().begin() as db:
        db.execute(update, {"at": datetime.now(UTC) - timedelta(minutes=minutes), "id": connection_id})


def invoiced_in_tiny(d: Deployment, account: Any) -> dict[int, int]:
    """Imported orders whose authorised nota Kanglu should attach: order id -> nota id."""
    invoiced = {int(s) for s in INVOICED_SITUACOES} & MAPPED_SITUACOES
    return {o["id"]: o["nota"]["id"] for o in d.truth(account)
            if o["situacao"] in invoiced and o["nota"] and o["nota"]["situacao"] in (2, 6, 7) and not o["malformed"] and not o.get("origemPedido")}


def stored_invoices(d: Deployment, connection_id: int) -> dict[int, int]:
    import json

    result = {}
    for row in d.orders_of(connection_id):
        if row.invoice is not None:
            invoice = row.invoice if isinstance(row.invoice, dict) else json.loads(row.invoice)
            result[row.erp_order_id] = invoice.get("erp_invoice_id")
    return result


def card(d: Deployment, account: Any) -> tuple[str, dict[str, Any]]:
    """The Integrações page as the merchant sees it, and the JSON API's view."""
    client = create_app(d.container).test_client()
    login(client, f"loja-{account.id}@example.com", "senha-segura-1")
    page = html.unescape(client.get("/integrations").get_data(as_text=True))
    connection_id = d.scalar("SELECT id FROM erp_connections ORDER BY id DESC LIMIT 1")
    api = client.get("/api/v1/integrations/tiny", headers={"Authorization": f"Bearer {d.api_keys[connection_id]}"})
    return page, api.json


def test_without_notas_fiscais_orders_come_in_and_the_invoices_follow_once_ticked(sqlite_deployment: Any) -> None:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="60") as d:
        # A plan of 600 calls a minute: the pass that fetches the invoices once they are allowed
        # makes ~90 calls, which on 120 a minute the pacer spreads over 17 s (limits are tested
        # elsewhere).
        account = d.new_account(orders=80, seed=71, permissions={"notas_fiscais": False}, settings={"rate_limit": 600})
        connection_id = d.connect(account)
        expected_invoices = invoiced_in_tiny(d, account)
        assert expected_invoices, "the dataset must have invoiced orders for this to prove anything"

        d.run_once()
        # Every order imported, without its invoice; the connection stays connected.
        assert imported_ids(d, connection_id) == importable_ids(d.truth(account))
        assert stored_invoices(d, connection_id) == {}
        row = connection(d, connection_id)
        assert (row.status, row.missing_permissions, row.last_error) == ("connected", "notas_fiscais", None)
        assert row.access_token is not None
        poll = job(d, "poll", connection_id)
        assert (poll.last_error, poll.attempts) == (None, 0)
        notas_403 = d.counters(account)["api"]["GET /notas"]["by_status"]
        assert notas_403 == {"403": 1}  # asked once, then not knocked on again

        # The card says what to tick; the API lists it.
        page, api = card(d, account)
        section = page.split('id="missing-permissions"', 1)[1].split("</section>", 1)[0]
        assert "Notas Fiscais: leitura" in section and "Configurações → Aplicativos" in section
        assert api["status"] == "connected" and api["missing_permissions"] == ["notas_fiscais"]

        # A poll before the recheck is due: nothing asked of /notas, still connected.
        make_due(d, "poll", connection_id)
        d.run_once()
        assert d.counters(account)["api"]["GET /notas"]["by_status"] == {"403": 1}

        # The merchant ticks "Notas Fiscais: leitura" in Tiny, and does nothing else here.
        d.sandbox_call("PATCH", f"/accounts/{account.id}/permissions", notas_fiscais=True)
        time_passes(d, connection_id)
        d.run_once()
        assert stored_invoices(d, connection_id) == expected_invoices
        row = connection(d, connection_id)
        assert (row.status, row.missing_permissions, row.incomplete_since, row.last_error) == (
            "connected", None, None, None)
        page, api = card(d, account)
        assert 'id="missing-permissions"' not in page and api["missing_permissions"] == []
        # Never a disconnection, never a renewal loop: no token call since the connection.
        assert d.counters(account)["oauth"].get("refresh_calls", 0) == 0


def test_a_403_on_pedidos_pauses_the_polls_with_the_message_and_retries_later(sqlite_deployment: Any) -> None:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="60") as d:
        account = d.new_account(orders=30, seed=72, permissions={"pedidos": False})
        calm = d.new_account(orders=20, seed=73)
        connection_id, calm_id = d.connect(account), d.connect(calm)

        d.run_once()
        assert imported_ids(d, calm_id) == importable_ids(d.truth(calm))  # the others go on
        assert imported_ids(d, connection_id) == set()
        row = connection(d, connection_id)
        assert (row.status, row.missing_permissions) == ("connected", "pedidos")
        assert row.access_token is not None
        assert "“Pedidos: leitura”" in row.last_error
        poll = job(d, "poll", connection_id)
        due_in = (datetime.fromisoformat(str(poll.due_at)).replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()
        assert 4 * 60 < due_in <= 5 * 60  # tried again in 5 minutes, not in a loop
        assert d.counters(account)["api"]["GET /pedidos"]["by_status"] == {"403": 1}

        d.run_once()  # not due: nothing asked of Tiny
        assert d.counters(account)["api"]["GET /pedidos"]["by_status"] == {"403": 1}

        d.sandbox_call("PATCH", f"/accounts/{account.id}/permissions", pedidos=True)
        make_due(d, "poll", connection_id)
        d.run_once()
        assert imported_ids(d, connection_id) == importable_ids(d.truth(account))
        row = connection(d, connection_id)
        assert (row.status, row.missing_permissions, row.last_error) == ("connected", None, None)
        assert d.counters(account)["oauth"].get("refresh_calls", 0) == 0
