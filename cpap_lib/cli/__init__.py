"""The ``cpap-lab`` command line.

Each subcommand lives in its own module under :mod:`cpap_lib.cli` and
exposes ``register(subparsers)``, which adds its parser and sets ``func`` (a
callable taking the parsed arguments and returning the exit status). Only the
module of the subcommand being run is imported, so ``cpap-lab serve`` does not
pay for scipy and ``cpap-lab analyze`` not for the dashboards.

Exit status: 0 success, 1 the work ran but something failed (a report, a
comparison), 2 bad input (a message on stderr names the file and reason),
141 the reader of stdout closed the pipe early (``| head``; nothing on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from ..errors import CpapError

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS = {
    "analyze": "analyse a recording (lab text file, ResMed EDF file or folder) or a whole card",
    "simulate": "write a simulated lab recording and its ground truth",
    "serve": "run the sleep-lab REST server",
    "demo": "run the server, simulated bedside devices and the dashboards: a living ward",
    "report": "batch reports (papermill): one HTML report per patient and an index.html",
    "compare": "compare our analysis with the device's own scoring (ResMed EDF)",
    "db": "database schema: upgrade to the newest revision, or show the current one",
}
"""Subcommands and their one-line help, in the order ``--help`` lists them (each module registers with it)."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (all of them when None)."""
    parser = argparse.ArgumentParser(
        prog="cpap-lab", description="Sleep-lab CPAP monitoring: analysis, server, dashboards, reports."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        if command in (None, name):
            importlib.import_module(f"cpap_lib.cli.{name}").register(sub)
        else:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``cpap-lab`` with ``argv``; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), "")
    parser = build_parser(command if command in COMMANDS else "")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # here, so a closed pipe is caught below and not at interpreter exit
        return status
    except CpapError as exc:
        print(f"cpap-lab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`cpap-lab analyze --json | head`): stop quietly
        _silence_stdout()
        return BROKEN_PIPE_STATUS


BROKEN_PIPE_STATUS = 141
"""Exit status when stdout's reader closed the pipe early: 128 + SIGPIPE, as a shell tool killed by it."""


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's final flush does not report the broken pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured): nothing left to flush
        pass
    finally:
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
