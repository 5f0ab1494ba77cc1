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
from pathlib import Path

from ..errors import ParameterError

__all__ = ["register", "run"]

_OPTION_OF = {
    "seed": "--seed", "minutes": "--minutes", "rate_bpm": "--rate", "apneas": "--apneas",
    "hypopneas": "--hypopneas", "pauses": "--pauses", "leak_lps": "--leak", "noise_counts": "--noise",
    "tidal_volume_l": "--tidal-volume", "fs_hz": "--fs", "malformed_rows": "--malformed",
}
"""The command-line option of each :func:`~cpap_lib.sim.simulate_recording` argument."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="write a simulated lab recording and its ground truth",
        description="Write a simulated 100 Hz lab recording (OUT) and its ground truth (OUT's stem + .truth.json).",
    )
    parser.add_argument("out", metavar="OUT", help="lab text file to write (its truth goes next to it)")
    parser.add_argument("--seed", type=int, required=True, help="random seed (same seed, same bytes)")
    parser.add_argument("--minutes", type=float, required=True, help="length of the recording, minutes")
    parser.add_argument("--rate", type=float, default=15.0, metavar="BPM", help="mean breath rate, breaths/min (default 15)")
    parser.add_argument("--apneas", type=int, default=0, metavar="K", help="apneas, 12-40 s each (default 0)")
    parser.add_argument("--hypopneas", type=int, default=0, metavar="K", help="hypopneas, 15-40 s each (default 0)")
    parser.add_argument("--pauses", type=int, default=0, metavar="K", help="short pauses of 3-7 s, not events (default 0)")
    parser.add_argument("--leak", type=float, default=0.0, metavar="LPS", help="leak flow during breathing, L/s (default 0)")
    parser.add_argument("--noise", type=float, default=0.7, metavar="COUNTS", help="sensor noise sd, ADC counts (default 0.7)")
    parser.add_argument("--tidal-volume", type=float, default=0.5, metavar="L", help="mean tidal volume, L (default 0.5)")
    parser.add_argument("--fs", type=float, default=100.0, metavar="HZ", help="sampling rate, Hz (default 100)")
    parser.add_argument("--malformed", type=int, default=0, metavar="K", help="malformed rows to insert (default 0)")
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
        sim = simulate_recording(
            seed=args.seed, minutes=args.minutes, rate_bpm=args.rate, apneas=args.apneas,
            hypopneas=args.hypopneas, pauses=args.pauses, leak_lps=args.leak, noise_counts=args.noise,
            tidal_volume_l=args.tidal_volume, fs_hz=args.fs, malformed_rows=args.malformed,
        )
    except ParameterError as exc:  # name the option the user typed, not the Python argument
        option = _OPTION_OF.get(exc.name, exc.name)
        raise ParameterError(option, exc.message) from None
    truth_path = sim.write(out)
    t = sim.truth
    print(
        f"wrote {out} ({t.samples} rows, {t.duration_s / 60:g} min, {t.breath_count} breaths at "
        f"{t.breath_rate_bpm:.1f} bpm, {len(t.apneas)} apneas, {len(t.hypopneas)} hypopneas, "
        f"{len(t.pauses)} pauses, {t.skipped_rows} malformed rows) and {truth_path}"
    )
    return 0
