"""Real batch runs: ``cpap-lab report`` with a process pool, then the same inputs on a Dask LocalCluster.

One module-scoped run (two sample recordings and one broken file, two
workers) feeds most tests; the Dask run re-uses its output folder, which also
checks that a re-run replaces the previous outputs cleanly.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from cpap_lib.reports import run_reports
from cpap_lib.reports.night import ahi_rule_text, severity_of_ahi

from .conftest import PNG_IMG, analyze_json, cli, html_tables, table_rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pool_run(tmp_path_factory, sample_paths, broken_recording):
    out = tmp_path_factory.mktemp("reports_pool")
    done = cli(
        "report", *map(str, sample_paths), str(broken_recording), "--out", str(out), "--workers", "2", "--no-progress"
    )
    results = {r["name"]: r for r in json.loads((out / "results.json").read_text())}
    return done, out, results


def test_exit_status_is_1_and_the_failure_is_named(pool_run):
    done, out, results = pool_run
    assert done.returncode == 1, done.stderr
    assert "3 reports, 2 succeeded, 1 failed" in done.stdout
    assert "broken_night failed: RecordingError" in done.stderr
    assert not results["broken_night"]["ok"]


def test_each_report_has_its_figures_and_no_code(pool_run, sample_paths):
    _, out, _ = pool_run
    for path in sample_paths:
        html = (out / "reports" / f"{path.stem}.html").read_text()
        assert len(PNG_IMG.findall(html)) == 4, path.stem  # overview, worst events, AHI per hour, breath rate
        assert "load_report_subject" not in html and "papermill" not in html.split("<body", 1)[1]
        assert "Sleep report notebook" not in html  # the remove-in-report note
        assert "<script" not in html and not re.search(r'(src|href)="https?:', html)  # static, offline


def test_reports_show_the_numbers_of_cpap_lab_analyze(pool_run, sample_paths):
    _, out, results = pool_run
    for path in sample_paths:
        expected = analyze_json(path)
        html = (out / "reports" / f"{path.stem}.html").read_text()
        shown = table_rows(html, "Measure")
        hours = expected["duration_s"] / 3600
        assert shown["AHI"] == f"{expected['ahi']:.1f} /h ({severity_of_ahi(expected['ahi'])})"
        assert shown["Apnea index"] == f"{expected['apnea_index']:.1f} /h ({expected['apnea_count']} apneas)"
        assert shown["Hypopneas"] == f"{expected['hypopnea_count']} ({expected['hypopnea_count'] / hours:.1f} /h)"
        assert shown["Breath rate"] == f"{expected['breath_rate_bpm']:.1f} breaths/min"
        assert shown["Hours recorded / used"].endswith(f"/ {hours:.2f} h")
        assert shown["AHI rule"] == ahi_rule_text(expected) and shown["AHI rule"].startswith(expected["ahi_rule"])
        cli_clock = {"start_clock", "time_zone"}  # what analyze --json adds for people (cpap_lib.cli.clock_fields)
        assert results[path.stem]["summary"]["analysis"] == {k: v for k, v in expected.items() if k not in cli_clock}
        scored = expected["apnea_count"] + expected["hypopnea_count"]
        events = [t for t in html_tables(html) if t[0][0].startswith("Clock time")]
        assert (len(events[0]) - 1 if events else 0) == scored
        assert scored or "No events scored." in html


def test_index_lists_patients_flags_severe_and_lists_the_failure(pool_run):
    _, out, _ = pool_run
    index = (out / "index.html").read_text()
    (table,) = html_tables(index)
    assert table[0] == ["Patient", "Room", "Night", "Hours used", "AHI (/h)", "Severity", "Alarms", "Status"]
    by_name = {row[0]: row for row in table[1:]}
    assert set(by_name) == {"severe_apnea", "fast_breathing", "broken_night.txt"}
    assert by_name["severe_apnea"][5] == "⚠ severe" and by_name["fast_breathing"][5] == "normal"
    assert '<tr class="severe"><td class="name"><a href="reports/severe_apnea.html">' in index
    assert by_name["broken_night.txt"][-1].startswith("failed: RecordingError: ")
    assert "<script>" in index and "http" not in index.split("<script>", 1)[1]  # sorting inline, no CDN
    assert (out / "notebooks" / "broken_night.ipynb").is_file()  # partial notebook kept
    assert not (out / "reports" / "broken_night.html").exists()
    assert not list(out.glob(".staging-*"))


def test_dask_cluster_gives_the_same_outputs_and_rerun_replaces_them(pool_run, sample_paths):
    from distributed import LocalCluster

    _, out, pool_results = pool_run
    before = {name: (out / "reports" / f"{name}.html").read_text() for name in ("severe_apnea", "fast_breathing")}
    shutil.copytree(out, out.parent / "pool_copy")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        batch = run_reports(sample_paths, out, scheduler=cluster.scheduler_address, progress=False)
    assert batch.exit_status == 0 and [r.name for r in batch.results] == ["severe_apnea", "fast_breathing"]
    for result in batch.results:
        assert result.summary["analysis"] == pool_results[result.name]["summary"]["analysis"]
        assert result.summary["night"] == pool_results[result.name]["summary"]["night"]
        html = (out / result.html).read_text()
        assert html_tables(html) == html_tables(before[result.name])  # every table: key figures, titration, events
    assert not (out / "notebooks" / "broken_night.ipynb").exists()  # the re-run replaced the old outputs
    assert "failed:" not in (out / "index.html").read_text()
