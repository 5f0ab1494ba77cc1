"""Monitoring station against a real server: room load, earlier measurements, pressure, room switch."""

from __future__ import annotations

import numpy as np
import pytest

from cpap_lib.clock import to_lab_datetime64
from cpap_lib.dashboard.pages.monitor import build_monitor
from cpap_lib.dashboard.pages.station import MonitoringStation
from support import wait_until

ROOMS = iter(range(7200, 7300))
XSS_NAME = "<img src=x onerror=alert(1)>"


def upload(client, room, mrn, name, *, pressure=8.0, apneas=0, amplitude=0.4):
    t = np.linspace(0.0, 120.0, 600)
    client.upload_measurement(
        room,
        mrn,
        name=name,
        cpap_pressure=pressure,
        analysis={
            "breath_rate_bpm": 15.0,
            "apnea_count": apneas,
            "apnea_index": 6.0 * apneas,
            "apneas": [{"start_s": 40.0, "end_s": 55.0}] * min(apneas, 1),
        },
        flow_trace=(t, amplitude * np.sin(t)),
    )


@pytest.fixture
def patient_room(client):
    room = next(ROOMS)
    for pressure, apneas in ((8, 3), (10, 2), (12, 0)):
        upload(client, room, f"ST{room}", XSS_NAME, pressure=pressure, apneas=apneas)
    return room


def show(station, room):
    generation = station.loaded_generation
    station.room = room
    assert wait_until(lambda generation=generation: station.loaded_generation > generation), station.messages.text


def test_choosing_a_room_shows_patient_charts_list_and_trends(client, patient_room):
    station = MonitoringStation(client)
    show(station, patient_room)
    facts = station.facts.value
    assert f"ST{patient_room}" in facts
    assert "&lt;img src=x onerror=alert(1)&gt;" in facts and "<img" not in facts
    assert "12 cmH2O" in facts  # the latest pressure
    assert station.latest_chart.flow_points == 600
    assert [label.split(" · ")[1] for label, _ in station.earlier_select.options] == [
        "10 cmH2O, 2 apneas",
        "8 cmH2O, 3 apneas",
    ]  # newest first, the latest not repeated
    assert station.trends.points_sent == 9
    assert list(station.trends.lines["pressure_cmh2o"].y) == [8.0, 10.0, 12.0]


def test_choosing_an_earlier_measurement_shows_it_beside_the_latest(client, patient_room):
    station = MonitoringStation(client)
    show(station, patient_room)
    station.earlier_select.value = station.earlier_select.options[-1][1]
    assert wait_until(lambda: station.earlier_chart.flow_points == 600)
    assert station.earlier_box.layout.display == ""
    assert station.latest_chart.flow_points == 600


@pytest.mark.parametrize("typed", ["3", "26", "12.5", "twelve", "1e1", "-8", " "])
def test_invalid_pressures_are_refused_with_a_message_and_not_sent(client, patient_room, typed):
    station = MonitoringStation(client)
    show(station, patient_room)
    station.pressure_input.value = typed
    assert station.send_button.disabled
    station._on_send()
    assert station.pressure_error.level == "error"  # beside the field, until the value changes
    assert "4 to 25" in station.pressure_error.text and "Nothing was sent" in station.pressure_error.text
    assert client.poll_pressure(patient_room).command_id is None


def test_a_valid_pressure_reaches_the_server(client, patient_room):
    station = MonitoringStation(client)
    show(station, patient_room)
    station.pressure_input.value = "14"
    assert not station.send_button.disabled
    station.send_button.click()
    assert wait_until(lambda: station.messages.level == "success"), station.messages.text
    poll = client.poll_pressure(patient_room)
    assert poll.cmh2o == 14
    assert wait_until(lambda: "14 cmH2O at" in station.facts.value)


def test_switching_rooms_leaves_nothing_of_the_previous_patient(client, patient_room):
    other = next(ROOMS)
    upload(client, other, f"ST{other}", "Second Patient", pressure=6, apneas=0, amplitude=0.9)
    station = MonitoringStation(client)
    show(station, patient_room)
    station.earlier_select.value = station.earlier_select.options[0][1]
    assert wait_until(lambda: station.earlier_chart.flow_points > 0)
    stale_generation = station._generation
    loaded = station.loaded_generation
    station.room = other
    # at once: nothing of the first patient is shown
    assert f"ST{patient_room}" not in station.facts.value and "img" not in station.facts.value
    assert station.latest_chart.flow_points == 0 and station.earlier_chart.flow_points == 0
    assert station.earlier_select.options == () and station.trends.points_sent == 0
    # a late answer for the first room is dropped
    station._show_room(
        stale_generation,
        (client.room(patient_room), client.measurements(patient_room), None, client.timeline(patient_room)),
    )
    assert f"ST{patient_room}" not in station.facts.value
    assert wait_until(lambda: station.loaded_generation > loaded)
    assert f"ST{other}" in station.facts.value and station.earlier_select.options == ()
    assert max(station.latest_chart.flow_line.y) == pytest.approx(0.9, abs=0.01)


