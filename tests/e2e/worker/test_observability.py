"""What an operator sees of a running worker: Prometheus metrics on KANGLU_METRICS_PORT and
JSON log lines that name the connection and Tiny's X-Request-Id, with no secret and no full
customer document in them."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.worker.harness import Deployment, free_port, importable_ids, wait_until


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(metrics: dict[Any, float], name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_and_logs_of_a_running_worker(sqlite_world: Deployment) -> None:
    world = sqlite_world
    account = world.new_account(orders=40, seed=21)
    connection_id = world.connect(account)
    world.sandbox_call("PATCH", f"/accounts/{account.id}/faults?scope=api", force_errors=[503])
    expected = len(importable_ids(world.truth(account)))
    port = free_port()
    worker = world.start_worker(concurrency=2, env={"KANGLU_METRICS_PORT": str(port)})
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        metrics = wait_until(
            lambda: (m := _scrape(url)) and value(m, "kanglu_orders_imported_total") >= expected and m,
            timeout=60, what="the worker to report every import",
        )
    finally:
        code, _ = worker.stop()
    assert code == 0

    assert value(metrics, "kanglu_orders_imported_total") == expected
    assert value(metrics, "kanglu_polls_total", outcome="completed") >= 1
    assert value(metrics, "kanglu_erp_api_calls_total", endpoint="GET /pedidos", status="503") == 1
    assert value(metrics, "kanglu_erp_api_calls_total", endpoint="GET /pedidos", status="200") >= 1
    assert value(metrics, "kanglu_job_lag_seconds_count", kind="poll") >= 1
    assert value(metrics, "kanglu_lease_losses_total") == 0
    assert world.scalar("SELECT count(*) FROM orders WHERE connection_id = :id", id=connection_id) == expected

    lines = [json.loads(line) for line in worker.output().splitlines() if line.startswith("{")]
    retried = [line for line in lines if line["event"] == "tiny call failed, retrying"]
    assert len(retried) == 1
    assert retried[0]["connection_id"] == connection_id and re.fullmatch(r"[0-9a-f-]{36}", retried[0]["request_id"])
    completed = [line for line in lines if line["event"] == "poll completed"]
    assert completed and all(line["connection_id"] == connection_id for line in completed)

    output = worker.output()
    assert world.sandbox.credentials(account)["client_secret"] not in output
    tokens = [text for text, _kind, owner, *_ in world.sandbox.oauth.snapshot()["tokens"] if owner == account.id]
    assert tokens and not any(token in output for token in tokens)
    documents = {re.sub(r"\W", "", o["pedido"]["cliente"].get("cpfCnpj") or "") for o in world.truth(account)}
    assert {d for d in documents if len(d) >= 11 and d in re.sub(r"[.\-/]", "", output)} == set()


def _scrape(url: str) -> dict[Any, float] | None:
    try:
        return samples(url)
    except httpx.HTTPError:
        return None
