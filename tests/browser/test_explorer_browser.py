"""The signal explorer in Chromium, against a real Voilà server."""

from __future__ import annotations

import re

import pytest

from support import REFERENCE_DATA, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STATUS = ".cpap-explorer .cpap-chart-status"
PATH_INPUT = ".cpap-explorer input[placeholder^='/path/to/night.txt']"
AIRSENSE11 = REFERENCE_DATA.resolve() / "resmed_airsense11" / "DATALOG" / "20241017"
CLOCK_WINDOW = re.compile(r"(\d\d:\d\d:\d\d)–(\d\d:\d\d:\d\d)")


def _in_viewport(tab, selector: str) -> bool:
    box = tab.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900 and box["x"] + box["width"] <= 1440


def _open_by_path_at_1440x900(new_page, path, opened: str):
    """A tab at 1440x900 with the explorer's first sample shown, then ``path`` opened by path (until ``opened``)."""
    tab = new_page().open("explorer.ipynb", ready=".cpap-explorer")
    tab.set_viewport_size({"width": 1440, "height": 900})
    tab.wait_for_selector("text=Opened severe_apnea.txt", timeout=60_000)
    tab.fill(PATH_INPUT, str(path))
    tab.click("text=Open path")
    tab.wait_for_selector(f"text={opened}", timeout=120_000)
    return tab


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
    assert tab.locator(".cpap-event-list option").count() == 8
    status = tab.inner_text(STATUS)
    assert status.startswith("3,000 of 60,000 points") and "elapsed time" in status  # a lab file has no clock

    # a mouse-wheel zoom re-decimates the visible window
    figure = tab.locator(".cpap-explorer .cpap-flow-chart").first
    box = figure.bounding_box()
    tab.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    for _ in range(3):
        tab.mouse.wheel(0, -300)
    tab.wait_for_function(f"old => document.querySelector('{STATUS}').innerText !== old", arg=status)
    span = float(re.search(r"; ([\d,.]+) s\)", tab.inner_text(STATUS)).group(1).replace(",", ""))
    assert 0 < span < 600
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

    # a path outside the data folders is refused with the rule, never a traceback
    tab.fill(PATH_INPUT, "/etc/shadow")
    tab.click("text=Open path")
    message = tab.wait_for_selector(".cpap-explorer .cpap-message-error")
    text = message.inner_text().strip()
    assert text.startswith("/etc/shadow: not inside a data folder; open by path reads only regular files")
    assert "Traceback" not in tab.inner_text("body")
    assert [u for u in page.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))] == []
    tab.screenshot(path=str(artifacts / "explorer-error.png"), full_page=True)


def test_a_resmed_night_shows_stacked_channels_and_an_event_click_zooms_to_it(new_page, artifacts):
    tab = _open_by_path_at_1440x900(new_page, AIRSENSE11, "Opened 20241017")

    # chart first: the flow and every slider on screen together at 1440x900
    assert _in_viewport(tab, ".cpap-explorer .cpap-flow-chart")
    assert _in_viewport(tab, ".cpap-explorer-controls .widget-slider >> nth=-1")
    # the stacked channels under the flow, sharing its clock-time axis
    for channel in ("pressure", "leak", "resp-rate", "tidal-volume"):
        assert tab.locator(f".cpap-channel-{channel}").is_visible(), channel
    assert not tab.locator(".cpap-channel-spo2").is_visible()  # this night has no oximeter data
    lanes = tab.locator(".cpap-event-lanes")
    assert lanes.is_visible()
    legend = tab.inner_text(".cpap-chart-legend")
    for text in ("obstructive apnea (device)", "central apnea (device)", "hypopnea (device)"):
        assert text in legend
    status = tab.inner_text(STATUS)
    assert re.search(r"of 802,500 points, 22:18:49–\d\d:\d\d:\d\d \(clock time", status), status
    tab.screenshot(path=str(artifacts / "explorer-night-1440x900.png"))

    # a click on the device's central apnea (second-to-last mark: ours first, then the device's three)
    marks = lanes.locator(".object_grp")
    assert marks.count() == tab.locator(".cpap-event-list option").count()
    marks.nth(marks.count() - 2).click()
    tab.wait_for_function(f"old => document.querySelector('{STATUS}').innerText !== old", arg=status)
    lo, hi = CLOCK_WINDOW.search(tab.inner_text(STATUS)).groups()
    assert "06:54:00" < lo < "06:54:47" and "06:54:57" < hi < "06:56:00", (lo, hi)
    selected = tab.eval_on_selector(".cpap-event-list select", "s => s.options[s.selectedIndex].text")
    assert selected.split()[:3] == ["06:54:47", "device", "Central"]
    # every panel followed the zoom: the leak (0.5 Hz) now has only the window's few dozen points
    wait_until(lambda: tab.locator(".cpap-channel-leak path.line").first.get_attribute("d").count("L") < 100, 10)
    tab.screenshot(path=str(artifacts / "explorer-night-event-1440x900.png"))

    # a click on an events-table row zooms too
    status = tab.inner_text(STATUS)
    tab.select_option(".cpap-event-list select", index=tab.locator(".cpap-event-list option").count() - 3)
    tab.wait_for_function(f"old => document.querySelector('{STATUS}').innerText !== old", arg=status)
    lo, hi = CLOCK_WINDOW.search(tab.inner_text(STATUS)).groups()
    assert "06:53:30" < lo < "06:54:23" < "06:54:33" < hi < "06:55:30", (lo, hi)


