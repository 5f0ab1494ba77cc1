"""ResMed cards: one real night read, analysed and compared; a 30-night card read, analysed and opened in the explorer.

The 30-night card is built in a temporary folder from the three shared real
nights (AirSense 11, AirCurve 10, AirSense 10) copied under 30 consecutive
dates (``cpap_lib.io.resmed.assemble.build_card``).  Each measurement runs in
a fresh Python process (imports excluded from the timing); the one-night
figures are the median of ``--repeat`` runs, the card figures of one run
(``--card-repeat``).  Peak memory is the process's maximum resident set.
The explorer figures (in-process ``SignalExplorer``, no browser): the card
root opened by path until its latest night is analysed and shown, the
card's overview alone (``DeviceCard.overview``: STR.edf, else the EVE files),
and a click on another night in the list until it is shown (median of 3).

    python benchmarks/bench_edf.py [--repeat 3] [--card-repeat 1] [--nights 30]

Prints a table and writes benchmarks/results/edf.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cpap_lib.io.resmed.assemble import build_card as assemble_card  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = ROOT.parent / "shared" / "reference_data"
NIGHT = REFERENCE / "resmed_airsense11" / "DATALOG" / "20241017"
SOURCES = [
    REFERENCE / "resmed_airsense11" / "DATALOG" / "20241017",
    REFERENCE / "resmed_aircurve10" / "DATALOG" / "20250202",
    REFERENCE / "resmed_airsense10" / "DATALOG" / "20241126",
]

_NIGHT_CODE = """
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

_CARD_CODE = """
import resource, sys, time, json
from cpap_lib.io.resmed import read_card
from cpap_lib.analysis.card import analyze_card
import pandas, scipy.signal, scipy.ndimage, edfio, cpap_lib.analysis.breaths, cpap_lib.analysis.events
t0 = time.perf_counter()
card = read_card(sys.argv[1])
t1 = time.perf_counter()
hours = 0.0
for index, night in card.read_nights():
    hours += night.recording.duration_s / 3600
t2 = time.perf_counter()
read_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rows = analyze_card(card)
t3 = time.perf_counter()
print(json.dumps({"index_s": t1 - t0, "read_all_s": t2 - t1, "analyze_card_s": t3 - t2, "nights": len(rows),
                  "hours": hours, "read_peak_mb": read_peak, "errors": sum(r.error is not None for r in rows),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_EXPLORER_CODE = """
import os, sys, time, json, statistics
from pathlib import Path
from cpap_lib.io.resmed import read_card
from cpap_lib.dashboard.pages.explorer import SignalExplorer
import pandas, scipy.signal, scipy.ndimage, edfio, cpap_lib.analysis.breaths, cpap_lib.analysis.events
os.environ["CPAP_DATA_DIRS"] = str(Path(sys.argv[1]).parent)
t0 = time.perf_counter()
read_card(sys.argv[1]).overview()
t1 = time.perf_counter()
explorer = SignalExplorer()
explorer.open_path(sys.argv[1])
assert explorer.wait_idle(600) and explorer.analysis is not None, explorer.messages.text
t2 = time.perf_counter()
switches = []
for k in (5, 12, 20):
    day = explorer.night_picker.options[k][1]
    started = time.perf_counter()
    explorer.night_picker.value = day
    assert explorer.wait_idle(600) and explorer.night_shown == day, explorer.messages.text
    switches.append(time.perf_counter() - started)
print(json.dumps({"overview_s": t1 - t0, "open_card_s": t2 - t1, "switch_night_s": statistics.median(switches)}))
"""


def _run(code: str, arg: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, arg],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def build_card(root: Path, nights: int) -> Path:
    """A card of ``nights`` consecutive nights cycling through the shared real nights."""
    folders = [SOURCES[i % len(SOURCES)] for i in range(nights)]
    return assemble_card(root, folders, date(2024, 1, 1), identity=REFERENCE / "resmed_airsense11")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--card-repeat", type=int, default=1)
    parser.add_argument("--nights", type=int, default=30)
    args = parser.parse_args()
    runs = [_run(_NIGHT_CODE, str(NIGHT)) for _ in range(args.repeat)]
    summary = {k: statistics.median(r[k] for r in runs) for k in ("read_s", "analysis_s", "compare_s", "peak_mb")}
    summary.update({k: runs[0][k] for k in ("samples", "sessions", "rate_mad_bpm")})
    with tempfile.TemporaryDirectory(prefix="bench_card_") as tmp:
        card = build_card(Path(tmp) / "card", args.nights)
        card_runs = [_run(_CARD_CODE, str(card)) for _ in range(args.card_repeat)]
        explorer_runs = [_run(_EXPLORER_CODE, str(card)) for _ in range(args.card_repeat)]
    keys = ("index_s", "read_all_s", "analyze_card_s", "read_peak_mb", "peak_mb")
    card_summary = {k: statistics.median(r[k] for r in card_runs) for k in keys}
    card_summary.update({k: card_runs[0][k] for k in ("nights", "hours", "errors")})
    for k in ("overview_s", "open_card_s", "switch_night_s"):
        card_summary[f"explorer_{k}"] = statistics.median(r[k] for r in explorer_runs)
    summary["card"] = card_summary
    print(f"ResMed night {NIGHT.name}: {summary['sessions']} sessions, {summary['samples']} samples at 25 Hz")
    print(f"  read (4 BRP + PLD + SA2 + EVE/CSL)    {summary['read_s']:.2f} s")
    print(f"  analysis of the night                 {summary['analysis_s']:.2f} s")
    print(f"  compare (4 analyses + matching)       {summary['compare_s']:.2f} s")
    print(f"  peak memory                           {summary['peak_mb']:.0f} MB")
    print(f"  breath rate vs RespRate, median |diff| {summary['rate_mad_bpm']:.2f} breaths/min")
    c = card_summary
    print(f"Card of {c['nights']} nights ({c['hours']:.0f} h of flow, 3 devices), built from the shared nights:")
    print(f"  index (read_card: names + EDF headers) {c['index_s']:.3f} s")
    print(f"  read every night (flow, trends, events) {c['read_all_s']:.1f} s  (peak {c['read_peak_mb']:.0f} MB)")
    print(f"  analyze_card (read + analyse each)     {c['analyze_card_s']:.1f} s  (peak {c['peak_mb']:.0f} MB)")
    print(f"  overview (a row per night, no STR.edf: the EVE files) {c['explorer_overview_s']:.2f} s")
    print(f"  explorer: card root opened -> latest night shown {c['explorer_open_card_s']:.1f} s")
    print(f"  explorer: a click on another night -> shown  {c['explorer_switch_night_s']:.1f} s (median of 3)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "edf.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
