"""The `kanglu` command line for operators.

Every command imports what it needs when it runs, so `kanglu --help` stays instant and a
command never pays for another's dependencies.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kanglu.entrypoints.containers import Container


def _version(args: argparse.Namespace) -> int:
    from kanglu import __version__

    print(__version__)
    return 0


def _container(args: argparse.Namespace) -> Container:
    container: Container | None = getattr(args, "container", None)
    if container is None:
        from kanglu.entrypoints.containers import build_container

        container = build_container()
    return container


def _merchant_create(args: argparse.Namespace) -> int:
    from kanglu.application.commands import CreateMerchant
    from kanglu.application.errors import InvalidInput
    from kanglu.domain.secrets import Secret

    container = _container(args)
    command = CreateMerchant(
        name=args.name, email=args.email, password=Secret(args.password) if args.password is not None else None
    )
    try:
        created = container.use_cases.create_merchant()(command)
    except InvalidInput as exc:
        for field, message in exc.field_errors.items():
            print(f"kanglu: {field}: {message}", file=sys.stderr)
        return 2
    # The key is shown this once; only its hash is stored.
    print(json.dumps({"id": created.merchant.id, "api_key": created.api_key}))
    return 0


def _web(args: argparse.Namespace) -> int:
    from werkzeug.serving import run_simple

    from kanglu.entrypoints.logging_setup import configure_logging
    from kanglu.entrypoints.web import create_app

    container = _container(args)
    settings = container.settings()
    configure_logging(settings.log_format)
    app = create_app(container)
    # werkzeug's threaded server: enough for the demo and a handful of merchants. Production:
    #   gunicorn --workers 4 --bind 0.0.0.0:8000 'kanglu.entrypoints.web:create_app()'
    print(f"Kanglu web em http://{args.host}:{args.port} (Ctrl+C para parar)", file=sys.stderr)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False, use_debugger=False)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kanglu",
        description="Kanglu's ERP integration: imports Tiny ERP orders and starts shipment tracking.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(handler=_version)

    merchant = commands.add_parser("merchant", help="manage merchants")
    merchant_commands = merchant.add_subparsers(dest="merchant_command", metavar="ACTION", required=True)
    create = merchant_commands.add_parser(
        "create", help='create a merchant; prints {"id": ..., "api_key": ...} (the key is shown only once)'
    )
    create.add_argument("--name", required=True, help="the shop's name")
    create.add_argument("--email", required=True, help="the e-mail the merchant logs in with")
    create.add_argument("--password", help="the web password (at least 8 characters); without it, API only")
    create.set_defaults(handler=_merchant_create)

    web = commands.add_parser("web", help="serve the merchants' web app and the JSON API")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    web.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    web.set_defaults(handler=_web)
    return parser


def main(argv: Sequence[str] | None = None, *, container: Any = None) -> int:
    """`container` lets tests (and `kanglu demo`) run a command on a container they built."""
    args = _parser().parse_args(argv)
    args.container = container
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
