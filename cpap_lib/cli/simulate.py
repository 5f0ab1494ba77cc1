"""``cpap-lab simulate OUT --seed N --minutes M [...]``: write a simulated recording and its truth.

Writes ``OUT`` in the lab's text format and ``<stem>.truth.json`` next to it
(see :mod:`cpap_lib.sim`), then prints one line saying what it wrote.
Bad parameters raise :class:`~cpap_lib.errors.ParameterError` (exit status 2).

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
>>> args = sub.choices["simulate"].parse_args(["night.txt", "--seed", "3", "--minutes", "10", "--apneas", "2"])
>>> args.seed, args.minutes, args.apneas, args.rate
(3, 10.0, 2, 15.0)
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..sim.simulator import SimParams, range_text
from . import COMMANDS

__all__ = ["register", "run"]


def _dest(name: str) -> str:
    """The attribute of the parsed arguments for :class:`~cpap_lib.sim.SimParams` field ``name`` (``--rate``: rate)."""
    return SimParams.__dataclass_fields__[name].metadata["option"].lstrip("-").replace("-", "_")


def _params(args: argparse.Namespace) -> dict:
    """The :func:`~cpap_lib.sim.simulate_recording` arguments given on the command line."""
    return {f.name: getattr(args, _dest(f.name)) for f in fields(SimParams) if f.metadata["option"]}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help=COMMANDS["simulate"],
        description="Write a simulated 100 Hz lab recording (OUT) and its ground truth (OUT's stem + .truth.json).",
    )
    parser.add_argument("out", metavar="OUT", help="lab text file to write (its truth goes next to it)")
    for f in fields(SimParams):  # one option per field that has one, from the simulator's parameter table
        meta = f.metadata
        if meta["option"] is None:
            continue  # not on the command line: the simulator's default
        if f.default is MISSING:
            given: dict[str, Any] = {"required": True, "help": f"{meta['doc']} (required)"}
        else:
            given = {"default": f.default, "help": f"{meta['doc']}; {range_text(f.name)} (default {f.default:g})"}
        given["help"] = given["help"].replace("%", "%%")  # argparse formats help with %
        parser.add_argument(
            meta["option"], dest=_dest(f.name), type=int if meta["whole"] else float, metavar=meta["metavar"], **given
        )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Simulate, write OUT and its truth, print one line; return 0."""
    from ..sim import simulate_recording

    out = Path(args.out)
    if out.is_dir():
        raise ParameterError("OUT", f"{out} is a directory; give a file name such as {out / 'night.txt'}")
    if not out.parent.is_dir():
        raise ParameterError("OUT", f"folder {out.parent} does not exist")
    try:
        sim = simulate_recording(**_params(args))
    except ParameterError as exc:  # name the option the user typed, not the Python argument
        field_ = SimParams.__dataclass_fields__.get(exc.name)
        option = field_.metadata["option"] if field_ and field_.metadata["option"] else exc.name
        raise ParameterError(option, exc.message) from None
    truth_path = sim.write(out)
    t = sim.truth
    print(
        f"wrote {out} ({t.samples} rows, {t.duration_s / 60:g} min, {t.breath_count} breaths at "
        f"{t.breath_rate_bpm:.1f} bpm, {len(t.apneas)} apneas, {len(t.hypopneas)} hypopneas, "
        f"{len(t.pauses)} pauses, {t.skipped_rows} malformed rows) and {truth_path}"
    )
    return 0
