"""Read + full analysis of an 8-hour night at 100 Hz (2.88 million rows) vs a bare pandas/pyarrow parse.

Every measurement runs in a fresh Python process (peak memory is that
process's own high-water mark, VmHWM), seven times, baseline and ours
interleaved; the median time is kept.

    python benchmarks/bench_analysis.py [--hours 8] [--repeat 3]

Targets (issue 2): read + analysis within 1.5x of the bare parse, under 3 s,
peak memory under 1 GB. The same night with 20 malformed rows (issue 15): within
1.2x of the clean file's time and peak memory, the bad rows found by line. The scoring
of issue 10 (flow_50pct hypopneas, apneas at the margins, inspiration-only breaths) against
the code before it (PREVIOUS_REV, unpacked from git into a temporary folder and run in the
same interleaved loop): within 1.2x.
Prints a table and writes benchmarks/results/analysis.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PREVIOUS_REV = "2bfb188"
"""The main commit just before issue 10's scoring landed: the read + analysis time it must stay within 1.2x of."""
MALFORMED_ROWS = 20
"""Bad rows in the malformed copy of the night (as in 3 of the lab's 8 real files)."""

_PEAK = """
def _peak_mb():  # this process's own high-water mark (ru_maxrss would include the parent's at fork)
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM")).split()[1]) / 1024
"""
"""How a measuring process reads its own peak memory (VmHWM: since its exec, not inherited at fork)."""

_BASELINE = (
    _PEAK
    + """
import sys, time, json
import pandas as pd
t0 = time.perf_counter()
frame = pd.read_csv(sys.argv[1], engine="pyarrow")
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "rows": len(frame), "peak_mb": _peak_mb()}))
"""
)

_OURS = (
    _PEAK
    + """
import sys, time, json
from cpap_lib.io.lab_text import read_lab_file
from cpap_lib.analysis import analyze
import pandas, scipy.signal, scipy.ndimage, pyarrow.csv  # imports are not part of the measured work
t0 = time.perf_counter()
rec = read_lab_file(sys.argv[1])
t1 = time.perf_counter()
result = analyze(rec)
t2 = time.perf_counter()
d = result.to_dict()
print(json.dumps({"seconds": t2 - t0, "read_s": t1 - t0, "analysis_s": t2 - t1, "rows": rec.samples,
                  "skipped_rows": rec.skipped_rows, "skipped_lines": list(rec.skipped_lines),
                  "breaths": d["breath_count"], "apneas": d["apnea_count"], "hypopneas": d["hypopnea_count"],
                  "peak_mb": _peak_mb()}))
"""
)

_IMPORTS_ONLY = (
    _PEAK
    + """
import json
from cpap_lib.io.lab_text import read_lab_file
from cpap_lib.analysis import analyze
import pandas, scipy.signal, scipy.ndimage, pyarrow.csv
print(json.dumps({"peak_mb": _peak_mb()}))
"""
)


