"""Dashboard figures in one run: page loads, room switch, explorer zoom, points sent, kernel memory.

    python benchmarks/bench_dashboard.py [--rooms 50] [--visits 20] [--zooms 12] [--hours 8] [--upload-min 5]

What is measured (issue 4), against a real API server (SQLite, 127.0.0.1), a
real Voilà server and Debian's Chromium through Playwright:

1. Page load: from navigation to a minimal Voilà page showing its one widget
   (the baseline), and from navigation to the staff page with ``--rooms``
   seeded rooms showing every card with its numbers. Goal: overview within
   1 s of the baseline. Three loads each, the median is kept.
2. Room switch: from choosing a room to its charts drawn. In the browser
   (click a card; wait until the station shows that room's MRN and its flow
   chart has a line) and in-process (``MonitoringStation.room = r`` until the
   room is loaded). Goal: under 0.5 s.
3. Explorer zoom on an ``--hours`` night at 100 Hz: in-process, the time the
   chart needs to re-decimate and send the new window after the time scale
   changes (what bqplot's PanZoom does); in the browser, from a mouse-wheel
   zoom to the chart's status line showing the new window. Goal: under 0.3 s.
4. Points sent to the browser per chart (explorer flow chart, station flow
   charts and trends).
5. Memory: Voilà's process plus its kernels (RSS, psutil) after ``--visits``
   visits of the staff page, and again once idle kernels have been culled.

The ward (issue 12): ``--rooms`` rooms, each with a whole night of
``--hours`` hours at one upload per ``--upload-min`` minutes (8 h: 96 uploads
per room), stamped at their times of the night. The page-load figure is the
alarm board's time to all tiles; room switch is tile click to the station's
charts. 6. The alarm board's server time (``GET /api/v1/alarms``, the
rolling 30/60-minute AHI, night AHI and alarm states of every room) for
nights of 1, 2, 4, 8 and 16 hours: a query over the window's indexed rows
and the admission's running totals, so it stays flat in the night's length.

Prints a table and writes benchmarks/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

from cpap_lib.paths import NOTEBOOK_DIR, SAMPLE_DATA_DIR  # noqa: E402  (after the path is set)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

BASELINE_NOTEBOOK = """import ipywidgets as widgets
widgets.Label("baseline ready")"""

EXPLORER_NOTEBOOK = """from cpap_lib.dashboard.pages.explorer import SignalExplorer
explorer = SignalExplorer()
explorer.open_path({path!r})
explorer"""


def _stats(values: Sequence[float]) -> dict:
    arr = np.asarray(values, dtype=float)
    return {
        "n": int(arr.size),
        "median": float(np.median(arr)),
        "p95": float(np.percentile(arr, 95)),
        "max": float(arr.max()),
        "min": float(arr.min()),
    }


def _write_notebook(path: Path, source: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, path)


def make_night(folder: Path, hours: float) -> Path:
    """Write a simulated night at 100 Hz (lab text format) and return its path."""
    from cpap_lib.sim import simulate_recording

    minutes = hours * 60
    sim = simulate_recording(
        seed=8, minutes=minutes, apneas=int(5 * hours), hypopneas=int(5 * hours), pauses=int(hours)
    )
    path = folder / f"night_{hours:g}h.txt"
    sim.write(path)
    return path


# --------------------------------------------------------------------------- in-process parts
def zoom_sequence(t0: float, t1: float, count: int) -> list[tuple[float, float]]:
    """Windows a researcher might visit: zoom in step by step, pan, zoom out."""
    span = t1 - t0
    centre = t0 + 0.37 * span
    windows = []
    width = span
    for i in range(count):
        if i < count // 2:
            width = max(width / 3.0, 20.0)  # zoom in
        elif i < 3 * count // 4:
            centre += width * 0.6  # pan
        else:
            width = min(width * 4.0, span)  # zoom out
        lo = min(max(t0, centre - width / 2), t1 - width)
        windows.append((lo, lo + width))
    return windows


def bench_explorer_in_process(night: Path, zooms: int) -> dict:
    from cpap_lib.dashboard.pages.explorer import SignalExplorer

    explorer = SignalExplorer()
    started = time.perf_counter()
    explorer.open_path(night)
    if not explorer.wait_idle(600) or explorer.analysis is None:
        raise RuntimeError(f"explorer could not open {night}: {explorer.messages.text}")
    open_s = time.perf_counter() - started
    chart = explorer.chart
    full_points = {"flow": chart.flow_points, "all_marks": chart.points_sent, "samples_in_kernel": chart.total_samples}
    t0, t1 = chart.data_range
    times, points = [], []
    for lo, hi in zoom_sequence(t0, t1, zooms) * 3:
        begun = time.perf_counter()
        with chart.x_scale.hold_trait_notifications():  # as a PanZoom message from the browser
            chart.x_scale.min, chart.x_scale.max = lo, hi
        times.append(time.perf_counter() - begun)
        points.append(chart.points_sent)
    slider_started = time.perf_counter()
    explorer.sliders["min_event_s"].value = 12.0
    explorer.wait_idle(600)
    reanalyse_s = time.perf_counter() - slider_started - explorer._debouncer.delay_s
    return {
        "samples": chart.total_samples,
        "open_and_analyse_s": open_s,
        "zoom_update_s": _stats(times),
        "points_sent_full_view": full_points,
        "points_sent_zoomed": _stats(points),
        "slider_reanalysis_s": reanalyse_s,
    }


def seed_ward(database_url: str, rooms: int, hours: float, upload_min: float = 5.0) -> dict[int, str]:
    """Give ``rooms`` rooms a patient and a whole night each: one upload per ``upload_min`` over ``hours``.

    Written through :func:`cpap_lib.server.crud.upload` with each upload's time
    of the night (the API stamps uploads with the time of receipt), ending
    now; the latest upload of each room carries a 2000-point flow trace.
    """
    from datetime import timedelta

    from cpap_lib.analysis import analyze_file
    from cpap_lib.server import crud
    from cpap_lib.server.db import Database
    from cpap_lib.server.models import utcnow
    from cpap_lib.server.schemas import FlowTrace, MeasurementCreate

    samples = sorted(SAMPLE_DATA_DIR.glob("*.txt"))
    analyses = [analyze_file(p) for p in samples]
    metrics = [{k: v for k, v in a.to_dict().items() if k != "params"} for a in analyses]
    base = [
        MeasurementCreate.model_validate({"mrn": "SEED", "analysis": m}) for m in metrics
    ]  # validated once, copied per upload
    traces = [FlowTrace(time_s=t.tolist(), flow_lps=f.tolist()) for t, f in (a.flow_trace(2000) for a in analyses)]
    per_room = max(1, int(round(hours * 60 / upload_min)))
    end = utcnow()
    db = Database(database_url)
    mrns = {}
    try:
        for i in range(rooms):
            room = 101 + i
            mrn = f"BENCH{room:04d}"
            mrns[room] = mrn
            with db.write() as session:
                for k in range(per_room):
                    j = (i + k) % len(analyses)
                    data = base[j].model_copy(
                        update={
                            "mrn": mrn,
                            "name": f"Patient {room}",
                            "cpap_pressure_cmh2o": float(6 + (i + k // 12) % 10),
                            "flow_trace": traces[j] if k == per_room - 1 else None,
                        }
                    )
                    crud.upload(
                        session, room=room, data=data, now=end - timedelta(minutes=upload_min * (per_room - 1 - k))
                    )
    finally:
        db.dispose()
    return mrns


def bench_board_flat(
    work: Path, rooms: int, hours_list: tuple[float, ...], upload_min: float, repeat: int = 15
) -> dict:
    """Server time of the alarm board (in-process, SQLite) for nights of each length: flat in the night's length."""
    from cpap_lib.server import night
    from cpap_lib.server.alarms import AlarmRules
    from cpap_lib.server.db import Database

    out = {}
    for hours in hours_list:
        url = f"sqlite:///{work / f'flat_{hours:g}h.db'}"
        seed_ward(url, rooms, hours, upload_min)
        db = Database(url)
        times = []
        try:
            for _ in range(repeat):
                begun = time.perf_counter()
                with db.write() as session:
                    board = night.alarm_board(session, rules=AlarmRules())
                times.append(time.perf_counter() - begun)
        finally:
            db.dispose()
        assert len(board) == rooms
        out[f"{hours:g}"] = _stats(times[2:])
    return out


