"""The night in Chromium: alarm states, their order and acknowledgement, the wall layouts, the titration log,
notes, clock-time axes and the forms a nurse touches. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import struct
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from support import wait_until

from .conftest import LAB_TZ, NO_DATA_MIN

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLE = "mild_apnea.txt"


def _upload(client, room, mrn, *, name=None, pressure=8, apneas=0, hypopneas=0, minutes=5.0, leak=2.0):
    return client.upload_measurement(
        room,
        mrn,
        name=name or f"Patient {mrn}",
        cpap_pressure=pressure,
        analysis={
            "apnea_count": apneas,
            "hypopnea_count": hypopneas,
            "duration_s": minutes * 60,
            "leak_lpm": leak,
            "breath_rate_bpm": 14.0,
        },
    )


def _tile_order(tab) -> list[int]:
    return [int(x) for x in tab.eval_on_selector_all(".cpap-card[data-room]", "els => els.map(e => e.dataset.room)")]


def _state(tab, room) -> str:
    return tab.get_attribute(f".cpap-room-{room} .cpap-card", "data-state") or ""


def _inside_viewport(tab, selector: str, width: int, height: int) -> bool:
    box = tab.locator(selector).bounding_box()
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width + 1
        and box["y"] + box["height"] <= height + 1
    )


def _seed_states(client):
    """Rooms 51-54 in four states (fresh: nothing else becomes no_data for NO_DATA_MIN)."""
    _upload(client, 51, "AHI-51", apneas=3, hypopneas=2, minutes=10)  # 30/h
    for _ in range(3):
        _upload(client, 52, "RUN-52", apneas=1, minutes=60)  # apneas in three uploads running
    _upload(client, 53, "LEAK-53", leak=40.0)
    _upload(client, 54, "OK-54")


def test_each_alarm_state_appears_sorts_and_is_acknowledged(new_page, api, artifacts):
    _url, client = api
    client.admit(55, "ND-55", name="Silent Device")  # no data since admission: the loudest
    page = new_page((1920, 1080))
    tab = page.open("monitor.ipynb", ready=".cpap-room-55")
    # the silent room turns into the loudest alarm by itself
    assert wait_until(lambda: _state(tab, 55) == "no_data", timeout=NO_DATA_MIN * 60 + 20)
    assert tab.inner_text(".cpap-room-55 .cpap-state") == "NO DATA"
    _seed_states(client)
    assert wait_until(
        lambda: (
            _state(tab, 51) == "ahi_high"
            and _state(tab, 52) == "apnea_run"
            and _state(tab, 53) == "high_leak"
            and _state(tab, 54) == "ok"
        ),
        timeout=12,
    )
    assert tab.inner_text(".cpap-room-51 .cpap-state") == "AHI HIGH"
    assert "AHI 30.0/h over the last 30 min" in tab.inner_text(".cpap-room-51 .cpap-detail")
    order = _tile_order(tab)
    assert order.index(55) < order.index(51) < order.index(52) < order.index(53) < order.index(54), order
    tab.screenshot(path=str(artifacts / "alarm-board-states.png"))

    # acknowledge the AHI alarm with who and a note (Enter in the note sends)
    _seed_states(client)
    tab.click(".cpap-room-51 .cpap-ack-button")
    tab.fill(".cpap-ack-who input", "Nurse <Ann>")
    tab.fill(".cpap-ack-note input", "mask refitted & patient asleep")
    tab.press(".cpap-ack-note input", "Enter")
    tab.wait_for_selector(".cpap-room-51 .cpap-ack", timeout=12_000)
    ack = tab.inner_text(".cpap-room-51 .cpap-ack")
    assert "Nurse <Ann>" in ack and "mask refitted & patient asleep" in ack  # shown as text
    assert tab.locator(".cpap-room-51 .cpap-ack-button").is_hidden()
    order = _tile_order(tab)
    assert order.index(53) < order.index(51) < order.index(54), order  # open alarms first, then acknowledged
    assert client.timeline(51).acknowledgements[-1].note == "mask refitted & patient asleep"
    tab.screenshot(path=str(artifacts / "alarm-board-acknowledged.png"))
    # the state changes: the acknowledgement no longer holds
    _upload(client, 51, "AHI-51", apneas=0, minutes=240, leak=45.0)  # AHI back down, a high leak now
    assert wait_until(lambda: _state(tab, 51) == "high_leak", timeout=10)
    assert tab.locator(".cpap-room-51 .cpap-ack").count() == 0
    assert page.dialogs == [] and tab.locator('img[src="x"]').count() == 0


@pytest.mark.parametrize("width, height, rooms", [(1920, 1080, 20), (1440, 900, 8)])
def test_the_board_fits_the_screen_without_scrolling(new_page, api, artifacts, width, height, rooms):
    _url, client = api
    for room in range(61, 81):
        _upload(client, room, f"WALL-{room}", name=f"Wall Patient {room}", apneas=room % 3)
    tab = new_page((width, height)).open("monitor.ipynb", ready=".cpap-room-80")
    order = _tile_order(tab)
    assert len(order) >= rooms
    for room in order[:rooms]:
        assert _inside_viewport(tab, f".cpap-room-{room}", width, height), (room, width, height)
    assert tab.evaluate("window.scrollY") == 0
    tab.screenshot(path=str(artifacts / f"alarm-board-{width}x{height}.png"))


def test_titration_table_after_three_commanded_steps_notes_and_clock_axes(new_page, api, artifacts):
    _url, client = api
    room = 91
    _upload(client, room, "TIT-91", name="Titration Patient", pressure=6, apneas=3, hypopneas=1)
    width, height = 1920, 1080
    tab = new_page((width, height)).open("monitor.ipynb", ready=f".cpap-room-{room}")
    tab.locator(f".cpap-room-{room}").scroll_into_view_if_needed()
    tab.mouse.wheel(0, 2000)  # the board scrolled down: the station must still open on the screen
    tab.click(f".cpap-room-{room} .cpap-card-select")
    tab.wait_for_selector(".cpap-station-mrn:text('TIT-91')")
    tab.wait_for_selector(".cpap-station svg.svg-figure")
    facts = tab.locator(".cpap-station .cpap-station-facts").bounding_box()
    assert facts and 0 <= facts["x"] < width and 0 <= facts["y"] < height / 2, facts  # opens where it is seen
    for pressure, apneas in ((7, 2), (8, 1), (9, 0)):
        tab.fill(".cpap-station .cpap-pressure-input input", str(pressure))
        tab.press(".cpap-station .cpap-pressure-input input", "Enter")  # Enter sends
        assert wait_until(lambda pressure=pressure: client.poll_pressure(room).cmh2o == pressure, timeout=15)
        _upload(client, room, "TIT-91", name="Titration Patient", pressure=pressure, apneas=apneas, minutes=6)
    rows = tab.locator(".cpap-titration-table tbody tr")
    assert wait_until(lambda: rows.count() == 4, timeout=20)
    cells = [c.strip() for c in rows.nth(3).inner_text().split("\t")]
    assert cells[1] == "9 cmH2O" and cells[3] == "6 min" and cells[4] == "0" and cells[8].startswith("anonymous at")
    assert [r.split("\t")[1].strip() for r in rows.all_inner_texts()] == ["6 cmH2O", "7 cmH2O", "8 cmH2O", "9 cmH2O"]
    prompt = tab.inner_text(".cpap-titration-prompt")
    assert "No raise suggested" in prompt
    # clock time in the lab's zone: the table and the night chart's axis
    night = client.timeline(room)
    lab = ZoneInfo(LAB_TZ)
    first = night.measurements[0].recorded_at.astimezone(lab).strftime("%H:%M:%S")
    assert rows.nth(0).inner_text().split("\t")[2].strip().startswith(first)
    ticks = tab.eval_on_selector_all(
        ".cpap-night-chart .axis text, .cpap-night-chart g.tick text", "els => els.map(e => e.textContent)"
    )
    hour = datetime.now(UTC).astimezone(lab).strftime("%H:")
    assert any(t.startswith(hour) for t in ticks), ticks
    assert (
        f"clock time ({datetime.now(lab).tzname()})" in " ".join(ticks)
        or tab.locator(".cpap-night-chart").inner_text().find("clock time") >= 0
    )

    # a note, escaped, numbered on the timeline
    tab.fill(".cpap-note-who input", "Tech <T>")
    tab.fill(".cpap-note-input input", "Mask <leak> fixed & asleep")
    tab.press(".cpap-note-input input", "Enter")
    tab.wait_for_selector(".cpap-note-text", timeout=20_000)
    assert tab.inner_text(".cpap-note-text") == "Mask <leak> fixed & asleep"
    assert "Tech <T>" in tab.inner_text(".cpap-note-author")
    assert tab.locator("leak").count() == 0
    assert client.notes(room)[0].text == "Mask <leak> fixed & asleep"
    tab.screenshot(path=str(artifacts / "station-titration.png"), full_page=True)


def test_a_preset_from_the_old_route_is_the_first_step_with_who_sent_it(new_page, api):
    url, client = api
    room = 97
    assert requests.get(f"{url}/new_cpap_pressure/{room}/11", timeout=5).ok  # the old client presets the empty room
    _upload(client, room, "PRE-97", name="Preset Patient", pressure=11, apneas=1)
    preset = client.timeline(room).commands[0]
    tab = new_page((1920, 1080)).open("monitor.ipynb", ready=f".cpap-room-{room}")
    tab.locator(f".cpap-room-{room}").scroll_into_view_if_needed()
    tab.click(f".cpap-room-{room} .cpap-card-select")
    tab.wait_for_selector(".cpap-station-mrn:text('PRE-97')")
    rows = tab.locator(".cpap-titration-table tbody tr")
    assert wait_until(lambda: rows.count() == 1, timeout=20)
    cells = [c.strip() for c in rows.nth(0).inner_text().split("\t")]
    when = preset.commanded_at.astimezone(ZoneInfo(LAB_TZ)).strftime("%H:%M")
    assert cells[1] == "11 cmH2O" and cells[8] == f"legacy client 127.0.0.1 at {when} (before admission)", cells


def test_a_raise_prompt_fills_the_field_and_sends_nothing(new_page, api):
    _url, client = api
    room = 92
    _upload(client, room, "RAISE-92", pressure=10, apneas=3, minutes=10)
    tab = new_page().open("monitor.ipynb", ready=f".cpap-room-{room}")
    tab.click(f".cpap-room-{room} .cpap-card-select")
    tab.wait_for_selector(".cpap-prompt-raise", timeout=20_000)
    assert "raise CPAP to 11 cmH2O" in tab.inner_text(".cpap-titration-prompt")
    tab.click(".cpap-use-prompt")
    assert wait_until(lambda: tab.input_value(".cpap-station .cpap-pressure-input input") == "11", timeout=10)
    time.sleep(2)
    assert client.poll_pressure(room).command_id is None  # a suggestion is never sent by itself


def test_a_pressure_error_stays_by_the_field_through_refreshes(new_page, api):
    _url, client = api
    room = 93
    _upload(client, room, "ERR-93")
    tab = new_page().open("monitor.ipynb", ready=f".cpap-room-{room}")
    tab.click(f".cpap-room-{room} .cpap-card-select")
    tab.wait_for_selector(".cpap-station-mrn:text('ERR-93')")
    tab.fill(".cpap-station .cpap-pressure-input input", "30")
    error = tab.locator(".cpap-station .cpap-pressure-error .cpap-message-error")
    error.wait_for(timeout=15_000)
    _upload(client, room, "ERR-93")  # new data: the station reloads (pages refresh every second)
    time.sleep(4)
    assert error.count() == 1 and "'30'" in error.inner_text()
    tab.fill(".cpap-station .cpap-pressure-input input", "12")
    assert wait_until(lambda: error.count() == 0, timeout=10)


def test_the_bedside_forms(new_page, api, artifacts, tmp_path):
    _url, client = api
    room = 94
    client.admit(room, "BED-94", name="Admitted Patient")
    page = new_page()
    tab = page.open("bedside.ipynb", query=f"room={room}", ready=".cpap-bedside")
    # the patient already admitted to the room is filled in
    assert wait_until(lambda: tab.input_value(".cpap-mrn-input input") == "BED-94", timeout=20)
    assert tab.input_value(".cpap-name-input input") == "Admitted Patient"
    tab.select_option(".cpap-sample-select select", label=SAMPLE)
    tab.wait_for_selector(f".cpap-bedside-results:has-text('{SAMPLE}')", timeout=60_000)
    # a failed file keeps the last good recording
    broken = tmp_path / "broken.txt"
    broken.write_text("not,a\nlab,file\n")
    with tab.expect_file_chooser() as chooser:
        tab.click(".cpap-file-upload")
    chooser.value.set_files(str(broken))
    tab.wait_for_selector(".cpap-bedside .cpap-message-error:has-text('Still showing')", timeout=30_000)
    assert SAMPLE in tab.inner_text(".cpap-bedside-results")
    # Enter uploads
    tab.press(".cpap-pressure-input input", "Enter")
    tab.wait_for_selector(".cpap-bedside .cpap-message-success:has-text('uploaded')", timeout=30_000)
    # a saved PNG names room, patient and time, large enough to print
    with tab.expect_download(timeout=30_000) as download:
        tab.click(".cpap-bedside .cpap-flow-chart-box button:has-text('Save PNG')")
    name = download.value.suggested_filename
    assert name.startswith(f"room{room}_BED-94_") and name.endswith("_bedside.png"), name
    saved = tmp_path / name
    download.value.save_as(saved)
    png_width = struct.unpack(">I", saved.read_bytes()[16:20])[0]
    assert png_width >= 2400, png_width
    # Reset asks, keeps the room from the URL
    tab.click(".cpap-reset")
    tab.wait_for_selector(".cpap-reset-question")
    tab.click(".cpap-reset-cancel")
    assert tab.input_value(".cpap-mrn-input input") == "BED-94"
    tab.click(".cpap-reset")
    tab.click(".cpap-reset-confirm")
    assert wait_until(lambda: tab.input_value(".cpap-mrn-input input") == "", timeout=10)
    assert tab.input_value(".cpap-room-input input") == str(room)
    tab.screenshot(path=str(artifacts / "bedside-forms.png"), full_page=True)
