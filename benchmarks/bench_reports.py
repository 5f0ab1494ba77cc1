"""Batch reports: reports per minute with 1 and 2 workers, and where a report's time goes.

    python benchmarks/bench_reports.py [--count 16] [--minutes 10] [--workers 1 2] [--dask] [--repeat 1]

Simulates ``--count`` recordings of ``--minutes`` each (seeded; a few apneas
and hypopneas) into a temporary folder, then runs the real batch
(:func:`cpap_lib.reports.run_reports`: papermill on one warm kernel per
worker, HTML export, index) once per worker count, and with ``--dask`` once
more on a 2-worker Dask LocalCluster (cluster start excluded). Per report
(mean over the batch, so a worker's one kernel start is shared by its
reports) it splits the time into: kernel (start, preloaded imports, the reset
between reports and papermill's bookkeeping), imports (the notebook's
``imports`` cell, on a warm kernel only name binding), reading + analysis
(timed inside the notebook), figures and tables (the other cells) and the
HTML export. With ``--dask`` it also checks that the Dask run's key figures
equal the process pool's. On a shared machine wall time depends on the
other load, so it also reports each report's CPU seconds (kernel plus
worker, from ``/proc``) and the rate the machine's cores would sustain on
those alone (``CPU-bound/min`` = 60 x cores / CPU seconds per report).

Prints a table and writes benchmarks/results/reports.json (other sizes:
reports_<count>x<minutes>min.json, e.g. ``--count 2 --minutes 480`` for 8-hour nights).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def make_recordings(folder: Path, count: int, minutes: float) -> list[Path]:
    """``count`` simulated lab recordings of ``minutes`` each."""
    from cpap_lib.sim import simulate_recording, write_lab_file

    paths = []
    for i in range(count):
        sim = simulate_recording(seed=100 + i, minutes=minutes, apneas=i % 7, hypopneas=i % 3)
        path = folder / f"patient_{i + 1:02d}.txt"
        write_lab_file(sim, path)
        paths.append(path)
    return paths


def breakdown(batch) -> dict[str, float]:
    """Mean seconds per report of each part (the kernel starts spread over all reports)."""
    ok = batch.succeeded
    n = len(ok)

    def mean(values) -> float:
        return sum(values) / n

    imports = [r.tagged_s.get("imports", 0.0) for r in ok]
    analysis = [r.summary["timings"]["analysis_s"] for r in ok]
    return {
        "run_s": mean(r.run_s + r.kernel_s for r in ok),
        "kernel_s": mean(r.kernel_s + r.overhead_s for r in ok),
        "kernel_starts": sum(r.kernel_s > 0 for r in ok),
        "kernel_imports_s": mean(imports),
        "read_analysis_s": mean(analysis),
        "figures_tables_s": mean(r.cells_s - i - a for r, i, a in zip(ok, imports, analysis)),
        "html_export_s": mean(r.export_s for r in ok),
        "cpu_s": mean(r.cpu_s for r in ok),
    }


def run(paths: list[Path], out: Path, *, workers: int = 1, scheduler: str | None = None) -> dict:
    from cpap_lib.reports import run_reports

    started = time.perf_counter()
    batch = run_reports(paths, out, workers=workers, scheduler=scheduler, progress=False)
    seconds = time.perf_counter() - started
    if batch.failed:
        raise SystemExit(f"{len(batch.failed)} reports failed: {batch.failed[0].error}")
    parts = breakdown(batch)
    per_report = parts["run_s"] + parts["html_export_s"]
    return {
        "workers": workers,
        "dask": scheduler is not None,
        "reports": len(batch.results),
        "seconds": seconds,
        "reports_per_minute": 60 * len(batch.results) / seconds,
        **parts,
        "kernel_share": (parts["kernel_s"] + parts["kernel_imports_s"]) / per_report,
        "cpu_bound_reports_per_minute": 60 * (os.cpu_count() or 1) / parts["cpu_s"],
        "key_figures": {r.name: r.summary["night"] for r in batch.results},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dask", action="store_true", help="also run on a 2-worker Dask LocalCluster")
    parser.add_argument("--repeat", type=int, default=1, help="runs per setting; the fastest is kept (shared machines)")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        folder = Path(tmp)
        paths = make_recordings(folder, args.count, args.minutes)

        def fastest(**kwargs) -> dict:
            runs = [run(paths, folder / "out", **kwargs) for _ in range(args.repeat)]
            return min(runs, key=lambda row: row["seconds"])

        for workers in args.workers:
            rows.append(fastest(workers=workers))
        if args.dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                rows.append(fastest(workers=2, scheduler=cluster.scheduler_address))

    if args.dask:
        pool = next(row for row in rows if not row["dask"] and row["workers"] == 2) if 2 in args.workers else rows[0]
        same = rows[-1]["key_figures"] == pool["key_figures"]
        print(f"Dask key figures identical to the process pool's: {same}")
        if not same:
            raise SystemExit("the Dask run's key figures differ from the process pool's")
    header = (
        f"{'run':<16}{'reports/min':>12}{'total s':>9}{'per report s':>13}{'kernel':>8}"
        f"{'imports':>9}{'read+analysis':>14}{'figures+tables':>15}{'html':>7}{'kernel share':>13}"
    )
    load = os.getloadavg()[0]
    print(
        f"{args.count} recordings of {args.minutes:g} min, {os.cpu_count()} CPUs (load average {load:.1f} at the end), "
        "medians per report (s)"
    )
    print(header)
    for row in rows:
        label = "dask, 2 workers" if row["dask"] else f"{row['workers']} worker{'s' * (row['workers'] > 1)}"
        print(
            f"{label:<16}{row['reports_per_minute']:>12.1f}{row['seconds']:>9.1f}"
            f"{row['run_s'] + row['html_export_s']:>13.2f}{row['kernel_s']:>8.2f}"
            f"{row['kernel_imports_s']:>9.2f}{row['read_analysis_s']:>14.2f}{row['figures_tables_s']:>15.2f}"
            f"{row['html_export_s']:>7.2f}{row['kernel_share']:>12.0%}{row['cpu_s']:>7.2f}"
            f"{row['cpu_bound_reports_per_minute']:>14.0f}"
        )
    RESULTS.mkdir(exist_ok=True)
    result = {
        "count": args.count,
        "minutes": args.minutes,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average_1min": load,
        "repeat": args.repeat,
        "runs": rows,
    }
    default_size = (args.count, args.minutes) == (16, 10.0)
    target = RESULTS / ("reports.json" if default_size else f"reports_{args.count}x{args.minutes:g}min.json")
    target.write_text(json.dumps(result, indent=1))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