def bench_station_in_process(client, rooms: list[int], repeat: int) -> dict:
    from cpap_lib.dashboard.pages.station import MonitoringStation

    station = MonitoringStation(client)
    times = []
    for room in (rooms * repeat)[: max(repeat, len(rooms))]:
        generation = station.loaded_generation
        begun = time.perf_counter()
        station.room = room
        deadline = begun + 30
        while station.loaded_generation == generation and time.perf_counter() < deadline:
            time.sleep(0.002)
        times.append(time.perf_counter() - begun)
    return {
        "room_switch_s": _stats(times),
        "points_sent": {
            "latest_flow_chart": station.latest_chart.points_sent,
            "trend_chart": station.trends.points_sent,
        },
    }


# --------------------------------------------------------------------------- browser parts
def _rss_mb(pid: int) -> tuple[float, int]:
    import psutil

    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    kernels = 0
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
            kernels += 1
        except psutil.NoSuchProcess:
            pass
    return total / 2**20, kernels


def bench_browser(voila, mrns: dict[int, str], night_notebook: str, zooms: int, visits: int) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    out: dict = {}
    rooms = sorted(mrns)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

        def load(url: str, ready) -> float:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            begun = time.perf_counter()
            page.goto(url, wait_until="commit")
            if ready is overview_ready:
                ready(page, begun)
            else:
                ready(page)
            elapsed = time.perf_counter() - begun
            page.close()
            return elapsed

        def baseline_ready(page):
            page.wait_for_selector("text=baseline ready", timeout=120_000)

        first_card: list[float] = []

        def overview_ready(page, begun=None):  # every tile with its pressure: the alarm board is complete
            page.wait_for_selector(".cpap-card[data-room]", timeout=120_000)
            if begun is not None:
                first_card.append(time.perf_counter() - begun)
            page.wait_for_function(
                """n => { const cards = document.querySelectorAll('.cpap-card[data-room]');
                          if (cards.length < n) return false;
                          return Array.from(cards).every(c => {
                              const p = c.querySelector('.cpap-pressure');
                              return p && p.textContent.trim() !== '—'; }); }""",
                arg=len(rooms),
                timeout=120_000,
                polling=20,
            )

        load(voila.page_url("baseline.ipynb"), baseline_ready)  # warm-up: first kernel start, imports cached
        baseline, overview = [], []
        for _ in range(3):  # interleaved, so a busy machine hurts both alike
            baseline.append(load(voila.page_url("baseline.ipynb"), baseline_ready))
            overview.append(load(voila.page_url("monitor.ipynb"), overview_ready))
        out["page_load_s"] = {
            "baseline": _stats(baseline),
            "overview_first_card": _stats(first_card[:3]),
            "overview_all_cards": _stats(overview),
            "overview_minus_baseline_median": statistics.median(overview) - statistics.median(baseline),
        }

        # room switch in the browser: click a card, wait for its MRN in the station and a drawn flow line
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(voila.page_url("monitor.ipynb"))
        overview_ready(page)
        switch = []
        for room in rooms[:8]:
            begun = time.perf_counter()
            page.click(f".cpap-room-{room} .cpap-card-select")
            page.wait_for_function(
                """mrn => { const m = document.querySelector('.cpap-station-mrn');
                            if (!m || m.textContent.trim() !== mrn) return false;
                            const paths = document.querySelectorAll('.cpap-station svg.svg-figure path.line');
                            return Array.from(paths).some(p => (p.getAttribute('d') || '').length > 1000); }""",
                arg=mrns[room],
                timeout=30_000,
                polling=10,
            )
            switch.append(time.perf_counter() - begun)
            page.click(".cpap-station-close")  # back to the board (the station panel covers part of it)
            page.wait_for_selector(".cpap-station-drawer", state="hidden")
        out["room_switch_browser_s"] = _stats(switch)
        page.screenshot(path=str(RESULTS / "bench_monitor.png"), full_page=True)
        page.close()

        # explorer zoom in the browser on the long night
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(voila.page_url(night_notebook))
        page.wait_for_selector("text=Opened night_", timeout=300_000)
        figure = page.locator(".cpap-explorer svg.svg-figure").first
        figure.scroll_into_view_if_needed()
        time.sleep(1.0)  # let the page settle (summary and tables above the chart)
        status = page.locator(".cpap-explorer .cpap-chart-status").first
        zoom_times = []
        for i in range(zooms):
            box = figure.bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2)
            before = status.inner_text()
            begun = time.perf_counter()
            page.mouse.wheel(0, -240 if i < zooms * 2 // 3 else 480)
            try:
                page.wait_for_function(
                    "old => document.querySelector('.cpap-explorer .cpap-chart-status').innerText !== old",
                    arg=before,
                    timeout=10_000,
                    polling=5,
                )
            except PlaywrightTimeout:
                page.screenshot(path=str(RESULTS / "bench_explorer_zoom_timeout.png"), full_page=True)
                raise RuntimeError(f"zoom {i + 1}: the chart did not update within 10 s (status {before!r})") from None
            zoom_times.append(time.perf_counter() - begun)
            time.sleep(0.3)
        out["explorer_zoom_browser_s"] = _stats(zoom_times)
        out["explorer_zoom_browser_each_s"] = [round(x, 3) for x in zoom_times]
        out["explorer_status_after_zoom"] = status.inner_text()
        page.screenshot(path=str(RESULTS / "bench_explorer.png"), full_page=True)
        page.close()

        # kernel memory after repeated visits of the staff page
        before_mb, before_kernels = _rss_mb(voila.process.pid)
        for _ in range(visits):
            load(voila.page_url("monitor.ipynb"), overview_ready)
        after_mb, after_kernels = _rss_mb(voila.process.pid)
        browser.close()
    time.sleep(40)  # voila.json culls idle kernels after 20 s, checked every 5 s
    culled_mb, culled_kernels = _rss_mb(voila.process.pid)
    out["memory"] = {
        "visits": visits,
        "before_visits_mb": before_mb,
        "before_visits_kernels": before_kernels,
        "after_visits_mb": after_mb,
        "after_visits_kernels": after_kernels,
        "after_cull_mb": culled_mb,
        "after_cull_kernels": culled_kernels,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--upload-min", type=float, default=5.0, help="minutes between a room's uploads")
    parser.add_argument("--visits", type=int, default=20)
    parser.add_argument("--zooms", type=int, default=12)
    parser.add_argument("--hours", type=float, default=8.0)
    args = parser.parse_args(argv)

    from cpap_lib.client import CpapClient
    from cpap_lib.dashboard.pages.explorer import DATA_DIRS_ENV
    from cpap_lib.dashboard.runtime.voila_app import VoilaServer
    from cpap_lib.server.process import start_server

    RESULTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cpap-bench-dashboard-"))
    # Open by path reads only inside the data folders: the generated night lives in `work`
    # (for the in-process explorer here and, through the environment, for Voila's kernels).
    os.environ[DATA_DIRS_ENV] = str(work)
    results: dict = {"rooms": args.rooms, "hours": args.hours}
    try:
        night = make_night(work, args.hours)
        results["explorer_in_process"] = bench_explorer_in_process(night, args.zooms)

        pages = work / "pages"
        pages.mkdir()
        _write_notebook(pages / "baseline.ipynb", BASELINE_NOTEBOOK)
        _write_notebook(pages / "explorer_night.ipynb", EXPLORER_NOTEBOOK.format(path=str(night)))
        shutil.copy(NOTEBOOK_DIR / "monitor.ipynb", pages / "monitor.ipynb")

        results["board_flat_rooms"] = 10
        results["board_flat_s"] = bench_board_flat(work, 10, (1, 4, 16), args.upload_min)
        ward_url = f"sqlite:///{work / 'ward.db'}"
        seeded = time.perf_counter()
        mrns = seed_ward(ward_url, args.rooms, args.hours, args.upload_min)
        results["seed_s"] = time.perf_counter() - seeded
        results["uploads_per_room"] = int(round(args.hours * 60 / args.upload_min))
        with start_server(ward_url) as server, CpapClient(server.url, timeout=30) as client:
            board_http = []
            for _ in range(12):
                begun = time.perf_counter()
                client.alarm_board()
                board_http.append(time.perf_counter() - begun)
            results["board_http_s"] = _stats(board_http[2:])
            results["station_in_process"] = bench_station_in_process(client, sorted(mrns)[:10], repeat=2)
            voila = VoilaServer(
                server.url,
                notebook_dir=pages,
                log_path=work / "voila.log",
                env={"CPAP_REFRESH_S": "5", DATA_DIRS_ENV: str(work)},
            )
            voila.start()
            try:
                results["browser"] = bench_browser(voila, mrns, "explorer_night.ipynb", args.zooms, args.visits)
            finally:
                voila.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    (RESULTS / "dashboard.json").write_text(json.dumps(results, indent=2))
    print_table(results)
    return 0


def print_table(r: dict) -> None:
    ex, st, br = r["explorer_in_process"], r["station_in_process"], r.get("browser", {})
    flat = r["board_flat_s"]
    rows = [
        (
            f"alarm board, server, {r['board_flat_rooms']} rooms, nights of " + " / ".join(f"{h} h" for h in flat),
            " / ".join(f"{v['median'] * 1000:.1f}" for v in flat.values()) + " ms",
        ),
        (
            f"alarm board over HTTP, {r['hours']:g} h night ({r['uploads_per_room']} uploads per room), median",
            f"{r['board_http_s']['median'] * 1000:.1f} ms",
        ),
        ("page load, baseline (one widget), median", f"{br['page_load_s']['baseline']['median']:.2f} s"),
        (
            f"page load, alarm board with all {r['rooms']} tiles, median",
            f"{br['page_load_s']['overview_all_cards']['median']:.2f} s",
        ),
        ("  overview minus baseline (goal < 1 s)", f"{br['page_load_s']['overview_minus_baseline_median']:+.2f} s"),
        ("  overview, first card shown, median", f"{br['page_load_s']['overview_first_card']['median']:.2f} s"),
        (
            "room -> charts, browser click, median / max (goal < 0.5 s)",
            f"{br['room_switch_browser_s']['median']:.3f} / {br['room_switch_browser_s']['max']:.3f} s",
        ),
        (
            "room -> charts, in-process, median / max",
            f"{st['room_switch_s']['median']:.3f} / {st['room_switch_s']['max']:.3f} s",
        ),
        (
            f"explorer zoom, {r['hours']:g} h night, kernel, median / max (goal < 0.3 s)",
            f"{ex['zoom_update_s']['median'] * 1000:.1f} / {ex['zoom_update_s']['max'] * 1000:.1f} ms",
        ),
        (
            "explorer zoom, wheel -> redrawn in browser, median / max",
            f"{br['explorer_zoom_browser_s']['median']:.3f} / {br['explorer_zoom_browser_s']['max']:.3f} s",
        ),
        (
            f"explorer open + analyse {r['hours']:g} h night ({ex['samples']:,} samples)",
            f"{ex['open_and_analyse_s']:.2f} s",
        ),
        ("explorer re-analysis after a slider change", f"{ex['slider_reanalysis_s']:.2f} s"),
        (
            "points sent: explorer flow chart, full night (flow / all marks)",
            f"{ex['points_sent_full_view']['flow']:,} / {ex['points_sent_full_view']['all_marks']:,}",
        ),
        ("points sent: explorer, zoomed (max of all marks)", f"{ex['points_sent_zoomed']['max']:,.0f}"),
        (
            "points sent: station latest flow chart / trends",
            f"{st['points_sent']['latest_flow_chart']:,} / {st['points_sent']['trend_chart']:,}",
        ),
        (
            f"memory, Voilà + kernels after {br['memory']['visits']} visits",
            f"{br['memory']['after_visits_mb']:.0f} MB ({br['memory']['after_visits_kernels']} kernels)",
        ),
        (
            "memory, after idle kernels are culled",
            f"{br['memory']['after_cull_mb']:.0f} MB ({br['memory']['after_cull_kernels']} kernels)",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
