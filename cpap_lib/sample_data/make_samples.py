"""Regenerate the sample recordings in this folder (deterministic: same bytes every run).

Usage::

    .venv/bin/python cpap_lib/sample_data/make_samples.py [OUT_DIR]

Writes each ``<name>.txt`` (the lab's 100 Hz text format) and its
``<name>.truth.json`` (the ground truth, see ``cpap_lib.sim.Truth``) to
OUT_DIR (default: this folder). ``tests/sim/test_simulate.py`` checks that the
committed files are exactly what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cpap_lib.sim import SimParams, simulate_recording

SAMPLES: dict[str, SimParams] = {
    # 5 min of quiet breathing at 15 bpm: no events
    "normal_breathing": SimParams(seed=101, minutes=5),
    # 12 min: 2 apneas (apnea index 10/h, mild), 2 hypopneas, 1 short pause that is not an apnea
    "mild_apnea": SimParams(seed=202, minutes=12, apneas=2, hypopneas=2, pauses=1),
    # 10 min: 6 apneas (apnea index 36/h, severe) and 2 hypopneas
    "severe_apnea": SimParams(seed=303, minutes=10, apneas=6, hypopneas=2),
    # 3 min of fast, shallow breathing (28 bpm) with a small mask leak
    "fast_breathing": SimParams(seed=404, minutes=3, rate_bpm=28, tidal_volume_l=0.35, leak_lps=0.05),
    # 3 min of normal breathing with 7 malformed rows the reader must skip and report
    "malformed_rows": SimParams(seed=505, minutes=3, malformed_rows=7),
}
"""File stem -> the simulator's parameters (checked when this module loads)."""


def make_samples(out_dir: Path) -> list[Path]:
    """Write every sample and its truth to ``out_dir``; return the recording paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, params in SAMPLES.items():
        path = out_dir / f"{name}.txt"
        simulate_recording(**params.to_dict()).write(path)
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for path in make_samples(target):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
