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

from cpap_lib.reports.figures import summary_table
from cpap_lib.reports import run_reports

from .conftest import PNG_IMG, analyze_json, cli, html_tables, summary_rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pool_run(tmp_path_factory, sample_paths, broken_recording):
    out = tmp_path_factory.mktemp("reports_pool")
    done = cli("report", *map(str, sample_paths), str(broken_recording), "--out", str(out), "--workers", "2",
               "--no-progress")
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
        assert len(PNG_IMG.findall(html)) == 3, path.stem  # whole night, worst event, breath-rate trend
        assert "load_report_subject" not in html and "papermill" not in html.split("<body", 1)[1]
        assert "Sleep report notebook" not in html  # the remove-in-report note
        assert "<script" not in html and not re.search(r'(src|href)="https?:', html)  # static, offline


def test_reports_show_the_numbers_of_cpap_lab_analyze(pool_run, sample_paths):
    _, out, results = pool_run
    for path in sample_paths:
        expected = analyze_json(path)
        shown = summary_rows((out / "reports" / f"{path.stem}.html").read_text())
        assert shown == summary_table(expected)["value"].to_dict()
        assert shown["Breaths"] == str(expected["breath_count"])
        assert shown["Apneas"] == str(expected["apnea_count"])
        assert shown["Apnea index (AASM severity)"] == f"{expected['apnea_index']:.1f} /h ({expected['severity']})"
        assert results[path.stem]["summary"]["analysis"] == expected


def test_index_lists_patients_flags_severe_and_lists_the_failure(pool_run):
    _, out, _ = pool_run
    index = (out / "index.html").read_text()
    reports, failures = html_tables(index)
    by_name = {row[0]: row for row in reports[1:]}
    assert set(by_name) == {"severe_apnea", "fast_breathing"}
    assert by_name["severe_apnea"][-1] == "⚠ severe" and by_name["fast_breathing"][-1] == "normal"
    assert '<tr class="severe"><td class="name"><a href="reports/severe_apnea.html">' in index
    assert failures[1][0] == "broken_night" and failures[1][1].startswith("RecordingError: ")
    assert "broken_night.txt" in failures[1][1]
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
        html = (out / result.html).read_text()
        assert summary_rows(html) == summary_rows(before[result.name])
        assert html_tables(html)[1:] == html_tables(before[result.name])[1:]  # events table
    assert not (out / "notebooks" / "broken_night.ipynb").exists()  # the re-run replaced the old outputs
    assert "Failed" not in (out / "index.html").read_text()
