"""Reports on real data: a lab venturi file and a ResMed AirSense 11 night show the library's numbers.

Also the screenshots of page 1 and of the index (Chromium, headless) in ``test-artifacts/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cpap_lib.analysis import analyze
from cpap_lib.io import read_device_data, read_recording
from cpap_lib.reports.night import severity_of_ahi, weighted_quantile
from support import REFERENCE_DATA

from .conftest import REPO, cli, html_tables, table_rows

pytestmark = pytest.mark.slow

LAB_FILE = REFERENCE_DATA / "venturi" / "patient_07.txt"
RESMED_NIGHT = REFERENCE_DATA / "resmed_airsense11"
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference_reports")
    done = cli(
        "report",
        str(LAB_FILE),
        str(RESMED_NIGHT),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
        env={"CPAP_LAB_TZ": "Europe/Berlin"},
    )
    assert done.returncode == 0, done.stderr
    return out, {r["name"]: r for r in json.loads((out / "results.json").read_text())}


def _page_one(out: Path, name: str) -> tuple[str, dict[str, str]]:
    html = (out / "reports" / f"{name}.html").read_text()
    return html, table_rows(html, "Measure")


def _check_library_numbers(shown: dict[str, str], a: dict) -> None:
    hours = a["duration_s"] / 3600
    assert shown["AHI"] == f"{a['ahi']:.1f} /h ({severity_of_ahi(a['ahi'])})"
    assert shown["Apnea index"] == f"{a['apnea_index']:.1f} /h ({a['apnea_count']} apneas)"
    assert shown["Hypopneas"] == f"{a['hypopnea_count']} ({a['hypopnea_count'] / hours:.1f} /h)"
    assert shown["Breath rate"] == f"{a['breath_rate_bpm']:.1f} breaths/min"


def test_lab_file_report_shows_the_library_numbers(reference_run):
    out, results = reference_run
    a = analyze(read_recording(LAB_FILE)).to_dict()
    html, shown = _page_one(out, LAB_FILE.stem)
    _check_library_numbers(shown, a)
    assert results[LAB_FILE.stem]["summary"]["analysis"] == json.loads(json.dumps(a))
    assert "No pressure recorded for this night." in html  # a lab file has no pressure channel
    assert LAB_FILE.name in html and "sha256" in html  # the input and its checksum in the footer


def test_resmed_night_report_shows_the_library_and_the_device(reference_run):
    out, _ = reference_run
    night = read_device_data(RESMED_NIGHT)
    a = analyze(night.recording).to_dict()
    html, shown = _page_one(out, RESMED_NIGHT.name)
    _check_library_numbers(shown, a)
    pressure = night.recording.signals["pressure"]
    weights = np.append(np.diff(pressure.time_s), 2.0)
    median = weighted_quantile(pressure.values, weights, 0.5)
    assert shown["Pressure median / 95th percentile (cmH2O)"].startswith(f"{median:.1f} / ")
    assert "night of 2024-10-17" in html and "22:18 CEST" in html  # the device's clock, the lab's zone
    device = next(t for t in html_tables(html) if t[0] == ["Measure", "This analysis", "Device"])
    rows = {row[0]: row for row in device[1:]}
    assert rows["AHI (/h)"][2] == f"{night.summary['ahi']:.1f}"  # the device's own summary (STR.edf)
    assert rows["Central / obstructive apneas"][2] == "1 / 1"
    assert rows["Central / obstructive apneas"][1] == f"{a['central_apnea_count']} / {a['obstructive_apnea_count']}"
    events = next(t for t in html_tables(html) if t[0][0].startswith("Clock time"))
    assert sum(row[-1] == "device" for row in events[1:]) == len(night.events)
    assert sum(row[-1] == "this analysis" for row in events[1:]) == a["apnea_count"] + a["hypopnea_count"]
    titration = next(t for t in html_tables(html) if t[0][0] == "Pressure (cmH2O)")
    assert len(titration) > 2  # an AutoSet night spends time at several pressures


def test_screenshots_of_page_one_and_the_index(reference_run, browser):
    out, _ = reference_run
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 820, "height": 1160})  # about A4 at 96 dpi
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto((out / "reports" / f"{RESMED_NIGHT.name}.html").as_uri())
    page.screenshot(path=ARTIFACTS / "report-page-1.png")
    pdf = page.pdf(format="A4")
    assert pdf[:4] == b"%PDF" and page.locator("table.report-table").count() >= 4
    page.goto((out / "index.html").as_uri())
    page.click("th:has-text('AHI (/h)')")  # sort by AHI, ascending
    first = page.locator("#reports tbody tr").first.locator("td").first.inner_text()
    assert first == LAB_FILE.stem or first == RESMED_NIGHT.name
    page.screenshot(path=ARTIFACTS / "report-index.png")
    page.close()
    assert all(url.startswith("file://") or url.startswith("data:") for url in requests)  # offline: nothing fetched
    assert (ARTIFACTS / "report-page-1.png").stat().st_size > 10_000
