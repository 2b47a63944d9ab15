"""Simulated activity through the server: the control API's ticks, the flag, and reads meanwhile."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import httpx
import pytest

from kanglu.sandbox import SandboxClock, SandboxServer, cli
from tests.contract.conftest import START, api_client, new_account


def test_ticks_on_demand_move_only_flagged_accounts(sandbox: SandboxServer, http: httpx.Client) -> None:
    lively = new_account(sandbox, orders=30, settings={"simulate": True})
    quiet = new_account(sandbox, orders=30)
    for bad in ({"ticks": 0}, {"ticks": "3"}, {"ticks": 5000}):
        assert http.post(f"{sandbox.base_url}/_sandbox/activity/tick", json=bad).status_code == 400
    answer = http.post(f"{sandbox.base_url}/_sandbox/activity/tick", json={"ticks": 20})
    assert answer.status_code == 200
    mine = [c for c in answer.json()["changes"] if c["account_id"] == lively.id]
    assert mine and not [c for c in answer.json()["changes"] if c["account_id"] == quiet.id]
    truth = {o["id"]: o for o in http.get(f"{sandbox.base_url}/_sandbox/accounts/{lively.id}/orders").json()["orders"]}
    last = {c["order_id"]: c["situacao"] for c in mine}
    assert all(truth[order_id]["situacao"] == situacao for order_id, situacao in last.items())
    flag = http.patch(f"{sandbox.base_url}/_sandbox/accounts/{lively.id}", json={"simulate": False})
    assert flag.json()["settings"]["simulate"] is False


def test_api_reads_stay_whole_while_life_goes_on(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, orders=200, settings={"simulate": True})
    totals: list[int] = []
    failures: list[object] = []
    done = threading.Event()

    def read() -> None:
        with api_client(sandbox, account) as api:
            while not done.is_set():
                answer = api.get("/pedidos", params={"limit": 100, "orderBy": "asc"})
                body = answer.json()
                ids = [o["id"] for o in body["itens"]]
                if answer.status_code != 200 or ids != sorted(set(ids)):
                    failures.append(answer.text)
                totals.append(body["paginacao"]["total"])

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        ticks = 0
        while (ticks < 100 or len(totals) < 60) and ticks < 50_000:  # reads and ticks overlap, however slow
            sandbox.activity.tick()
            ticks += 1
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert not failures
    assert len(totals) >= 60 and min(totals) >= 200 and max(totals) <= len(account.dataset.orders)
    assert len(account.dataset.orders) > 200


def test_the_option_flags_the_default_account_even_a_restored_one(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    with SandboxServer(orders=5, clock=SandboxClock(start=START), state_file=path) as first:
        assert first.default_account.settings.simulate is False
    # A long interval: the thread exists but never fires during the test; ticks are driven by hand.
    with SandboxServer(orders=5, clock=SandboxClock(start=START), state_file=path, activity_interval=3600) as again:
        assert again.restored == 1 and again.default_account.settings.simulate is True
        other = again.create_account(orders=5)
        assert other.settings.simulate is False
        assert {c.account_id for c in again.activity.tick() + again.activity.tick()} <= {"default"}


def test_the_command_line_option_takes_positive_seconds(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    server = cli.build_server(parser.parse_args(["--simulate-activity", "2.5", "--state-file", str(tmp_path / "s")]))
    assert server.activity_interval == 2.5 and server.state_file.path == tmp_path / "s"
    assert cli.build_server(parser.parse_args([])).activity_interval is None
    for bad in ("0", "-1", "inf", "soon"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--simulate-activity", bad])