def test_new_data_for_the_shown_room_appear_by_themselves(client):
    room = next(ROOMS)
    upload(client, room, f"ST{room}", "Live", pressure=8)
    page = build_monitor(client, refresh_s=0.3, stale_after_s=600)
    station = page.station
    try:
        page.overview.selected_room = room
        assert wait_until(lambda: "8 cmH2O" in station.facts.value)
        assert wait_until(lambda: any(v == room for _, v in station.room_select.options))
        assert station.room_select.value == room
        upload(client, room, f"ST{room}", "Live", pressure=11)
        assert wait_until(lambda: "11 cmH2O" in station.facts.value and len(station.earlier_select.options) == 1)
    finally:
        page.overview.stop()


def test_an_old_clients_jpeg_is_shown_as_jpeg_and_a_png_as_png(client, live_server):
    import base64
    import io

    import requests
    from matplotlib.figure import Figure

    room = next(ROOMS)
    images = {}
    for fmt in ("jpg", "png"):
        buffer = io.BytesIO()
        Figure(figsize=(2, 1)).savefig(buffer, format=fmt)  # as the old clients' plot_to_b64 (JPEG)
        images[fmt] = buffer.getvalue()
    for fmt, expected in (("jpg", "jpeg"), ("png", "png")):
        station = MonitoringStation(client)
        old_upload = {
            "patient_name": "Old Client",
            "patient_mrn": room,
            "room_number": room,
            "CPAP_pressure": "9",
            "breath_rate": "15.5",
            "apnea_count": "1",
            "flow_image": base64.b64encode(images[fmt]).decode(),
        }
        assert requests.post(f"{live_server}/add_patient", json=old_upload, timeout=10).ok
        show(station, room)
        assert (station.flow_image.format, station.flow_image.value) == (expected, images[fmt])
        assert (
            station.flow_image_box.layout.display == "" and f"({expected.upper()})" in station.flow_image_caption.value
        )
    station.room = None
    assert station.flow_image_box.layout.display == "none" and station.flow_image.value == b""


def test_a_titration_table_after_three_commanded_steps_and_a_prompt_that_only_fills_the_field(client):
    room = next(ROOMS)
    upload(client, room, f"TI{room}", "Titrated", pressure=6, apneas=3)
    station = MonitoringStation(client)
    show(station, room)
    for pressure, apneas in ((7, 2), (8, 1), (9, 3)):
        station.pressure_input.value = str(pressure)
        generation = station.loaded_generation
        station._on_send()
        assert wait_until(lambda generation=generation: station.loaded_generation > generation), station.messages.text
        upload(client, room, f"TI{room}", "Titrated", pressure=pressure, apneas=apneas)
    generation = station.loaded_generation
    station._load_room(room, clear=False)
    assert wait_until(lambda: station.loaded_generation > generation), station.messages.text
    table = station.steps_table.value
    assert table.count("<tr") == 5 and "9 cmH2O" in table and "anonymous at" in table
    assert 'data-kind="wait"' in station.prompt_html.value  # 2 min of recording at 9: too soon
    commands = client.timeline(room).commands
    assert [(c.from_cmh2o, c.to_cmh2o) for c in commands] == [(6.0, 7), (7.0, 8), (8.0, 9)]
    assert station.night_chart.points_sent > 0


def test_notes_are_added_shown_numbered_and_escaped(client, patient_room):
    station = MonitoringStation(client)
    show(station, patient_room)
    station.note_who.value = "Tech <T>"
    station.note_input.value = "Mask <leak> fixed & patient asleep"
    generation = station.loaded_generation
    station.add_note()
    assert wait_until(lambda: station.loaded_generation > generation and "cpap-note-text" in station.notes_html.value)
    html = station.notes_html.value
    assert "Mask &lt;leak&gt; fixed &amp; patient asleep" in html and "Tech &lt;T&gt;" in html and "<leak>" not in html
    assert station.night_chart.note_marks.names == ["1"]


def test_the_titration_table_starts_at_the_pressure_preset_before_admission(client):
    room = next(ROOMS)
    client.command_pressure(room, 10)  # a preset for the empty room
    client.admit(room, f"PS{room}")
    station = MonitoringStation(client)
    show(station, room)
    table = station.steps_table.value
    assert table.count("<tr") == 2 and "10 cmH2O" in table and "0 min" in table
    assert "anonymous at" in table and "(before admission)" in table
    assert 'data-kind="none"' in station.prompt_html.value and "night began at 10 cmH2O" in station.prompt_html.value
    upload(client, room, f"PS{room}", "Preset", pressure=10, apneas=1)
    generation = station.loaded_generation
    station._load_room(room, clear=False)
    assert wait_until(lambda: station.loaded_generation > generation), station.messages.text
    table = station.steps_table.value
    assert table.count("<tr") == 2 and "(before admission)" in table  # the upload at 10 is that first step
    night = client.timeline(room)
    assert list(station.night_chart.command_marks.x) == list(to_lab_datetime64([night.admitted_at]))  # drawn there
