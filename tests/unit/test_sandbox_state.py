"""A sandbox dataset and account survive a JSON round trip exactly, and go on as if nothing happened."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanglu.sandbox import payloads
from kanglu.sandbox.accounts import AccountSettings, SandboxState
from kanglu.sandbox.clock import SandboxClock
from kanglu.sandbox.dataset import Dataset

ANCHOR = 1_795_000_400


def everything(dataset: Dataset) -> dict[str, Any]:
    """What the API can show of a dataset, plus the facts the control API reads."""
    return {
        "info": payloads.info(dataset.company),
        "orders": [(payloads.pedido_detail(dataset, o), o.malformed, o.updated) for o in dataset.orders],
        "invoices": [payloads.nota_detail(dataset, i) for i in dataset.invoices],
        "formas": [payloads.forma_envio_detail(f) for f in dataset.formas],
    }


def through_json(dataset: Dataset) -> Dataset:
    return Dataset.restore(json.loads(json.dumps(dataset.snapshot())))


def mutate(dataset: Dataset, steps: list[tuple[str, int]], now: float) -> None:
    """Life through the dataset's own methods, as the control API and the activity drive it."""
    for kind, pick in steps:
        now += 60
        orders = dataset.orders
        order = orders[pick % len(orders)]
        if kind == "add":
            dataset.add_orders(1 + pick % 3, now, None)
        elif kind == "situacao":
            dataset.set_situacao(order, (8, 0, 3, 4, 1, 7, 5, 6, 2, 9)[pick % 10], now)
        elif kind == "tracking":
            dataset.set_tracking(order, dataset.new_tracking_code(order), True, pick % 2 == 0, now)
        elif kind == "invoice" and (order.invoice is None or order.invoice.situacao in (3, 5)):
            dataset.issue_invoice(order, now, 6)
        elif kind == "touch":
            dataset.touch(order, now)


steps = st.lists(st.tuples(st.sampled_from(["add", "situacao", "tracking", "invoice", "touch"]),
                           st.integers(0, 10_000)), max_size=25)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([0.0, 0.3]), st.sampled_from([None, True, False]), steps, steps)
def test_a_restored_dataset_is_the_same_and_changes_the_same_way(seed, malformed_rate, alphanumeric, before, after):
    original = Dataset(seed, 40, ANCHOR, malformed_rate, alphanumeric)
    mutate(original, before, ANCHOR)
    restored = through_json(original)
    assert everything(restored) == everything(original)
    # The random streams were saved too: what happens next is what would have happened.
    mutate(original, after, ANCHOR + 10_000)
    mutate(restored, after, ANCHOR + 10_000)
    assert everything(restored) == everything(original)
    ids = [o.id for o in restored.orders]
    assert ids == sorted(set(ids))


def test_an_ungenerated_dataset_is_saved_as_its_recipe_and_keeps_its_anchor() -> None:
    lazy = Dataset(5, 3000, ANCHOR)
    snapshot = lazy.snapshot()
    assert snapshot["pending"] == [3000, ANCHOR] and "orders" not in snapshot
    assert len(json.dumps(snapshot)) < 1000
    restored = through_json(lazy)
    assert restored.order_count == 3000
    assert everything(restored) == everything(Dataset(5, 3000, ANCHOR))


def test_the_snapshot_is_cached_until_the_dataset_changes() -> None:
    dataset = Dataset(6, 30, ANCHOR)
    first = dataset.snapshot()
    assert dataset.snapshot() is first
    dataset.touch(dataset.orders[0], ANCHOR + 5)
    second = dataset.snapshot()
    assert second is not first and second["orders"][0]["updated"] == ANCHOR + 5


def test_a_snapshot_from_another_generator_is_refused() -> None:
    snapshot = json.loads(json.dumps(Dataset(7, 10, ANCHOR).snapshot()))
    snapshot["seed"] = 8  # what a changed generator looks like: the same recipe, another company
    with pytest.raises(ValueError, match="another version"):
        Dataset.restore(snapshot)


def test_accounts_come_back_with_credentials_settings_faults_and_numbering() -> None:
    clock = SandboxClock(start=ANCHOR)
    state = SandboxState(clock)
    first = state.create_account(orders=10, seed=1)
    second = state.create_account(orders=5, settings={"rate_limit": 30, "simulate": True},
                                  faults={"force_errors": [503], "storm_until": ANCHOR + 99},
                                  token_faults={"error_rate": 0.5})
    second.activity_rng.random()
    second.generation = 3
    again = SandboxState(clock, AccountSettings(app_name="Outro"))
    again.restore(json.loads(json.dumps(state.snapshot())))
    assert [a.id for a in again.all_accounts()] == [first.id, second.id] == ["default", "conta-2"]
    restored = again.account(second.client_id)
    assert restored is again.by_invite[second.invite_id]
    assert (restored.client_secret, restored.seed, restored.generation) == (second.client_secret, second.seed, 3)
    assert restored.settings == second.settings
    assert {k: f.as_json() for k, f in restored.faults.items()} == {k: f.as_json() for k, f in second.faults.items()}
    assert restored.limiter.per_minute == 30
    assert restored.activity_rng.random() == second.activity_rng.random()
    assert again.create_account(orders=0).id == "conta-3"
