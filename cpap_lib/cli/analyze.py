"""``cpap-lab analyze PATH [--json] [--night DAY]``: analyse a recording, or every night of a card.

For one recording (lab text file, ``*_BRP.edf``, ``DATALOG/<date>`` folder)
the JSON form is a contract other tools depend on: one object with at least
``breath_count``, ``breath_rate_bpm``, ``apnea_count``, ``apneas`` (list of
``{"start_s", "end_s"}``), ``hypopnea_count``, ``duration_s``, ``samples`` and
``skipped_rows`` (see :meth:`cpap_lib.analysis.Analysis.to_dict`); for device
data also ``notes`` (sessions skipped, and why). Times stay numeric seconds in
the recording's own time base; where the recording says when it began the
object adds ISO 8601 clock times in the lab's zone (``start_clock``,
``time_zone``, and ``start_clock`` / ``end_clock`` on each apnea and
hypopnea: :mod:`cpap_lib.cli.clock_fields`). The text form prints clock
times (``22:41:07``, lab zone ``CPAP_LAB_TZ``) with the time since the start,
or only the time since the start when the clock is not known.

For a ResMed SD-card root it prints one row per night (see
:mod:`cpap_lib.analysis.card`), ``--json`` a list of those rows;
``--night 2024-10-17`` (a sleep day, or a ``DATALOG`` folder name) analyses
that one night as a single recording.

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
>>> args = sub.choices["analyze"].parse_args(["CARD", "--night", "2024-10-17", "--json"])
>>> args.night, args.json
('2024-10-17', True)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..clock import LAB_TZ_ENV
from ..errors import DeviceDataError, ParameterError
from . import COMMANDS
from .clock_fields import add_clock_fields
from .options import add_analysis_arguments, analysis_params

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help=COMMANDS["analyze"],
        description="Analyse a recording: breaths, apneas, hypopneas and the AHI. Times are clock times in the "
        f"lab's time zone (${LAB_TZ_ENV}, an IANA name; default: this machine's zone), e.g. 22:41:07 with the time "
        "since the start, where the recording says when it began (ResMed files do; the lab's text files do not: "
        "then only the time since the start).",
    )
    p.add_argument("file", help="lab .txt, ResMed *_BRP.edf, a DATALOG/<date> folder, or an SD-card root (every night)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON (one object; for a card, a list of nights): times in seconds (start_s, end_s) and, "
        "where the start is known, ISO 8601 clock times with the lab zone's offset (start_clock, end_clock)",
    )
    p.add_argument("--night", metavar="DAY", help="on a card: analyse this night only (2024-10-17, or 20241017)")
    add_analysis_arguments(p)
    p.set_defaults(func=run)


def _print_one(result, args: argparse.Namespace, extra: dict | None = None) -> None:
    d = result.to_dict()
    notes = list(result.recording.meta.get("notes", []))
    if result.recording.meta.get("format") == "resmed-edf":
        d["notes"] = notes
    if extra:
        d.update(extra)
    add_clock_fields(d, result.recording.start_time)
    if args.json:
        print(json.dumps(d, allow_nan=False))
        return
    print(result.summary())
    for note in notes:
        print(f"  note: {note}")


def _summary_only_days(card, rows) -> str:
    """A line on the days STR.edf says the device was used that have no flow data on the card."""
    try:
        table = card.summary()
    except DeviceDataError:  # the summary is an extra; an unreadable STR.edf is not this command's failure
        return ""
    if table is None:
        return ""
    days = sorted(set(d.isoformat() for d in table.index) - {r.night for r in rows})
    if not days:
        return ""
    return (
        f"STR.edf: {len(days)} more day{'s' if len(days) != 1 else ''} of use without flow data on the card "
        f"({days[0]} to {days[-1]}; summary only)"
    )


def run(args: argparse.Namespace) -> int:
    from ..analysis import analyze, analyze_file
    from ..io.resmed import is_card_root, read_card

    params = analysis_params(args)
    path = Path(args.file)
    if not (path.is_dir() and is_card_root(path)):
        if args.night:
            raise ParameterError("night", f"--night picks a night on an SD card; {path} is not a card root")
        _print_one(analyze_file(path, method=args.method, **params), args)
        return 0
    card = read_card(path)
    if args.night:
        night = card.night(args.night)
        result = analyze(night.recording, method=args.method, **params)
        _print_one(result, args, {"night": night.day.isoformat(), "device_summary": night.summary})
        return 0
    from ..analysis.card import analyze_card, format_rows

    rows = analyze_card(card, method=args.method, **params)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], allow_nan=False))
    else:
        name = card.identification.get("product_name", "ResMed card")
        print(f"{path}: {name}, {len(rows)} night{'s' if len(rows) != 1 else ''}")
        print(format_rows(rows))
        extra = _summary_only_days(card, rows)
        if extra:
            print(extra)
    return 0
