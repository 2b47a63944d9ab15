"""`python -m kanglu.sandbox` prints one JSON line of credentials, serves, and stops cleanly."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys

import httpx
import pytest

from kanglu.sandbox import cli


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_command_prints_credentials_serves_and_exits_zero(stop_signal) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kanglu.sandbox", "--port", "0", "--orders", "7", "--seed", "3",
         "--redirect-uri", "http://127.0.0.1:8123/integrations/tiny/callback", "--rate-limit", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        creds = json.loads(line)
        assert set(creds) >= {"client_id", "client_secret", "api_url", "auth_url", "redirect_uri", "invite_link"}
        assert creds["redirect_uri"] == "http://127.0.0.1:8123/integrations/tiny/callback"
        assert creds["auth_url"].endswith("/realms/tiny/protocol/openid-connect")
        assert creds["api_url"].endswith("/public-api/v3")
        base = creds["api_url"].removesuffix("/public-api/v3")
        assert creds["invite_link"].startswith(base + "/convite/")
        tokens = httpx.post(f"{base}/_sandbox/accounts/default/tokens").json()
        page = httpx.get(f"{creds['api_url']}/pedidos", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert page.json()["paginacao"]["total"] == 7
        assert page.headers["x-ratelimit-limit"] == "60"
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()


def test_arguments_have_the_documented_defaults() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args([])
    assert args.redirect_uri == "http://127.0.0.1:8000/integrations/tiny/callback"
    assert (args.rate_limit, args.burst, args.access_lifetime, args.refresh_lifetime) == (30, 4, 14_400, 86_400)
    assert (args.latency_ms, args.error_rate, args.malformed_rate) == (0, 0, 0)
    server = cli.build_server(parser.parse_args(["--latency-ms", "50", "--error-rate", "0.1", "--burst", "2"]))
    assert server.state.default_faults["api"].latency_ms == 50
    assert server.state.default_faults["api"].error_rate == 0.1
    assert server.state.defaults.burst == 2


def test_the_update_filter_meaning_is_a_start_option() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    defaults = cli.build_server(parser.parse_args([])).state.defaults
    assert (defaults.update_filter, defaults.update_filter_time) == ("since_day", "ignore")
    chosen = cli.build_server(parser.parse_args(["--update-filter", "day_only", "--update-filter-time", "reject"]))
    assert (chosen.state.defaults.update_filter, chosen.state.defaults.update_filter_time) == ("day_only", "reject")
    with pytest.raises(SystemExit):
        parser.parse_args(["--update-filter", "weekly"])
