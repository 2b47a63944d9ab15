"""`kanglu demo` as a newcomer runs it: one process starts the sandbox, the web app and the
worker; the merchant connects (here through the JSON API and the sandbox's consent, as the
browser test does through the pages), orders arrive; Ctrl-C stops everything cleanly, and a
second run keeps the data and the connection."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.worker.harness import free_port, importable_ids, wait_until


class Demo:
    def __init__(self, data_dir: Path, log: Path, web_port: int, sandbox_port: int) -> None:
        self.web = f"http://127.0.0.1:{web_port}"
        self.sandbox = f"http://127.0.0.1:{sandbox_port}"
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("KANGLU_")}
        env.update({"KANGLU_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"})
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kanglu", "demo", "--port", str(web_port), "--sandbox-port", str(sandbox_port),
                 "--orders", "40", "--poll-interval", "2", "--activity-interval", "3600"],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text()

    def banner(self, label: str) -> str:
        match = wait_until(lambda: re.search(rf"{label}:\s+(\S+)", self.output()), timeout=60,
                           what=f"the demo banner's {label}")
        return match.group(1)

    def api(self, method: str, path: str, key: str, **kwargs: Any) -> Any:
        answer = httpx.request(method, f"{self.web}/api/v1{path}", headers={"Authorization": f"Bearer {key}"},
                               timeout=10, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def interrupt(self) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=15), time.monotonic() - started
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"the demo did not stop within 15 s of Ctrl-C:\n{self.output()[-3000:]}")


def test_demo_connects_imports_stops_and_keeps_its_data(tmp_path: Path) -> None:
    web_port, sandbox_port = free_port(), free_port()
    demo = Demo(tmp_path / "var", tmp_path / "demo-1.log", web_port, sandbox_port)
    try:
        client_id = demo.banner("Client ID")
        client_secret = demo.banner("Client Secret")
        invite_link = demo.banner("Link de Convite")
        api_key = demo.banner("Chave de API")
        key_file = tmp_path / "var" / "demo_merchant.json"
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"

        assert demo.api("GET", "/integrations/tiny", api_key)["status"] == "not_configured"
        demo.api("PUT", "/integrations/tiny", api_key,
                 json={"client_id": client_id, "client_secret": client_secret, "invite_link": invite_link})
        authorize_url = demo.api("POST", "/integrations/tiny/authorize", api_key)["authorize_url"]
        consent = httpx.post(f"{demo.sandbox}/_sandbox/consent", json={"authorize_url": authorize_url}, timeout=10)
        callback = consent.json()["location"]
        assert callback.startswith(f"{demo.web}/integrations/tiny/callback?")
        httpx.get(callback, timeout=10)  # the browser coming back, with no Kanglu session
        integration = demo.api("GET", "/integrations/tiny", api_key)
        assert integration["status"] == "connected" and integration["account_name"]

        truth = httpx.get(f"{demo.sandbox}/_sandbox/accounts/default/orders", timeout=10).json()["orders"]
        expected = len(importable_ids(truth))
        assert expected > 0
        wait_until(lambda: demo.api("GET", "/orders", api_key)["total"] >= expected, timeout=60,
                   what="the demo's worker to import the sandbox's orders")
        orders = demo.api("GET", "/orders", api_key, params={"per_page": 100})
        assert orders["total"] == expected
        assert any(o["tracking_status"] == "tracking" and o["carrier"] for o in orders["items"])
        assert demo.api("GET", "/customers", api_key)["total"] > 0
    finally:
        code, seconds = demo.interrupt()
    assert code == 0, demo.output()[-3000:]
    assert seconds < 10
    assert client_secret not in demo.output().split("Client Secret:")[-1].split("\n", 1)[1]  # only in the banner

    again = Demo(tmp_path / "var", tmp_path / "demo-2.log", web_port, sandbox_port)
    try:
        assert again.banner("Chave de API") == api_key
        assert again.banner("Client ID") == client_id  # the sandbox came back from its state file
        assert again.api("GET", "/integrations/tiny", api_key)["status"] == "connected"
        assert again.api("GET", "/orders", api_key)["total"] == expected
    finally:
        code, _ = again.interrupt()
    assert code == 0
