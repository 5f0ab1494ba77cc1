"""``cpap-lab analyze FILE [--json]``: analyse one recording and print the summary.

The JSON form is a contract other tools depend on: one object with at least
``breath_count``, ``breath_rate_bpm``, ``apnea_count``, ``apneas`` (list of
``{"start_s", "end_s"}``), ``hypopnea_count``, ``duration_s``, ``samples`` and
``skipped_rows`` (see :meth:`cpap_lib.analysis.Analysis.to_dict`).
"""

from __future__ import annotations

import argparse
import json

from ..analysis import analyze_file
from .options import add_analysis_arguments, analysis_params

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyse a recording (lab text file, ResMed EDF file or folder)")
    p.add_argument("file", help="recording: lab .txt, ResMed *_BRP.edf, a DATALOG/<date> folder or the card root")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    add_analysis_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = analyze_file(args.file, method=args.method, **analysis_params(args))
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print(result.summary())
    return 0
