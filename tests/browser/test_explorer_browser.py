"""The signal explorer in Chromium, against a real Voilà server."""

from __future__ import annotations

import re

import pytest

from support import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STATUS = ".cpap-explorer .cpap-chart-status"


def test_explorer_opens_zooms_reanalyses_exports_and_reports_bad_paths(new_page, artifacts, tmp_path):
    page = new_page()
    tab = page.open("explorer.ipynb", ready=".cpap-explorer")
    tab.wait_for_selector("text=Opened severe_apnea.txt", timeout=60_000)
    tab.wait_for_selector(".cpap-explorer svg.svg-figure")

    # the numbers, with the apnea count in red
    assert tab.inner_text(".cpap-summary-apneas").strip() == "6"
    color = tab.eval_on_selector(".cpap-apnea-count", "e => getComputedStyle(e).color")
    assert color == "rgb(198, 40, 40)"
    assert tab.inner_text(".cpap-summary-apnea-index").strip() == "36.0 /h"
    assert tab.inner_text(".cpap-summary-severity").strip() == "severe"
    assert tab.locator(".cpap-events tbody tr").count() == 8
    status = tab.inner_text(STATUS)
    assert status.startswith("3,000 of 60,000 points")

    # a mouse-wheel zoom re-decimates the visible window
    figure = tab.locator(".cpap-explorer svg.svg-figure").first
    box = figure.bounding_box()
    tab.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    for _ in range(3):
        tab.mouse.wheel(0, -300)
    tab.wait_for_function(f"old => document.querySelector('{STATUS}').innerText !== old", arg=status)
    lo, hi = (float(x.replace(",", "")) for x in re.search(r"([\d,.]+)–([\d,.]+) s", tab.inner_text(STATUS)).groups())
    assert 2.7 < lo < hi < 602.7
    points = int(tab.inner_text(STATUS).split(" of ")[0].replace(",", ""))
    assert points <= 3000

    # another method re-runs the analysis and updates the summary
    tab.select_option(".cpap-method select", label="Gap rule (old system)")
    tab.wait_for_selector("text=Re-analysed", timeout=30_000)
    wait_until(lambda: "Gap rule" in tab.inner_text(".cpap-summary-method"), timeout=10)
    assert "Gap rule" in tab.inner_text(".cpap-summary-method")

    # CSV export works offline (a data: link)
    with tab.expect_download() as download_info:
        tab.click("a.cpap-download[download$='_events.csv']")
    csv_path = tmp_path / "events.csv"
    download_info.value.save_as(csv_path)
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("kind,start_s,end_s") and len(lines) > 1

    tab.screenshot(path=str(artifacts / "explorer.png"), full_page=True)

    # a bad path is a sentence in the page, never a traceback
    tab.fill(".cpap-explorer input[placeholder^='/path/to/night.txt']", "/no/such/night.txt")
    tab.click("text=Open path")
    message = tab.wait_for_selector(".cpap-explorer .cpap-message-error")
    assert message.inner_text().strip() == "/no/such/night.txt: file not found"
    assert "Traceback" not in tab.inner_text("body")
    assert [u for u in page.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))] == []
    tab.screenshot(path=str(artifacts / "explorer-error.png"), full_page=True)
