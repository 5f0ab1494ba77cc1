"""``cpap-lab compare PATH [--json] [--night DAY] [--figure FILE]``: our analysis against the device's own scoring.

``PATH`` is a ResMed ``*_BRP.edf`` file (one session), a ``DATALOG/<date>``
folder (every session and the night) or an SD-card root: every night, with
our AHI against the device's (EVE and STR.edf), event-by-event sensitivity /
PPV / F1, breath-rate and tidal-volume agreement, and across nights the bias
and limits of agreement of the AHI (:mod:`cpap_lib.analysis.card_compare`);
``--figure ba.png`` also writes the Bland-Altman plot.  ``--night DAY`` on a
card compares that night in detail.  ``--json`` prints the ``to_dict()`` of
the result; for a session or night with ISO 8601 clock times in the lab's zone
added (``start_clock``, ``time_zone``; ``start_clock`` / ``end_clock`` on each
device event: :mod:`cpap_lib.cli.clock_fields`). Clock times are the device's
own clock, read as the lab's (``CPAP_LAB_TZ``).

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
>>> args = sub.choices["compare"].parse_args(["DATALOG/20241017", "--json", "--min-event-s", "9.5"])
>>> args.json, args.tolerance, args.min_event_s, args.apnea_drop, args.night
(True, 5.0, 9.5, None, None)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..analysis.compare import RATE_WINDOW_S, TOLERANCE_S, Comparison, compare, compare_path
from ..clock import LAB_TZ_ENV
from ..errors import ParameterError
from . import COMMANDS
from .clock_fields import add_comparison_clock_fields
from .options import add_analysis_arguments, analysis_params

if TYPE_CHECKING:
    from ..analysis.card_compare import CardComparison

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    p = sub.add_parser(
        "compare",
        help=COMMANDS["compare"],
        description="Compare our breath rate, tidal volume, events and AHI with a ResMed device's own, "
        "for a session, a night or every night of a card. Times are clock times (the device's clock, read in "
        f"the lab's time zone ${LAB_TZ_ENV}); --json adds them as ISO 8601 with the zone's offset (start_clock, "
        "end_clock) beside the seconds.",
    )
    p.add_argument("path", metavar="PATH", help="*_BRP.edf file, DATALOG/<date> folder or SD-card root")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.add_argument("--night", metavar="DAY", help="on a card: compare this night in detail (2024-10-17 or 20241017)")
    p.add_argument("--figure", metavar="FILE", help="on a card: write the AHI Bland-Altman figure (png, svg, pdf)")
    p.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE_S,
        metavar="S",
        help=f"event-matching tolerance, seconds (default {TOLERANCE_S:g})",
    )
    p.add_argument(
        "--rate-window",
        type=float,
        default=RATE_WINDOW_S,
        metavar="S",
        help=f"trailing window for our rate and volume, seconds (default {RATE_WINDOW_S:g})",
    )
    add_analysis_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compare, print the summary or JSON; return 0."""
    from ..io.resmed import is_card_root, read_card

    settings = dict(
        method=args.method, tolerance_s=args.tolerance, rate_window_s=args.rate_window, **analysis_params(args)
    )
    path = Path(args.path)
    card = path.is_dir() and is_card_root(path)
    if (args.night or args.figure) and not card:
        raise ParameterError("night" if args.night else "figure", f"applies to an SD-card root; {path} is not one")
    result: Comparison | CardComparison
    if card and args.night:
        result = compare(read_card(path).night(args.night), **settings)
    elif card:
        from ..analysis.card_compare import compare_card

        card_result = compare_card(path, **settings)
        if args.figure:
            card_result.figure("eve").savefig(args.figure)
        result = card_result
    else:
        result = compare_path(path, **settings)
    if args.json:
        shown = result.to_dict()
        if isinstance(result, Comparison):
            add_comparison_clock_fields(shown)
        print(json.dumps(shown, allow_nan=False))
    else:
        print(result.summary())
    return 0
