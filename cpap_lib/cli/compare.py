"""``cpap-lab compare PATH [--json]``: our analysis against the device's own scoring.

``PATH`` is a ResMed ``*_BRP.edf`` file (one session), a ``DATALOG/<date>``
folder or a one-night SD-card root (every session and the night).  Prints the
breath-rate and tidal-volume agreement with the device's trend channels and
the sensitivity / PPV of our events against the device's events (see
:mod:`cpap_lib.analysis.compare`); ``--json`` prints :meth:`Comparison.to_dict`.

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
>>> args = sub.choices["compare"].parse_args(["DATALOG/20241017", "--json", "--min-event-s", "9.5"])
>>> args.json, args.tolerance, args.min_event_s, args.apnea_drop
(True, 5.0, 9.5, None)
"""

from __future__ import annotations

import argparse
import json

from ..analysis.compare import RATE_WINDOW_S, TOLERANCE_S, compare_path
from .options import add_analysis_arguments, analysis_params

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    p = sub.add_parser(
        "compare",
        help="compare our analysis with the device's own scoring (ResMed EDF)",
        description="Compare our breath rate, tidal volume and events with a ResMed device's own trends and events.",
    )
    p.add_argument("path", metavar="PATH", help="*_BRP.edf file, DATALOG/<date> folder or SD-card root")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.add_argument("--tolerance", type=float, default=TOLERANCE_S, metavar="S",
                   help=f"event-matching tolerance, seconds (default {TOLERANCE_S:g})")
    p.add_argument("--rate-window", type=float, default=RATE_WINDOW_S, metavar="S",
                   help=f"trailing window for our rate and volume, seconds (default {RATE_WINDOW_S:g})")
    add_analysis_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compare, print the summary or JSON; return 0."""
    result = compare_path(
        args.path, method=args.method, tolerance_s=args.tolerance, rate_window_s=args.rate_window, **analysis_params(args)
    )
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print(result.summary())
    return 0
