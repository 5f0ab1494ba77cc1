"""Server benchmark: poll throughput and latency, upload latency, ward-state latency vs history length.

Starts the real server (uvicorn child process, temporary SQLite databases,
no request log) and measures:

1. the bedside poll route ``GET /api/v1/rooms/{room}/pressure`` with ``wrk``
   (8 connections, 2 threads, 10 s) -- throughput and p50/p99 -- and the old
   clients' ``GET /CPAP_query/{room}`` the same way;
2. the same route from 8 Python threads using :class:`cpap_lib.client.CpapClient`;
3. upload latency (``POST /api/v1/rooms/{room}/measurements``: full metric set,
   2000-point flow trace), sequential;
4. ward-state latency (``GET /api/v1/ward``) with 50 rooms x 5 measurements and
   50 rooms x 500 measurements (seeded by bulk SQL inserts);
5. on PostgreSQL (a throwaway cluster, ``tests/support.py``), with 1 and with 2
   worker processes (``--workers``), beside SQLite: the poll with wrk, and
   uploads from 8 threads at once (throughput and latency).

Prints a table and writes ``benchmarks/results/bench_server.json``.
Targets (2-core machine): >= 2000 polls/s with p99 < 20 ms; ward p99 < 50 ms at 50 x 500.

Usage: ``python benchmarks/bench_server.py [--seconds 10] [--quick] [--no-postgres]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, update

from cpap_lib.client import CpapClient
from cpap_lib.server.db import Database
from cpap_lib.server.models import (
    Admission,
    Measurement,
    Patient,
    PressureCommand,
    Room,
    utcnow,
)
from cpap_lib.server.process import start_server

RESULTS = Path(__file__).resolve().parent / "results" / "bench_server.json"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
CONNECTIONS = 8
TARGETS = {"poll_rps_min": 2000, "poll_p99_ms_max": 20.0, "ward_p99_ms_max_50x500": 50.0}

ANALYSIS = {
    "source": "night.txt",
    "samples": 360000,
    "duration_s": 3600.0,
    "fs_hz": 100.0,
    "breath_count": 840,
    "breath_rate_bpm": 14.1,
    "apnea_count": 6,
    "hypopnea_count": 3,
    "apnea_index": 6.0,
    "ahi": 9.0,
    "severity": "mild",
    "tidal_volume_l": 0.52,
    "minute_ventilation_lpm": 7.3,
    "inspiratory_time_s": 1.6,
    "net_volume_l": 12.0,
    "leak_lpm": 0.2,
    "method": "amplitude",
    "apneas": [{"start_s": 100.0 * i, "end_s": 100.0 * i + 15} for i in range(6)],
    "hypopneas": [{"start_s": 1000.0 + 100 * i, "end_s": 1020.0 + 100 * i} for i in range(3)],
}


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
        "n": int(values.size),
    }


def _wrk_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_wrk(url: str, seconds: int) -> dict:
    """wrk with 8 connections; requests/s and latency percentiles."""
    out = subprocess.run(
        [WRK, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    latency = {int(p): _wrk_ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)$", out, flags=re.MULTILINE)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency[50],
        "p90_ms": latency[90],
        "p99_ms": latency[99],
        "non_2xx": int(errors.group(1)) if errors else 0,
        "seconds": seconds,
    }


def run_client_polls(base_url: str, room: int, seconds: float) -> dict:
    """8 threads, each a CpapClient polling as fast as it can."""
    latencies: list[list[float]] = [[] for _ in range(CONNECTIONS)]
    stop = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        with CpapClient(base_url, timeout=10.0) as api:
            while time.perf_counter() < stop:
                start = time.perf_counter()
                api.poll_pressure(room)
                latencies[slot].append(time.perf_counter() - start)

    elapsed = run_threads(worker, CONNECTIONS)
    flat = [x for chunk in latencies for x in chunk]
    return {"requests_per_s": len(flat) / elapsed, **percentiles_ms(flat)}


def run_threads(worker, count: int) -> float:
    """Run ``worker(slot)`` in ``count`` threads at once; return the wall-clock seconds until all are done."""
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def run_uploads(base_url: str, count: int) -> dict:
    t = np.linspace(0.0, 3600.0, 2000)
    flow = 0.5 * np.sin(2 * np.pi * t / 4.0)
    times = []
    with CpapClient(base_url, timeout=10.0) as api:
        for _ in range(count):
            start = time.perf_counter()
            api.upload_measurement(2, "BENCH-UP", cpap_pressure=8, analysis=ANALYSIS, flow_trace=(t, flow))
            times.append(time.perf_counter() - start)
    return percentiles_ms(times)


def run_concurrent_uploads(base_url: str, count: int, threads: int = CONNECTIONS) -> dict:
    """``count`` uploads (2000-point trace) from ``threads`` threads at once, 20 rooms; throughput and latency."""
    t = np.linspace(0.0, 3600.0, 2000)
    flow = 0.5 * np.sin(2 * np.pi * t / 4.0)
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def worker(slot: int) -> None:
        with CpapClient(base_url, timeout=30.0) as api:
            for i in range(slot, count, threads):
                start = time.perf_counter()
                api.upload_measurement(
                    10 + i % 20, f"BENCH-C{i % 20:02d}", cpap_pressure=8, analysis=ANALYSIS, flow_trace=(t, flow)
                )
                latencies[slot].append(time.perf_counter() - start)

    elapsed = run_threads(worker, threads)
    flat = [x for chunk in latencies for x in chunk]
    assert len(flat) == count
    return {"uploads_per_s": count / elapsed, **percentiles_ms(flat)}


def run_backend(url: str, workers: int, seconds: int, uploads: int) -> dict:
    """Poll (wrk) and concurrent uploads against one server of ``workers`` processes on ``url``."""
    with start_server(url, workers=workers) as server, CpapClient(server.url) as api:
        api.upload_measurement(1, "BENCH-POLL", cpap_pressure=8)
        api.command_pressure(1, 11)
        poll_url = f"{server.url}/api/v1/rooms/1/pressure"
        run_wrk(poll_url, 1)  # warm up (every worker opens its connections)
        return {
            "poll_wrk": run_wrk(poll_url, seconds),
            "upload_concurrent": run_concurrent_uploads(server.url, uploads),
        }


def run_scale_out(tmp: str, seconds: int, uploads: int, postgres: bool) -> dict[str, dict]:
    """SQLite (1 worker) and PostgreSQL (1 and 2 workers), measured the same way."""
    rows = {"sqlite_1_worker": run_backend(f"sqlite:///{tmp}/scale.db", 1, seconds, uploads)}
    if postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from support import running_postgres

        with running_postgres() as cluster:
            for workers in (1, 2):
                rows[f"postgres_{workers}_worker{'s' if workers > 1 else ''}"] = run_backend(
                    cluster.new_database(), workers, seconds, uploads
                )
    return rows


def seed_ward(url: str, rooms: int, per_room: int, trace_points: int = 200) -> None:
    """Bulk-insert ``rooms`` rooms with one patient each and ``per_room`` measurements (and a command)."""
    db = Database(url)
    now = utcnow()
    trace_t = np.linspace(0, 60, trace_points).astype("<f8").tobytes()
    trace_f = np.sin(np.linspace(0, 60, trace_points)).astype("<f4").tobytes()
    with db.engine.begin() as conn:
        conn.execute(insert(Room), [{"number": r, "created_at": now} for r in range(1, rooms + 1)])
        conn.execute(
            insert(Patient),
            [{"id": r, "mrn": f"P{r:04d}", "name": f"Patient {r}", "created_at": now} for r in range(1, rooms + 1)],
        )
        conn.execute(
            insert(Admission),
            [{"id": r, "room_number": r, "patient_id": r, "admitted_at": now} for r in range(1, rooms + 1)],
        )
        rows = []
        for k in range(per_room):  # interleaved like real uploads
            for r in range(1, rooms + 1):
                rows.append(
                    {
                        "admission_id": r,
                        "recorded_at": now + timedelta(seconds=k),
                        "cpap_pressure_cmh2o": 8.0,
                        "breath_rate_bpm": 14.0 + (k % 5),
                        "apnea_count": k % 7,
                        "apnea_index": 3.0,
                        "ahi": 5.0,
                        "severity": "mild",
                        "tidal_volume_l": 0.5,
                        "leak_lpm": 0.1,
                        "trace_time_s": trace_t,
                        "trace_flow_lps": trace_f,
                    }
                )
        conn.execute(insert(Measurement), rows)
        conn.execute(
            insert(PressureCommand),
            [{"id": r, "room_number": r, "cmh2o": 10, "commanded_at": now} for r in range(1, rooms + 1)],
        )
        for r in range(1, rooms + 1):
            latest = rooms * (per_room - 1) + r
            conn.execute(update(Admission).where(Admission.id == r).values(latest_measurement_id=latest))
            conn.execute(update(Room).where(Room.number == r).values(current_admission_id=r, latest_command_id=r))
    db.dispose()


def run_ward(urls: dict[str, str], count: int) -> dict[str, dict]:
    """Ward latency for each database; requests alternate between the servers so load noise hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in urls}
    with contextlib.ExitStack() as stack:
        clients = {}
        for name, url in urls.items():
            server = stack.enter_context(start_server(url))
            clients[name] = stack.enter_context(CpapClient(server.url, timeout=10.0))
        for api in clients.values():  # warm up
            for _ in range(10):
                api.ward()
        rng = np.random.default_rng(0)
        names = list(clients)
        for _ in range(count):
            for name in rng.permutation(names):  # shuffled: no position bias
                api = clients[name]
                start = time.perf_counter()
                ward = api.ward()
                times[name].append(time.perf_counter() - start)
                assert len(ward.rooms) == 50
    return {name: percentiles_ms(values) for name, values in times.items()}


