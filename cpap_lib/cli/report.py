"""``cpap-lab report``: one HTML report per patient, plus ``index.html``.

Exit status: 0 if every report succeeded, 1 if any failed (the others are
still written, failures are listed in ``index.html`` and on stderr), 2 for
bad arguments (no inputs, a missing file, an unmatched glob).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="cpap-lab"); sub = parser.add_subparsers()
>>> register(sub)
>>> args = parser.parse_args(["report", "a.txt", "night/*.txt", "--out", "reports", "--workers", "2"])
>>> args.inputs, args.out, args.workers, args.scheduler
(['a.txt', 'night/*.txt'], 'reports', 2, None)
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import ParameterError
from ..reports.subjects import TOKEN_ENV
from . import COMMANDS

__all__ = ["register", "run", "parse_params"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help=COMMANDS["report"],
        description="Run cpap_lib/notebooks/batch_report.ipynb for every recording (files, folders or globs) or every room "
        "of a server; write OUT/index.html, OUT/reports/*.html and the executed notebooks.",
    )
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="recording files, folders or globs (quote globs)")
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder: new, empty, or written by an earlier report run (only its outputs are replaced)",
    )
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="reports run in parallel (processes)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask distributed cluster (tcp://host:8786)")
    parser.add_argument("--server", metavar="URL", help="report on the server's patients (with --all-rooms or --room)")
    parser.add_argument("--all-rooms", action="store_true", help="every room of --server that has a patient")
    parser.add_argument(
        "--room", action="append", type=int, default=[], metavar="ROOM", help="a room of --server (repeatable)"
    )
    parser.add_argument(
        "--night",
        metavar="YYYY-MM-DD",
        help="the night to report for --server patients (the evening's date, lab time; default: latest)",
    )
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV, ""), help=f"API token (default: ${TOKEN_ENV})")
    parser.add_argument("--method", choices=("amplitude", "gap"), default="amplitude", help="apnea rule")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="analysis parameter, e.g. --param threshold=0.2 (see cpap-lab analyze --help)",
    )
    parser.add_argument(
        "--notebook", help="report notebook (default: cpap_lib/notebooks/batch_report.ipynb, shipped in the package)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def parse_params(items: list[str]) -> dict[str, float]:
    """``["threshold=0.2"]`` -> ``{"threshold": 0.2}``.

    >>> parse_params(["threshold=0.2", "min_event_s=8"])
    {'threshold': 0.2, 'min_event_s': 8.0}
    >>> parse_params(["threshold"])
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: --param: expected NAME=VALUE with a number, got 'threshold'
    """
    params = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            params[name.strip().replace("-", "_")] = float(value)
        except ValueError:
            raise ParameterError("--param", f"expected NAME=VALUE with a number, got {item!r}") from None
        if not name.strip():
            raise ParameterError("--param", f"expected NAME=VALUE with a number, got {item!r}")
    return params


def run(args: argparse.Namespace) -> int:
    """Run the batch; return 0 if all reports succeeded, 1 otherwise."""
    from ..reports import DEFAULT_NOTEBOOK, run_reports

    if args.server and not (args.all_rooms or args.room):
        raise ParameterError("--server", "give --all-rooms or --room ROOM")
    if (args.all_rooms or args.room) and not args.server:
        raise ParameterError("--all-rooms", "needs --server URL")
    if not args.inputs and not args.server:
        raise ParameterError("INPUT", "give recording files or globs, or --server URL --all-rooms")
    batch = run_reports(
        args.inputs,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        method=args.method,
        params=parse_params(args.param),
        server_url=args.server,
        token=args.token,
        rooms=None if args.all_rooms else args.room,
        night=args.night,
        notebook=args.notebook or DEFAULT_NOTEBOOK,
        progress=False if args.no_progress else None,
    )
    print(
        f"{len(batch.results)} reports, {len(batch.succeeded)} succeeded, {len(batch.failed)} failed "
        f"in {batch.seconds:.1f} s: {batch.index_html}"
    )
    for result in batch.failed:
        print(
            f"cpap-lab report: {result.name} failed: {result.error} (partial notebook: "
            f"{batch.out_dir / result.notebook})",
            file=sys.stderr,
        )
    return batch.exit_status
