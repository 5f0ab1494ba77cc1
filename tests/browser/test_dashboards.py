"""The staff and bedside pages in Chromium, against real Voilà and API servers."""

from __future__ import annotations

import time

import pytest

from support import wait_until

from .conftest import SEEDED

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RED = "rgb(198, 40, 40)"  # theme.ALERT_COLOR


def card_text(tab, room: int, css: str) -> str:
    return tab.inner_text(f".cpap-room-{room} .{css}").strip()


def test_overview_shows_every_seeded_room_with_its_numbers(new_page, artifacts):
    page = new_page()
    tab = page.open("monitor.ipynb", ready=".cpap-room-3")
    for room, (mrn, name, pressure, _rate, _apneas, _index) in SEEDED.items():
        assert card_text(tab, room, "cpap-room") == f"Room {room}"
        assert card_text(tab, room, "cpap-mrn-value") == mrn
        assert card_text(tab, room, "cpap-name") == name  # shown as text, even the <img ...> one
        assert card_text(tab, room, "cpap-pressure") == f"{pressure} cmH2O"
        assert card_text(tab, room, "cpap-state")  # every tile names its alarm state
    # the hostile name stayed text: no element was made from it and no script ran
    assert tab.locator('img[src="x"]').count() == 0
    assert page.dialogs == []
    # nothing the page needs comes from the internet
    assert [u for u in page.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))] == []
    tab.screenshot(path=str(artifacts / "overview.png"), full_page=True)


def test_invalid_pressures_are_refused_and_a_command_reaches_server_and_bedside(new_page, api, artifacts):
    _url, client = api
    room = 3
    bedside_page = new_page()
    bedside = bedside_page.open("bedside.ipynb", query=f"room={room}", ready=".cpap-bedside")
    assert bedside.input_value(".cpap-room-input input") == str(room)
    staff_page = new_page()
    staff = staff_page.open("monitor.ipynb", ready=f".cpap-room-{room}")
    staff.click(f".cpap-room-{room} .cpap-card-select")
    staff.wait_for_selector(f".cpap-station-mrn:text('{SEEDED[room][0]}')")
    staff.wait_for_selector(".cpap-station svg.svg-figure")
    assert staff.inner_text(".cpap-station-name") == SEEDED[room][1]

    error = staff.locator(".cpap-station .cpap-pressure-error .cpap-message-error")
    for typed in ("30", "3", "12.5", "ten"):
        staff.fill(".cpap-station .cpap-pressure-input input", typed)
        assert wait_until(lambda typed=typed: error.count() and f"'{typed}'" in error.inner_text(), timeout=15), typed
        assert "4 to 25" in error.inner_text() and "Nothing was sent" in error.inner_text()
        assert staff.is_disabled(".cpap-station .cpap-send-pressure")
    assert client.poll_pressure(room).command_id is None  # nothing was sent

    staff.fill(".cpap-station .cpap-pressure-input input", "12")
    wait_until(lambda: staff.is_enabled(".cpap-station .cpap-send-pressure"), timeout=10)
    staff.click(".cpap-station .cpap-send-pressure")
    staff.wait_for_selector(".cpap-station .cpap-message-success")
    assert wait_until(lambda: client.poll_pressure(room).cmh2o == 12, timeout=10)
    staff.screenshot(path=str(artifacts / "station.png"), full_page=True)

    # the bedside station polls every second and puts the command in its pressure field
    assert wait_until(lambda: bedside.input_value(".cpap-pressure-input input") == "12", timeout=20)
    assert "12 cmH2O" in bedside.inner_text(".cpap-bedside .cpap-message")
    # the bedside refuses an invalid pressure as it is typed
    bedside.fill(".cpap-pressure-input input", "26")
    error = bedside.locator(".cpap-bedside .cpap-pressure-error .cpap-message-error")
    assert wait_until(lambda: error.count() and "'26'" in error.inner_text(), timeout=15)
    assert "4 to 25" in error.inner_text()
    bedside.screenshot(path=str(artifacts / "bedside-command.png"), full_page=True)
    for page in (staff_page, bedside_page):  # nothing the pages need comes from the internet
        assert [u for u in page.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))] == []


def test_a_bedside_upload_appears_in_the_overview_without_reload(new_page, artifacts):
    room, mrn = 4, "BR-004"
    staff = new_page().open("monitor.ipynb", ready=".cpap-room-1")
    assert staff.locator(f".cpap-room-{room}").count() == 0
    bedside = new_page().open("bedside.ipynb", ready=".cpap-bedside")
    bedside.fill(".cpap-name-input input", "Edsger Dijkstra")
    bedside.fill(".cpap-mrn-input input", mrn)
    bedside.fill(".cpap-room-input input", str(room))
    bedside.fill(".cpap-pressure-input input", "9")
    bedside.select_option(".cpap-sample-select select", label="severe_apnea.txt")
    apneas = bedside.locator(".cpap-bedside-apneas")
    apneas.wait_for(timeout=60_000)
    count = int(apneas.inner_text())
    assert count >= 2 and apneas.evaluate("e => getComputedStyle(e).color") == RED
    bedside.wait_for_selector(".cpap-bedside svg.svg-figure")
    wait_until(lambda: bedside.is_enabled(".cpap-upload"), timeout=10)
    bedside.click(".cpap-upload")
    bedside.wait_for_selector(".cpap-bedside .cpap-message-success:has-text('uploaded')")
    assert bedside.is_disabled(".cpap-mrn-input input") and bedside.is_disabled(".cpap-room-input input")
    bedside.screenshot(path=str(artifacts / "bedside-upload.png"), full_page=True)

    # the staff page shows the new room by itself
    staff.wait_for_selector(f".cpap-room-{room}", timeout=20_000)
    assert card_text(staff, room, "cpap-mrn-value") == mrn
    assert card_text(staff, room, "cpap-pressure") == "9 cmH2O"
    assert card_text(staff, room, "cpap-ahi30").endswith("/h")
    staff.screenshot(path=str(artifacts / "overview-after-upload.png"), full_page=True)

    # reset asks, then clears the form and unlocks it
    bedside.click(".cpap-reset")
    bedside.click(".cpap-reset-confirm")
    assert wait_until(
        lambda: (
            bedside.is_enabled(".cpap-mrn-input input")
            and bedside.input_value(".cpap-mrn-input input") == ""
            and bedside.locator(".cpap-bedside-apneas").count() == 0
        ),
        timeout=15,
    )
    assert bedside.is_enabled(".cpap-room-input input") and bedside.input_value(".cpap-room-input input") == ""


def test_a_closed_tab_frees_its_kernel_within_a_minute(new_page, voila):
    before = set(voila.kernel_pids())
    page = new_page()
    page.open("monitor.ipynb", ready=".cpap-room-1")
    mine = wait_until(lambda: set(voila.kernel_pids()) - before, timeout=10)
    assert mine, "no kernel started for the page"
    time.sleep(2)  # the page refreshes itself meanwhile (comm messages must not keep its kernel alive)
    page.close()
    assert wait_until(lambda: not (mine & set(voila.kernel_pids())), timeout=60, interval=1), (
        "the closed tab's kernel is still running after 60 s"
    )
