"""Bedside station against a real server: validation, sample analysis, upload and lock, polling, reset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cpap_lib.dashboard.pages.bedside import BedsideStation, room_from_query, sample_files
from cpap_lib.paths import SAMPLE_DATA_DIR
from support import wait_until

ROOMS = iter(range(7300, 7400))
SAMPLES = SAMPLE_DATA_DIR


@pytest.fixture
def station(client):
    bedside = BedsideStation(client, poll_s=30, autostart=False)
    yield bedside
    bedside.stop()


def load(station, name):
    station.sample_select.value = str(SAMPLES / name)
    assert wait_until(
        lambda: station.analysis is not None and name in station.results.value and station.messages.level == "success"
    ), station.messages.text


def test_query_string_and_samples():
    assert room_from_query("?room=12") == 12
    assert room_from_query("room=0") is None and room_from_query("") is None
    assert {p.name for p in sample_files()} >= {"mild_apnea.txt", "normal_breathing.txt"}


@pytest.mark.parametrize("typed", ["3", "26", "7.5", "x", ""])
def test_pressure_is_checked_as_typed_and_the_error_stays_by_the_field(station, typed):
    station.pressure_input.value = typed
    assert "cpap-invalid" in station.pressure_input._dom_classes
    assert station.pressure_error.level == "error" and "4 to 25" in station.pressure_error.text
    station.messages.show_info("Staff commanded 9 cmH2O")  # other news does not take the field's error away
    assert station.pressure_error.level == "error"
    station.pressure_input.value = "12"
    assert "cpap-invalid" not in station.pressure_input._dom_classes and station.pressure_error.level == ""


def test_a_sample_shows_rate_red_apneas_and_the_chart(station):
    load(station, "severe_apnea.txt")
    html = station.results.value
    assert 'class="cpap-bedside-apneas cpap-alert"' in html and "color:#c62828" in html
    assert station.analysis.apnea_count >= 2
    assert station.chart.flow_points > 0 and len(station.chart.breath_marks.x) > 0
    assert len(station.chart.apnea_shading.x) > 0  # apneas shaded
    load(station, "normal_breathing.txt")
    assert "cpap-alert" not in station.results.value


def test_upload_needs_mrn_and_room_then_locks_them(client, station):
    room = next(ROOMS)
    load(station, "normal_breathing.txt")
    assert station.upload_button.disabled  # no MRN, no room
    station._on_upload()
    assert station.messages.level == "error" and "MRN" in station.messages.text
    station.mrn_input.value = f"BS{room}"
    station.room_input.value = str(room)
    station.name_input.value = "First Name"
    station.pressure_input.value = "9"
    assert not station.upload_button.disabled
    station.upload_button.click()
    assert wait_until(lambda: station.uploads == 1), station.messages.text
    assert station.mrn_input.disabled and station.room_input.disabled and station.locked
    state = client.room(room)
    assert (state.mrn, state.name, state.latest_measurement.cpap_pressure_cmh2o) == (f"BS{room}", "First Name", 9)
    # later uploads add measurements; a changed name replaces the stored one
    station.name_input.value = "Changed Name"
    station.upload_button.click()
    assert wait_until(lambda: station.uploads == 2), station.messages.text
    assert client.room(room).name == "Changed Name"
    assert len(client.measurements(room)) == 2


def test_a_commanded_pressure_reaches_the_pressure_field(client, station):
    room = next(ROOMS)
    client.admit(room, f"BS{room}", "Polled")
    station.room_input.value = str(room)
    station.poll_pressure()
    assert station.pressure_input.value == "8"  # nothing commanded yet
    client.command_pressure(room, 13)
    station.poll_pressure()
    assert station.pressure_input.value == "13"
    assert "13 cmH2O" in station.messages.text


def test_polling_runs_by_itself(client):
    room = next(ROOMS)
    client.admit(room, f"BS{room}", "Polled")
    client.command_pressure(room, 17)
    station = BedsideStation(client, room=room, poll_s=0.2)
    try:
        assert wait_until(lambda: station.pressure_input.value == "17")
    finally:
        station.stop()


def test_reset_clears_everything_and_unlocks(client, station):
    room = next(ROOMS)
    load(station, "mild_apnea.txt")
    station.mrn_input.value, station.room_input.value, station.name_input.value = f"BS{room}", str(room), "Old"
    station.upload_button.click()
    assert wait_until(lambda: station.uploads == 1), station.messages.text
    station.reset_button.click()
    assert station.reset_question.layout.display == "" and station.uploads == 1  # it asks first
    station.cancel_reset_button.click()
    assert station.mrn_input.value == f"BS{room}" and station.reset_question.layout.display == "none"
    station.reset_button.click()
    station.confirm_reset_button.click()
    assert (station.name_input.value, station.mrn_input.value, station.room_input.value) == ("", "", "")
    assert not station.mrn_input.disabled and not station.room_input.disabled and not station.locked
    assert station.analysis is None and station.chart.flow_points == 0 and "No recording" in station.results.value
    assert station.upload_button.disabled
    # nothing of the previous patient can be uploaded with the next
    other = next(ROOMS)
    station.mrn_input.value, station.room_input.value = f"BS{other}", str(other)
    station._on_upload()
    assert station.messages.level == "error" and "recording" in station.messages.text
    with pytest.raises(Exception, match="not found"):
        client.room(other)


def test_reset_keeps_the_room_the_page_was_opened_for(client):
    room = next(ROOMS)
    station = BedsideStation(client, room=room, autostart=False)
    station.name_input.value = "Someone"
    station.reset()
    assert station.room_input.value == str(room) and station.name_input.value == ""


def test_the_patient_admitted_to_the_room_is_filled_in(client):
    room = next(ROOMS)
    client.admit(room, f"AD{room}", name="Admitted <Patient>")
    station = BedsideStation(client, room=room, autostart=False)
    assert wait_until(lambda: station.mrn_input.value == f"AD{room}")
    assert station.name_input.value == "Admitted <Patient>"


def test_enter_uploads_when_the_form_is_complete(client, station):
    room = next(ROOMS)
    station.mrn_input.value, station.room_input.value = f"EN{room}", str(room)
    station._submit()  # no recording yet: says what is missing
    assert station.messages.level == "error" and "recording" in station.messages.text
    load(station, "mild_apnea.txt")
    station._submit()
    assert wait_until(lambda: station.uploads == 1), station.messages.text


def test_a_failed_file_keeps_the_last_good_recording(station):
    load(station, "mild_apnea.txt")
    good, points = station.analysis, station.chart.flow_points
    station.file_upload.value = (
        {
            "name": "broken.txt",
            "type": "text/plain",
            "size": 9,
            "content": memoryview(b"not,a\nlab,file\n"),
            "last_modified": datetime(2026, 1, 1, tzinfo=UTC),
        },
    )
    assert wait_until(lambda: station.messages.level == "error")
    assert "broken.txt" in station.messages.text and "Still showing mild_apnea.txt" in station.messages.text
    assert station.analysis is good and station.chart.flow_points == points


def test_a_saved_png_names_room_patient_and_time(station):
    station.mrn_input.value, station.room_input.value = "PNG-1", "42"
    load(station, "mild_apnea.txt")
    assert station.chart.png_name.startswith("room42_PNG-1_") and station.chart.png_name.endswith("_bedside.png")


def test_a_bad_upload_file_is_a_sentence(station):
    station.file_upload.value = (
        {
            "name": "broken.txt",
            "type": "text/plain",
            "size": 9,
            "content": memoryview(b"not,a\nlab,file\n"),
            "last_modified": datetime(2026, 1, 1, tzinfo=UTC),
        },
    )
    assert wait_until(lambda: station.messages.level == "error")
    assert "broken.txt" in station.messages.text and "Traceback" not in station.messages.value
