"""Read a real ResMed night (4 sessions, 8.9 h of 25 Hz flow) and compare it with the device's scoring.

Each measurement runs in a fresh Python process (imports excluded from the
timing), ``--repeat`` times; the median time is kept.

    python benchmarks/bench_edf.py [--repeat 3]

Prints a table and writes benchmarks/results/edf.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
NIGHT = Path(__file__).resolve().parents[1].parent / "shared" / "reference_data" / "resmed_airsense11" / "DATALOG" / "20241017"

_CODE = """
import resource, sys, time, json
from cpap_lib.io.resmed import read_datalog
from cpap_lib.analysis import analyze
from cpap_lib.analysis.compare import compare
import pandas, scipy.signal, scipy.ndimage, edfio  # imports are not part of the measured work
t0 = time.perf_counter()
night = read_datalog(sys.argv[1])
t1 = time.perf_counter()
result = analyze(night.recording)
t2 = time.perf_counter()
comparison = compare(night)
t3 = time.perf_counter()
print(json.dumps({"read_s": t1 - t0, "analysis_s": t2 - t1, "compare_s": t3 - t2,
                  "samples": night.recording.samples, "sessions": len(night.sessions),
                  "rate_mad_bpm": comparison.night.rate.median_abs_diff,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", _CODE, str(NIGHT)], check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout))
    summary = {k: statistics.median(r[k] for r in runs) for k in ("read_s", "analysis_s", "compare_s", "peak_mb")}
    summary.update({k: runs[0][k] for k in ("samples", "sessions", "rate_mad_bpm")})
    print(f"ResMed night {NIGHT.name}: {summary['sessions']} sessions, {summary['samples']} samples at 25 Hz")
    print(f"  read (edfio, 4 BRP + PLD + EVE/CSL)   {summary['read_s']:.2f} s")
    print(f"  analysis of the night                 {summary['analysis_s']:.2f} s")
    print(f"  compare (4 analyses + matching)       {summary['compare_s']:.2f} s")
    print(f"  peak memory                           {summary['peak_mb']:.0f} MB")
    print(f"  breath rate vs RespRate, median |diff| {summary['rate_mad_bpm']:.2f} breaths/min")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "edf.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
