"""With a state file, a restarted sandbox is the same Tiny: same client, same tokens, same orders."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kanglu.sandbox import SandboxClock, SandboxServer
from kanglu.sandbox.statefile import StateFileError
from tests.contract.conftest import START


def sandbox(path: Path, clock: SandboxClock | None = None, **options: Any) -> SandboxServer:
    options.setdefault("orders", 30)
    options.setdefault("seed", 4)
    return SandboxServer(clock=clock or SandboxClock(start=START), state_file=path, settings={"rate_limit": 0},
                         **options)


def refresh(server: SandboxServer, account_id: str, refresh_token: str) -> httpx.Response:
    account = server.state.account(account_id)
    return httpx.post(f"{server.auth_url}/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": account.client_id, "client_secret": account.client_secret,
    })


def listing(server: SandboxServer, access_token: str) -> httpx.Response:
    return httpx.get(f"{server.api_url}/pedidos", params={"limit": 100},
                     headers={"Authorization": f"Bearer {access_token}"})


def truth(server: SandboxServer, account_id: str) -> dict[str, Any]:
    """The account as the control API shows it, with the links made relative (the port changes)."""
    control = f"{server.base_url}/_sandbox/accounts/{account_id}"
    account = httpx.get(control).json()
    account["invite_link"] = account["invite_link"].removeprefix(server.base_url)
    del account["api_url"], account["auth_url"]
    return {"account": account, "orders": httpx.get(f"{control}/orders").json()}


def test_a_restart_keeps_accounts_tokens_and_every_change_to_the_orders(tmp_path: Path) -> None:
    path = tmp_path / "var" / "sandbox.json"
    with sandbox(path) as first:
        other = first.create_account(orders=12, seed=77, settings={"access_lifetime": 600, "rate_limit": 0})
        control = f"{first.base_url}/_sandbox/accounts/{other.id}"
        orders = httpx.get(f"{control}/orders").json()["orders"]
        first.clock.advance(120)
        httpx.put(f"{control}/orders/{orders[0]['id']}/situacao", json={"situacao": 5}).raise_for_status()
        httpx.put(f"{control}/orders/{orders[1]['id']}/tracking", json={"target": "order"}).raise_for_status()
        httpx.post(f"{control}/orders/{orders[2]['id']}/touch").raise_for_status()
        uninvoiced = next(o for o in orders if o["nota"] is None)
        httpx.post(f"{control}/orders/{uninvoiced['id']}/invoice").raise_for_status()
        httpx.post(f"{control}/orders", json={"count": 3, "situacao": 0}).raise_for_status()
        httpx.patch(f"{control}/faults", json={"force_429": 2}).raise_for_status()
        spent = first.issue_tokens(other)
        live = refresh(first, other.id, str(spent["refresh_token"])).json()
        revoked = first.issue_tokens(first.default_account)
        first.revoke(first.default_account)
        before = {a.id: truth(first, a.id) for a in first.state.all_accounts()}
        ids = [o["id"] for o in before[other.id]["orders"]["orders"]]

    with sandbox(path, orders=999, seed=1) as second:  # the file wins over the options
        assert second.restored == 2
        assert {a.id: truth(second, a.id) for a in second.state.all_accounts()} == before
        assert listing(second, str(live["access_token"])).status_code == 429  # the forced 429s were kept
        assert listing(second, str(revoked["access_token"])).status_code == 401
        assert listing(second, str(live["access_token"])).status_code == 429
        assert listing(second, str(live["access_token"])).json()["paginacao"]["total"] == len(ids)
        renewed = refresh(second, other.id, str(live["refresh_token"]))
        assert renewed.status_code == 200
        assert listing(second, renewed.json()["access_token"]).status_code == 200
        stale = refresh(second, other.id, str(spent["refresh_token"]))
        assert stale.json() == {"error": "invalid_grant", "error_description": "Stale token"}
        assert refresh(second, first.default_account.id, str(revoked["refresh_token"])).status_code == 400
        added = httpx.post(f"{second.base_url}/_sandbox/accounts/{other.id}/orders", json={"count": 2}).json()
        assert min(o["id"] for o in added["orders"]) > max(ids)
        assert second.create_account(orders=1).id == "conta-3"


def test_token_expiry_is_kept_and_the_clock_is_the_callers(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    with sandbox(path) as first:
        expired = first.issue_tokens()
        first.oauth.expire(first.default_account)
        tokens = first.issue_tokens()
    with sandbox(path) as second:
        assert listing(second, str(tokens["access_token"])).status_code == 200
        assert listing(second, str(expired["access_token"])).status_code == 401
        assert refresh(second, "default", str(expired["refresh_token"])).status_code == 200
        second.clock.advance(14_400)
        assert listing(second, str(tokens["access_token"])).status_code == 401


def test_the_file_is_private_replaced_whole_and_written_only_after_a_change(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    server = sandbox(path, orders=5)
    assert not path.exists() and server.restored == 0
    with server:
        assert path.exists()  # saved at start: the client_id is on disk before anyone can use it
        assert path.stat().st_mode & 0o777 == 0o600
        document = json.loads(path.read_text())
        assert (document["format"], document["version"]) == ("kanglu-sandbox-state", 1)
        assert server.state_file.save() is False
        server.issue_tokens()
        assert server.state_file.save() is True
        assert server.state_file.save() is False
        server.default_account.dataset.touch(server.default_account.dataset.orders[0], START + 1)
        assert server.state_file.save() is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sandbox.json"]


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read"),
    ('{"format": "something-else"}', "not a sandbox state file"),
    ('{"format": "kanglu-sandbox-state", "version": 99}', "version 99"),
    ('{"format": "kanglu-sandbox-state", "version": 1, "state": {}}', "delete it"),
])
def test_a_bad_file_is_refused_with_a_reason_and_left_alone(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "sandbox.json"
    path.write_text(content)
    with pytest.raises(StateFileError, match=message):
        sandbox(path)
    assert path.read_text() == content


@contextlib.contextmanager
def command(path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """`python -m kanglu.sandbox --state-file path`, its credentials line, and a kill at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kanglu.sandbox", "--port", "0", "--orders", "5", "--state-file", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        yield process, json.loads(process.stdout.readline())
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_the_command_comes_back_with_the_same_client_even_after_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    with command(path) as (process, creds):
        tokens = httpx.post(creds["api_url"].replace("/public-api/v3", "/_sandbox/accounts/default/tokens")).json()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "Estado restaurado" not in process.stderr.read()
    with command(path) as (process, again):
        assert (again["client_id"], again["client_secret"]) == (creds["client_id"], creds["client_secret"])
        answer = httpx.get(f"{again['api_url']}/pedidos", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert answer.status_code == 200 and answer.json()["paginacao"]["total"] == 5
        os.kill(process.pid, signal.SIGKILL)  # no goodbye: the save at start is what the next run finds
        process.wait(timeout=10)
        assert "Estado restaurado" in process.stderr.read()
    with command(path) as (process, third):
        assert third["client_id"] == creds["client_id"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
