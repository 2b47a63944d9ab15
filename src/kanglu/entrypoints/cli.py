"""The `kanglu` command line for operators.

Every command imports what it needs when it runs, so `kanglu --help` stays instant and a
command never pays for another's dependencies.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

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


def _prepared(args: argparse.Namespace) -> Container:
    """The container, its database ready as the web app's: the embedded SQLite is created or
    upgraded; a PostgreSQL behind the code is reported (`kanglu db upgrade`)."""
    from kanglu.entrypoints.bootstrap import prepare_database

    container = _container(args)
    prepare_database(container)
    return container


def _merchant_create(args: argparse.Namespace) -> int:
    from kanglu.application.commands import CreateMerchantCommand
    from kanglu.application.errors import InvalidInput
    from kanglu.domain.secrets import Secret

    container = _prepared(args)
    command = CreateMerchantCommand(
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


def _merchant_rotate_key(args: argparse.Namespace) -> int:
    from kanglu.application.commands import RotateApiKeyCommand
    from kanglu.application.errors import NotFound

    container = _prepared(args)
    try:
        rotated = container.use_cases.rotate_api_key()(RotateApiKeyCommand(email=args.email))
    except NotFound:
        print(f"kanglu: no merchant with the e-mail {args.email!r}", file=sys.stderr)
        return 2
    # The new key is shown this once; every older key of the merchant stopped working.
    print(json.dumps({"id": rotated.merchant_id, "api_key": rotated.api_key}))
    return 0


def _web(args: argparse.Namespace) -> int:
    from werkzeug.serving import run_simple

    from kanglu.entrypoints.bootstrap import prepare_database
    from kanglu.entrypoints.logging_setup import configure_logging
    from kanglu.entrypoints.web import create_app

    container = _container(args)
    settings = container.settings()
    configure_logging(settings.log_format)
    prepare_database(container)
    app = create_app(container)
    # werkzeug's threaded server: enough for the demo and a handful of merchants. Production:
    #   gunicorn --workers 4 --bind 0.0.0.0:8000 'kanglu.entrypoints.web:create_app()'
    print(f"Kanglu web em http://{args.host}:{args.port} (Ctrl+C para parar)", file=sys.stderr)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False, use_debugger=False)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from kanglu.adapters.sql.schema import upgrade_to_head

    settings = _container(args).settings()
    revision = upgrade_to_head(settings.database_url)
    print(json.dumps({"database": settings.safe_database_url, "revision": revision}))
    return 0


def _keys_rotate(args: argparse.Namespace) -> int:
    import attrs
    from dependency_injector import providers

    from kanglu.adapters.crypto import SecretDecryptionError, add_newest_key
    from kanglu.adapters.sql.schema import upgrade_embedded_if_behind

    container = _container(args)
    settings = container.settings()
    if settings.is_sqlite:
        # Through its own engine, closed at once: no pooled connection may keep the WAL from
        # being checkpointed, or old ciphertexts would linger in the file after the rotation.
        upgrade_embedded_if_behind(settings.database_url)
    if args.new_key:
        if settings.encryption_keys_file is None:
            print("KANGLU_ENCRYPTION_KEYS is set: put the new key first there, then run `kanglu keys rotate`",
                  file=sys.stderr)
            return 2
        keys = add_newest_key(settings.encryption_keys_file, settings.encryption_keys)
        # Nothing is built yet: the secret box (and all else) is built with the new key first.
        container.settings.override(providers.Object(attrs.evolve(settings, encryption_keys=keys)))
    try:
        report = container.adapters.rotate_secrets(batch_size=args.batch_size)
    except SecretDecryptionError:
        print("a stored secret opens with none of the configured keys: keep every key in use until "
              "the rotation completes", file=sys.stderr)
        return 1
    finally:
        container.shutdown_resources()  # the engine disposed: the WAL checkpointed
    print(json.dumps({"rows": report.rows, "secrets": report.secrets,
                      "keys_configured": len(container.settings().encryption_keys),
                      "note": "every secret is now sealed with the first key; the others may be dropped"}))
    return 0


def _worker(args: argparse.Namespace) -> int:
    from kanglu.entrypoints.containers import build_container
    from kanglu.entrypoints.logging_setup import configure_logging
    from kanglu.entrypoints.settings import Settings
    from kanglu.entrypoints.worker import run_worker, settings_for_worker

    container = getattr(args, "container", None)
    if container is None:
        settings = Settings.from_env()
        configure_logging(settings.log_format)
        container = build_container(settings_for_worker(settings, args.concurrency))
    else:
        configure_logging(container.settings().log_format)
    return run_worker(container, once=args.once, concurrency=args.concurrency)


def _sandbox(args: argparse.Namespace) -> int:
    from kanglu.sandbox.cli import run

    return run(args)


def _demo(args: argparse.Namespace) -> int:
    from kanglu.entrypoints.demo import run_demo

    return run_demo(args)


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
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
    rotate_key = merchant_commands.add_parser(
        "rotate-key",
        help='a new API key for the merchant, the old ones revoked; prints {"id": ..., "api_key": ...} once',
    )
    rotate_key.add_argument("--email", required=True, help="the merchant's e-mail")
    rotate_key.set_defaults(handler=_merchant_rotate_key)

    web = commands.add_parser("web", help="serve the merchants' web app and the JSON API")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    web.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    web.set_defaults(handler=_web)

    db = commands.add_parser("db", help="the database schema").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="create or migrate the schema (Alembic) to the newest revision")
    upgrade.set_defaults(handler=_db_upgrade)

    keys = commands.add_parser("keys", help="encryption keys of secrets at rest").add_subparsers(
        dest="keys_command", required=True
    )
    rotate = keys.add_parser(
        "rotate",
        help="re-encrypt every stored secret with the first key of KANGLU_ENCRYPTION_KEYS",
        description="Put a new key first in KANGLU_ENCRYPTION_KEYS (or use --new-key with the generated "
        "keys file of the embedded default), run this, then drop the old keys.",
    )
    rotate.add_argument("--new-key", action="store_true",
                        help="generate a key and put it first in the data folder's keys file before rotating")
    rotate.add_argument("--batch-size", type=int, default=200, help="rows per transaction (default 200)")
    rotate.set_defaults(handler=_keys_rotate)

    worker = commands.add_parser("worker", help="renew tokens, poll Tiny, deliver tracking requests")
    worker.add_argument("--once", action="store_true", help="run every job that is due once, then exit")
    worker.add_argument("--concurrency", type=int, default=8, help="jobs run at the same time (default 8)")
    worker.set_defaults(handler=_worker)

    demo = commands.add_parser("demo", help="the whole system on this machine: Tiny sandbox, web and worker")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="web port (default 8000)")
    demo.add_argument("--sandbox-port", type=int, default=8900, help="Tiny sandbox port (default 8900)")
    demo.add_argument("--orders", type=int, default=300, help="orders in the sandbox's Tiny account (default 300)")
    demo.add_argument("--poll-interval", type=int, default=15,
                      help="seconds between polls unless KANGLU_POLL_INTERVAL says otherwise (default 15)")
    demo.add_argument("--activity-interval", type=float, default=10.0,
                      help="seconds between simulated sales and status changes in the sandbox (default 10)")
    demo.set_defaults(handler=_demo)

    sandbox = commands.add_parser("sandbox", help="the Tiny sandbox alone (an HTTP double of Tiny)")
    if list(argv[:1]) == ["sandbox"]:
        # Its options' defaults come from the sandbox's modules, ~50 ms of imports that every
        # other command (each `kanglu worker` start) would pay for nothing.
        from kanglu.sandbox.cli import add_arguments as add_sandbox_arguments

        add_sandbox_arguments(sandbox)
    sandbox.set_defaults(handler=_sandbox)
    return parser


def main(argv: Sequence[str] | None = None, *, container: Container | None = None) -> int:
    """`container` lets tests (and `kanglu demo`) run a command on a container they built."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(argv).parse_args(argv)
    args.container = container
    from sqlalchemy.exc import SQLAlchemyError

    from kanglu.application.errors import TransientFailure

    try:
        return int(args.handler(args))
    except (SQLAlchemyError, TransientFailure) as exc:
        # What the database said, in one line, without a traceback or the statement's values.
        detail = getattr(exc, "orig", None) or exc
        print(f"kanglu: database error: {type(detail).__name__}: {str(detail).splitlines()[0] if str(detail) else ''}",
              file=sys.stderr)
        return 1
    except OSError as exc:  # a data folder or database file that cannot be created or opened
        print(f"kanglu: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