def test_an_uploaded_brp_alone_says_its_device_events_are_not_included(new_page, artifacts):
    page = new_page()
    tab = page.open("explorer.ipynb", ready=".cpap-explorer")
    tab.wait_for_selector("text=Opened severe_apnea.txt", timeout=60_000)
    with tab.expect_file_chooser() as chooser:
        tab.click(".cpap-explorer .widget-upload")
    assert chooser.value.is_multiple()  # a session's files go together
    chooser.value.set_files(str(AIRSENSE11 / "20241018_021408_BRP.edf"))
    tab.wait_for_selector("text=Opened 20241018_021408_BRP.edf", timeout=60_000)
    body = tab.inner_text("body")
    assert "Device events not included in this upload." in body
    assert "scored no events" not in body
    assert "device events not included in this upload" in tab.inner_text(".cpap-chart-legend")


def test_a_card_root_opens_its_latest_night_and_another_in_one_click(new_page, artifacts, card_folder):
    tab = _open_by_path_at_1440x900(new_page, card_folder, "Opened the night of 2024-10-17 from the card (4 nights)")
    nights = tab.locator(".cpap-night-picker option")
    assert [" ".join(t.split()) for t in nights.all_inner_texts()] == [
        "2024-10-18 0.0 h AHI n/a cannot be read",
        "2024-10-17 7.3 h AHI 10.9 (EVE)",
        "2024-10-16 9.2 h AHI 1.3 (EVE)",
        "2024-10-15 8.9 h AHI 0.3 (EVE)",
    ]
    assert "Nights that cannot be read: 2024-10-18 (" in tab.inner_text(".cpap-explorer .cpap-message-warning")
    assert _selected_night(tab).startswith("2024-10-17")
    # with the card's nights listed, the chart and every slider are still on screen together
    assert _in_viewport(tab, ".cpap-night-picker")
    assert _in_viewport(tab, ".cpap-explorer .cpap-flow-chart")
    assert _in_viewport(tab, ".cpap-explorer-controls .widget-slider >> nth=-1")
    tab.screenshot(path=str(artifacts / "explorer-card-1440x900.png"))

    # one click on an older night opens it
    status = tab.inner_text(STATUS)
    nights.nth(3).click()
    tab.wait_for_selector("text=Opened the night of 2024-10-15 from the card (4 nights)", timeout=120_000)
    tab.wait_for_function(f"old => document.querySelector('{STATUS}').innerText !== old", arg=status)
    status = tab.inner_text(STATUS)
    assert re.search(r"of 802,500 points, 22:18:49–\d\d:\d\d:\d\d \(clock time", status)
    assert "obstructive apnea (device)" in tab.inner_text(".cpap-chart-legend")
    tab.screenshot(path=str(artifacts / "explorer-card-other-night-1440x900.png"))

    # a click on the unreadable night: a sentence, and the night on screen stays (chart and list)
    nights.nth(0).click()
    error = tab.wait_for_selector(".cpap-explorer .cpap-message-error", timeout=60_000).inner_text().strip()
    assert error.startswith("The night of 2024-10-18 cannot be opened: ")
    assert error.endswith("; still showing the night of 2024-10-15.")
    wait_until(lambda: _selected_night(tab).startswith("2024-10-15"), timeout=10)
    assert _selected_night(tab).startswith("2024-10-15") and tab.inner_text(STATUS) == status
    assert "Traceback" not in tab.inner_text("body")


def _selected_night(tab) -> str:
    return tab.eval_on_selector(
        ".cpap-night-picker select", "s => s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].text"
    )
