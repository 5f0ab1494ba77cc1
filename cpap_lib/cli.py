"""The ``cpap-lab`` command line.

Each subcommand lives in its own module under :mod:`cpap_lib.commands` and
exposes ``register(subparsers)``, which adds its parser and sets ``func`` (a
callable taking the parsed arguments and returning the exit status).

Exit status: 0 success, 1 the work ran but something failed (a report, a
comparison), 2 bad input (a message on stderr names the file and reason).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import CpapError

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS = ("analyze", "simulate", "serve", "demo", "report", "compare")
"""Subcommand modules, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every subcommand whose module is present."""
    parser = argparse.ArgumentParser(
        prog="cpap-lab", description="Sleep-lab CPAP monitoring: analysis, server, dashboards, reports."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"cpap_lib.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"cpap_lib.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``cpap-lab`` with ``argv``; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except CpapError as exc:
        print(f"cpap-lab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
