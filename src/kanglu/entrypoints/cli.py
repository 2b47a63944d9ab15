"""The `kanglu` command line for operators.

Every command imports what it needs when it runs, so `kanglu --help` stays instant and a
command never pays for another's dependencies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _version(args: argparse.Namespace) -> int:
    from kanglu import __version__

    print(__version__)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kanglu",
        description="Kanglu's ERP integration: imports Tiny ERP orders and starts shipment tracking.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(handler=_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
