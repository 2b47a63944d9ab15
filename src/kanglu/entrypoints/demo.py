"""`kanglu demo`: the whole product on one machine — the Tiny sandbox, the web app and the
worker — on the embedded SQLite in the data folder. Ctrl-C stops everything; running it
again keeps the data (Kanglu's database and the sandbox's state file)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from kanglu.entrypoints.containers import Container
    from kanglu.entrypoints.settings import Settings

log = logging.getLogger(__name__)

DEMO_EMAIL = "demo@kanglu.com.br"
DEMO_NAME = "Loja Demonstração"


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _write_private(path: Path, data: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)


def _demo_merchant(container: Container, data_dir: Path) -> dict[str, Any]:
    """The demo merchant, created the first time. Its password and API key are kept in the
    data folder (mode 0600): the API key is stored hashed, so this file is the only way to
    show it again on the next run."""
    from kanglu.application.commands import CreateMerchantCommand
    from kanglu.domain.secrets import Secret

    path = data_dir / "demo_merchant.json"
    if path.exists():
        saved: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if container.adapters.merchant_queries().by_email(saved["email"]) is not None:
            return saved
    import secrets

    password = "demo-" + secrets.token_urlsafe(6)
    created = container.use_cases.create_merchant()(CreateMerchantCommand(DEMO_NAME, DEMO_EMAIL, Secret(password)))
    saved = {"id": created.merchant.id, "email": DEMO_EMAIL, "password": password, "api_key": created.api_key}
    _write_private(path, saved)
    return saved


def run_demo(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from kanglu.entrypoints.bootstrap import prepare_data_folder, prepare_database
    from kanglu.entrypoints.containers import build_container
    from kanglu.entrypoints.logging_setup import configure_logging
    from kanglu.entrypoints.settings import Settings
    from kanglu.entrypoints.web import create_app
    from kanglu.entrypoints.worker import build_worker
    from kanglu.sandbox.server import SandboxServer
    from kanglu.sandbox.statefile import StateFileError

    host = args.host
    for port, what in ((args.port, "web"), (args.sandbox_port, "sandbox")):
        if not _port_free(host, port):
            print(f"kanglu demo: a porta {port} ({what}) já está em uso; escolha outra com "
                  f"--{'port' if what == 'web' else 'sandbox-port'}", file=sys.stderr)
            return 2

    env = dict(os.environ)
    public_url = f"http://{host}:{args.port}"
    sandbox_url = f"http://{host}:{args.sandbox_port}"
    env.setdefault("KANGLU_PUBLIC_URL", public_url)
    env.setdefault("KANGLU_POLL_INTERVAL", str(args.poll_interval))
    # The sandbox's account holds 60 days of orders: the demo shows them all.
    env.setdefault("KANGLU_BACKFILL_DAYS", "90")
    env["KANGLU_TINY_API_URL"] = f"{sandbox_url}/public-api/v3"
    env["KANGLU_TINY_AUTH_URL"] = f"{sandbox_url}/realms/tiny/protocol/openid-connect"
    # The data folder first: the sandbox keeps its state there.
    settings = prepare_data_folder(Settings.from_env(env))
    if not settings.smtp_url:
        # No mail server: the alert e-mails the demo sends are printed on the console.
        settings = attrs.evolve(settings, console_mail=True)
    configure_logging(settings.log_format)

    state_file = settings.data_dir / "sandbox_state.json"
    # The sandbox's default plan on purpose: Tiny's smallest (30 reads a minute plus 4 a
    # second), where most merchants are; the demo's few hundred orders need about ten calls.
    try:
        sandbox = SandboxServer(
            host=host, port=args.sandbox_port, orders=args.orders, seed=7, malformed_rate=0.02,
            state_file=state_file, activity_interval=args.activity_interval,
            settings={"redirect_uri": settings.redirect_uri, "app_name": "Kanglu"},
        )
    except StateFileError as exc:
        aside = state_file.with_suffix(".unusable.json")
        state_file.replace(aside)
        print(f"kanglu demo: o estado do sandbox não pôde ser lido ({exc}); guardado em {aside}, "
              "começando um sandbox novo", file=sys.stderr)
        sandbox = SandboxServer(
            host=host, port=args.sandbox_port, orders=args.orders, seed=7, malformed_rate=0.02,
            state_file=state_file, activity_interval=args.activity_interval,
            settings={"redirect_uri": settings.redirect_uri, "app_name": "Kanglu"},
        )
    sandbox.start()

    container = build_container(settings)
    prepare_database(container)
    merchant = _demo_merchant(container, settings.data_dir)

    web = make_server(host, args.port, create_app(container), threaded=True)
    web_thread = threading.Thread(target=web.serve_forever, name="kanglu-web", daemon=True)
    web_thread.start()

    worker = build_worker(container, concurrency=4)
    worker_thread = threading.Thread(target=worker.run_forever, kwargs={"grace": 5.0}, name="kanglu-worker")
    worker_thread.start()

    credentials = sandbox.credentials()
    _banner(public_url, merchant, credentials, settings)

    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    stop.wait()
    print("\nEncerrando: worker, web e sandbox…", file=sys.stderr)
    worker.stop()
    worker_thread.join(8)
    web.shutdown()
    sandbox.stop()
    container.shutdown_resources()
    print("Tudo parado. Os dados ficam em " + str(settings.data_dir), file=sys.stderr)
    return 0


def _banner(public_url: str, merchant: dict[str, Any], credentials: dict[str, Any], settings: Settings) -> None:
    lines = [
        "",
        "Kanglu — demonstração rodando",
        "=" * 60,
        f"  Abra:                 {public_url}/",
        f"  E-mail:               {merchant['email']}",
        f"  Senha:                {merchant['password']}",
        f"  Chave de API:         {merchant['api_key']}",
        "",
        "  Em Integrações → Tiny, cole (conta do sandbox do Tiny):",
        f"  Client ID:            {credentials['client_id']}",
        f"  Client Secret:        {credentials['client_secret']}",
        f"  Link de Convite:      {credentials['invite_link']}",
        f"  URL de Redirecionamento (já registrada no sandbox): {settings.redirect_uri}",
        "",
        "  Depois clique em Conectar e autorize na página do Tiny (sandbox).",
        f"  Os pedidos chegam a cada {settings.poll_interval} s. Ctrl+C encerra; os dados ficam em "
        f"{settings.data_dir}.",
        "=" * 60,
        "",
    ]
    print("\n".join(lines), flush=True)