def _run(code: str, *args: str, pythonpath: str | None = None) -> dict:
    import os

    # python -c puts the working directory first on sys.path: run the other code from its own folder
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else None
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, env=env, cwd=pythonpath
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _unpack_previous(into: Path) -> str:
    """``cpap_lib`` as it was at :data:`PREVIOUS_REV`, unpacked under ``into``; returns the folder."""
    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", PREVIOUS_REV, "cpap_lib"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return str(into)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from cpap_lib.sim import simulate_recording

    night = dict(
        seed=8,
        minutes=args.hours * 60,
        rate_bpm=14,
        apneas=int(args.hours * 12),
        hypopneas=int(args.hours * 4),
        pauses=int(args.hours * 4),
        leak_lps=0.02,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "night.txt"
        malformed_path = Path(tmp) / "night_malformed.txt"
        t0 = time.perf_counter()
        sim = simulate_recording(**night)
        sim.write(path)
        gen_s = time.perf_counter() - t0
        truth_apneas, truth_hypopneas = len(sim.truth.apneas), len(sim.truth.hypopneas)
        del sim
        sim = simulate_recording(**night, malformed_rows=MALFORMED_ROWS)
        sim.write(malformed_path)
        malformed_lines = sim.truth.malformed_lines
        del sim
        size_mb = path.stat().st_size / 1e6
        previous_code = _unpack_previous(Path(tmp))
        baseline, ours, malformed, previous = [], [], [], []
        for _ in range(args.repeat):  # interleaved, so drifting load on the machine hits all alike
            baseline.append(_run(_BASELINE, str(path)))
            ours.append(_run(_OURS, str(path)))
            malformed.append(_run(_OURS, str(malformed_path)))
            previous.append(_run(_OURS, str(path), pythonpath=previous_code))
        imports = _run(_IMPORTS_ONLY)

    base_s = statistics.median(r["seconds"] for r in baseline)
    ours_s = statistics.median(r["seconds"] for r in ours)
    best = min(ours, key=lambda r: abs(r["seconds"] - ours_s))
    bad_s = statistics.median(r["seconds"] for r in malformed)
    bad_best = min(malformed, key=lambda r: abs(r["seconds"] - bad_s))
    prev_s = statistics.median(r["seconds"] for r in previous)
    assert bad_best["skipped_rows"] == MALFORMED_ROWS, bad_best
    assert bad_best["skipped_lines"] == malformed_lines[: len(bad_best["skipped_lines"])], bad_best
    result = {
        "rows": best["rows"],
        "file_mb": round(size_mb, 1),
        "generate_s": round(gen_s, 2),
        "pandas_pyarrow_parse_s": round(base_s, 3),
        "read_plus_analysis_s": round(ours_s, 3),
        "read_s": round(best["read_s"], 3),
        "analysis_s": round(best["analysis_s"], 3),
        "ratio_to_parse": round(ours_s / base_s, 2),
        "peak_mb": round(max(r["peak_mb"] for r in ours), 0),
        "peak_mb_imports_only": round(imports["peak_mb"], 0),
        "baseline_parse_peak_mb": round(max(r["peak_mb"] for r in baseline), 0),
        "breaths": best["breaths"],
        "apneas_found": best["apneas"],
        "apneas_true": truth_apneas,
        "malformed_rows": MALFORMED_ROWS,
        "malformed_read_plus_analysis_s": round(bad_s, 3),
        "malformed_read_s": round(bad_best["read_s"], 3),
        "malformed_peak_mb": round(max(r["peak_mb"] for r in malformed), 0),
        "malformed_time_ratio": round(bad_s / ours_s, 2),
        "malformed_peak_ratio": round(max(r["peak_mb"] for r in malformed) / max(r["peak_mb"] for r in ours), 2),
        "previous_rev": PREVIOUS_REV,
        "previous_read_plus_analysis_s": round(prev_s, 3),
        "scoring_time_ratio": round(ours_s / prev_s, 2),
        "hypopneas": best["hypopneas"],
        "hypopneas_true": truth_hypopneas,
        "targets": {
            "ratio_to_parse": 1.5,
            "read_plus_analysis_s": 3.0,
            "peak_mb": 1024,
            "malformed_time_ratio": 1.2,
            "malformed_peak_ratio": 1.2,
            "scoring_time_ratio": 1.2,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "analysis.json").write_text(json.dumps(result, indent=2))
    print(f"8-hour night: {result['rows']:,} rows, {result['file_mb']} MB (generated in {result['generate_s']} s)")
    print(
        f"{'bare pandas read_csv(engine=pyarrow)':42s} {base_s:7.3f} s  peak {result['baseline_parse_peak_mb']:.0f} MB"
    )
    print(
        f"{'cpap_lib read + full analysis':42s} {ours_s:7.3f} s  peak {result['peak_mb']:.0f} MB "
        f"(read {result['read_s']:.3f} s, analysis {result['analysis_s']:.3f} s; imports alone {result['peak_mb_imports_only']:.0f} MB)"
    )
    print(f"{'ratio to bare parse':42s} {result['ratio_to_parse']:7.2f} x  (target <= 1.5)")
    print(
        f"{f'same night, {MALFORMED_ROWS} malformed rows':42s} {bad_s:7.3f} s  peak {result['malformed_peak_mb']:.0f} MB "
        f"(read {result['malformed_read_s']:.3f} s): {result['malformed_time_ratio']:.2f} x the time, "
        f"{result['malformed_peak_ratio']:.2f} x the memory of the clean file (target <= 1.2)"
    )
    print(
        f"{f'before the issue-10 scoring ({PREVIOUS_REV})':42s} {prev_s:7.3f} s; ours {result['scoring_time_ratio']:.2f} x "
        f"that (target <= 1.2)"
    )
    print(
        f"breaths {result['breaths']}, apneas found {result['apneas_found']} of {result['apneas_true']} simulated, "
        f"hypopneas {result['hypopneas']} of {result['hypopneas_true']}"
    )
    ok = (
        result["ratio_to_parse"] <= 1.5
        and ours_s <= 3.0
        and result["peak_mb"] <= 1024
        and result["malformed_time_ratio"] <= 1.2
        and result["malformed_peak_ratio"] <= 1.2
        and result["scoring_time_ratio"] <= 1.2
    )
    print("targets met" if ok else "TARGETS NOT MET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