def ward_query_plan(url: str) -> list[str]:
    """SQLite's plan for the ward statement (every join by primary key: cost independent of history)."""
    from cpap_lib.server.crud import _WARD_QUERY

    db = Database(url)
    with db.engine.connect() as conn:
        sql = str(_WARD_QUERY.compile(db.engine))
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    db.dispose()
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration (default 10)")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    args = parser.parse_args(argv)
    seconds = 2 if args.quick else args.seconds
    results: dict = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": os.getloadavg(),
        },
        "targets": TARGETS,
    }
    with tempfile.TemporaryDirectory(prefix="cpap-bench-") as tmp:
        with start_server(f"sqlite:///{tmp}/poll.db") as server, CpapClient(server.url) as api:
            api.upload_measurement(1, "BENCH-POLL", cpap_pressure=8)
            api.command_pressure(1, 11)
            poll_url = f"{server.url}/api/v1/rooms/1/pressure"
            run_wrk(poll_url, 1)  # warm up
            results["poll_wrk"] = run_wrk(poll_url, seconds)
            results["poll_legacy_wrk"] = run_wrk(f"{server.url}/CPAP_query/1", seconds)
            results["poll_python_client"] = run_client_polls(server.url, 1, seconds / 2)
            results["upload"] = run_uploads(server.url, 50 if args.quick else 300)
        ward_urls = {}
        for per_room in (5, 500):
            url = ward_urls[f"ward_50x{per_room}"] = f"sqlite:///{tmp}/ward_{per_room}.db"
            seed_ward(url, 50, per_room)
        results.update(run_ward(ward_urls, 50 if args.quick else 300))
        results["ward_query_plan"] = ward_query_plan(ward_urls["ward_50x500"])
        results["scale_out"] = run_scale_out(tmp, seconds, 100 if args.quick else 600, not args.no_postgres)

    w, c, u = results["poll_wrk"], results["poll_python_client"], results["upload"]
    legacy = results["poll_legacy_wrk"]
    small, large = results["ward_50x5"], results["ward_50x500"]
    rows = [
        ("poll, wrk (8 connections)", f"{w['requests_per_s']:.0f}/s", w["p50_ms"], w["p99_ms"]),
        ("old poll GET /CPAP_query, wrk", f"{legacy['requests_per_s']:.0f}/s", legacy["p50_ms"], legacy["p99_ms"]),
        ("poll, Python client (8 threads)", f"{c['requests_per_s']:.0f}/s", c["p50_ms"], c["p99_ms"]),
        ("upload (2000-point trace)", "sequential", u["p50_ms"], u["p99_ms"]),
        ("ward, 50 rooms x 5", "sequential", small["p50_ms"], small["p99_ms"]),
        ("ward, 50 rooms x 500", "sequential", large["p50_ms"], large["p99_ms"]),
    ]
    for name, row in results["scale_out"].items():
        poll, up = row["poll_wrk"], row["upload_concurrent"]
        rows.append((f"{name}: poll, wrk", f"{poll['requests_per_s']:.0f}/s", poll["p50_ms"], poll["p99_ms"]))
        rows.append((f"{name}: upload, 8 threads", f"{up['uploads_per_s']:.0f}/s", up["p50_ms"], up["p99_ms"]))
    print(f"{'measurement':42s} {'rate':>12s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for name, rate, p50, p99 in rows:
        print(f"{name:42s} {rate:>12s} {p50:8.2f} {p99:8.2f}")
    results["targets_met"] = {
        "poll_rps": w["requests_per_s"] >= TARGETS["poll_rps_min"],
        "poll_p99": w["p99_ms"] < TARGETS["poll_p99_ms_max"],
        "ward_p99_50x500": large["p99_ms"] < TARGETS["ward_p99_ms_max_50x500"],
    }
    results["machine"]["load_average_after"] = os.getloadavg()
    print("targets met:", results["targets_met"], f"(wrk non-2xx: {w['non_2xx']})")
    print(
        "load average before/after (other work on the machine skews every figure):",
        results["machine"]["load_average_before"][0],
        results["machine"]["load_average_after"][0],
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
