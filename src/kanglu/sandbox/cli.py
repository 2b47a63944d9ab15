"""`kanglu sandbox`: the Tiny sandbox alone, printing its credentials as one JSON line."""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kanglu.sandbox.accounts import DEFAULT_REDIRECT_URI, UPDATE_FILTER_TIME_REACTIONS, UPDATE_FILTERS
from kanglu.sandbox.limits import DEFAULT_BURST, DEFAULT_PLAN


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8900, help="port (default 8900; 0 picks a free one)")
    parser.add_argument("--public-url", help="base URL printed in links, when the sandbox sits behind a proxy")
    parser.add_argument("--orders", type=int, default=200, help="orders in the default account (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated dataset (default 1)")
    parser.add_argument("--malformed-rate", type=float, default=0.0,
                        help="share of orders Kanglu must refuse: bad CPF, access key or S10 code (default 0)")
    parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI,
                        help=f"the application's registered redirect URI (default {DEFAULT_REDIRECT_URI})")
    parser.add_argument("--client-id", help="fixed client_id for the default account (default: generated)")
    parser.add_argument("--client-secret", help="fixed client_secret for the default account (default: generated)")
    parser.add_argument("--app-name", default="Kanglu", help="application name on the consent page")
    parser.add_argument("--access-lifetime", type=int, default=14_400, help="access token seconds (default 14400)")
    parser.add_argument("--refresh-lifetime", type=int, default=86_400, help="refresh token seconds (default 86400)")
    parser.add_argument("--rate-limit", type=int, default=DEFAULT_PLAN,
                        help="API reads per minute per account: Tiny's plans are 30, 60, 120 and 140 "
                             f"(default {DEFAULT_PLAN}, the smallest); 0 = none")
    parser.add_argument("--burst", type=int, default=DEFAULT_BURST,
                        help=f"API calls per second per account on top (default {DEFAULT_BURST}); 0 = none")
    parser.add_argument("--headers-missing-rate", type=float, default=0.0,
                        help="share of answers without X-RateLimit-* headers (default 0)")
    parser.add_argument("--update-filter", choices=UPDATE_FILTERS, default="since_day",
                        help="what dataAtualizacao matches, which Tiny does not document: changed on or after that "
                             "day (since_day, default), that day only (day_only), on or after that moment "
                             "(since_moment)")
    parser.add_argument("--update-filter-time", choices=UPDATE_FILTER_TIME_REACTIONS, default="ignore",
                        help="under the day meanings, a time part in dataAtualizacao is ignored (default) or "
                             "refused with a 400 (reject)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added latency per API call in ms")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of API calls answering 500/503")
    parser.add_argument("--slow-rate", type=float, default=0.0, help="share of API calls delayed by --slow-seconds")
    parser.add_argument("--slow-seconds", type=float, default=30.0, help="delay of a slow answer (default 30)")
    parser.add_argument("--token-error-rate", type=float, default=0.0, help="share of token calls answering 500/503")
    parser.add_argument("--state-file", type=Path, metavar="PATH",
                        help="keep accounts, orders and tokens in this JSON file (mode 0600) across restarts: "
                             "restored at start when it exists (then the account options above are ignored), "
                             "saved every few seconds and on exit; delete it to start over")
    parser.add_argument("--simulate-activity", type=_positive, metavar="SECONDS",
                        help="every SECONDS, orders arrive in the default account (and in accounts with the "
                             "setting simulate) and move on: Aberta -> Preparando Envio -> Faturada -> "
                             "Pronto Envio -> Enviada -> Entregue, with invoices and tracking codes")


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def build_server(args: argparse.Namespace) -> Any:
    from kanglu.sandbox.server import SandboxServer

    return SandboxServer(
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        orders=args.orders,
        seed=args.seed,
        malformed_rate=args.malformed_rate,
        client_id=args.client_id,
        client_secret=args.client_secret,
        settings={
            "redirect_uri": args.redirect_uri,
            "app_name": args.app_name,
            "access_lifetime": args.access_lifetime,
            "refresh_lifetime": args.refresh_lifetime,
            "rate_limit": args.rate_limit,
            "burst": args.burst,
            "headers_missing_rate": args.headers_missing_rate,
            "update_filter": getattr(args, "update_filter", "since_day"),
            "update_filter_time": getattr(args, "update_filter_time", "ignore"),
        },
        faults={"latency_ms": args.latency_ms, "error_rate": args.error_rate, "slow_rate": args.slow_rate,
                "slow_seconds": args.slow_seconds},
        token_faults={"error_rate": args.token_error_rate},
        state_file=getattr(args, "state_file", None),
        activity_interval=getattr(args, "simulate_activity", None),
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; the first stdout line is the default account's credentials."""
    from kanglu.sandbox.statefile import StateFileError

    try:
        server = build_server(args).start()
    except StateFileError as exc:
        print(f"Não foi possível usar o arquivo de estado do sandbox: {exc}", file=sys.stderr, flush=True)
        return 2
    if server.restored:
        print(f"Estado restaurado de {args.state_file} ({server.restored} contas).", file=sys.stderr, flush=True)
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        credentials = server.credentials()
        print(json.dumps({k: credentials[k] for k in ("client_id", "client_secret", "api_url", "auth_url",
                                                     "redirect_uri", "invite_link", "account_id")}), flush=True)
        print(f"Tiny sandbox em {server.base_url} (controle em {server.base_url}/_sandbox). Ctrl+C para parar.",
              file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kanglu sandbox", description="The Tiny ERP sandbox (OAuth + API v3).")
    add_arguments(parser)
    return run(parser.parse_args(argv))
