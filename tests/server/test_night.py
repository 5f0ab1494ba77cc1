"""The night through the API: timeline, rolling AHI, alarm states and their order, acknowledgements, notes.

Runs on SQLite and PostgreSQL (``database_url``). The server runs with a short
no-data threshold (12 s) so the loudest alarm can be seen appear in a test.
"""

from __future__ import annotations

import time

import pytest
import requests

from cpap_lib.client import CpapClient
from cpap_lib.errors import ApiError, ForbiddenError, ValidationError
from cpap_lib.server.process import start_server
from cpap_lib.titration import pressure_steps, titration_prompt

NO_DATA_MIN = 0.2
"""12 s: the no-data alarm of this module's server."""


@pytest.fixture(scope="module")
def night_server(database_url, tmp_path_factory):
    tokens = tmp_path_factory.mktemp("night-tokens") / "tokens.txt"
    tokens.write_text("staff nurse-t0k name=nurse-a\nstaff tech-t0k name=tech-b\ndevice bed-t0k name=bed\n")
    with start_server(
        database_url, token_file=tokens, settings_env={"CPAP_ALARM_NO_DATA_MIN": str(NO_DATA_MIN)}
    ) as server:
        yield server


@pytest.fixture
def staff(night_server):
    with CpapClient(night_server.url, token="nurse-t0k", timeout=10.0) as api:
        yield api


@pytest.fixture
def device(night_server):
    with CpapClient(night_server.url, token="bed-t0k", timeout=10.0) as api:
        yield api


def _upload(device, room, mrn, *, pressure=8, apneas=0, hypopneas=0, minutes=5.0, leak=2.0):
    analysis = {
        "apnea_count": apneas,
        "hypopnea_count": hypopneas,
        "duration_s": minutes * 60,
        "leak_lpm": leak,
        "breath_rate_bpm": 14.0,
    }
    return device.upload_measurement(room, mrn, name=f"Patient {mrn}", cpap_pressure=pressure, analysis=analysis)


def _board_room(staff, room):
    return next(r for r in staff.alarm_board().rooms if r.room == room)


def test_timeline_keeps_every_command_with_who_when_and_from_to(staff, device):
    _upload(device, 301, "T-301", pressure=6)
    first = staff.command_pressure(301, 7)
    _upload(device, 301, "T-301", pressure=7)
    staff.command_pressure(301, 9)
    with CpapClient(staff.base_url, token="tech-t0k") as tech:
        tech.command_pressure(301, 10)
    night = staff.timeline(301)
    assert night.time_zone == "UTC" and night.mrn == "T-301"
    assert [(c.commanded_by, c.from_cmh2o, c.to_cmh2o) for c in night.commands] == [
        ("nurse-a", 6.0, 7),
        ("nurse-a", 7.0, 9),
        ("tech-b", 9.0, 10),
    ]
    assert night.commands[0].commanded_at == first.commanded_at
    assert night.commands[0].commanded_at.utcoffset().total_seconds() == 0
    assert [m.cpap_pressure_cmh2o for m in night.measurements] == [6.0, 7.0]
    assert night.measurements[0].duration_s == 300.0


def test_a_new_patient_starts_a_timeline_of_their_own_at_the_pressure_in_effect(staff, device):
    _upload(device, 302, "OLD-302")
    staff.command_pressure(302, 9)
    staff.add_note(302, "old patient's note")
    _upload(device, 302, "NEW-302", pressure=9)
    night = staff.timeline(302)
    assert night.mrn == "NEW-302" and night.notes == [] and len(night.measurements) == 1
    # nothing of the previous stay but the pressure the room's device was still told: where this night began
    assert [(c.to_cmh2o, c.commanded_by, c.before_admission) for c in night.commands] == [(9, "nurse-a", True)]


def test_a_preset_before_admission_is_the_first_step_of_the_titration(staff, device):
    preset = staff.command_pressure(304, 10)  # nobody in room 304 yet
    assert preset.admission_id is None
    device.admit(304, "PRE-304")  # admitted without an upload: the table already starts at the preset
    night = staff.timeline(304)
    assert [(c.id, c.to_cmh2o, c.commanded_by, c.before_admission) for c in night.commands] == [
        (preset.id, 10, "nurse-a", True)
    ]
    assert night.commands[0].commanded_at < night.admitted_at
    steps = pressure_steps(night.measurements, night.commands, admitted_at=night.admitted_at)
    assert steps[["pressure_cmh2o", "uploads", "commanded_by"]].to_dict("records") == [
        {"pressure_cmh2o": 10.0, "uploads": 0, "commanded_by": "nurse-a"}
    ]
    assert titration_prompt(steps).text == "No uploads with a pressure yet; the night began at 10 cmH2O."
    _upload(device, 304, "PRE-304", pressure=10, apneas=2)
    with CpapClient(staff.base_url, token="tech-t0k") as tech:
        raised = tech.command_pressure(304, 11)
    _upload(device, 304, "PRE-304", pressure=11)
    night = staff.timeline(304)
    assert [(c.to_cmh2o, c.from_cmh2o, c.before_admission) for c in night.commands] == [
        (10, None, True),
        (11, 10.0, False),  # from the preset in effect
    ]
    steps = pressure_steps(night.measurements, night.commands, admitted_at=night.admitted_at)
    table = steps[["step", "pressure_cmh2o", "uploads", "commanded_by"]].to_dict("records")
    assert table == [
        {"step": 1, "pressure_cmh2o": 10.0, "uploads": 1, "commanded_by": "nurse-a"},
        {"step": 2, "pressure_cmh2o": 11.0, "uploads": 1, "commanded_by": "tech-b"},
    ]
    assert steps["commanded_at"].iloc[0] == preset.commanded_at and steps["commanded_at"].iloc[1] == raised.commanded_at


def test_a_first_upload_at_another_pressure_follows_the_pressure_in_effect(staff, device):
    staff.command_pressure(305, 12)  # the preset; the bedside device had not applied it yet
    _upload(device, 305, "PRE-305", pressure=8)
    _upload(device, 305, "PRE-305", pressure=12)
    night = staff.timeline(305)
    steps = pressure_steps(night.measurements, night.commands, admitted_at=night.admitted_at)
    rows = zip(steps["pressure_cmh2o"], steps["uploads"], steps["commanded_by"].fillna("-"), strict=True)
    assert list(rows) == [(12.0, 0, "nurse-a"), (8.0, 1, "-"), (12.0, 1, "nurse-a")]


def test_rolling_and_night_ahi(staff, device):
    _upload(device, 303, "A-303", apneas=2, hypopneas=1, minutes=5)  # 36/h
    _upload(device, 303, "A-303", apneas=0, hypopneas=0, minutes=10)  # the three: 3 events in 15 min = 12/h
    alarm = _board_room(staff, 303).alarm
    assert (alarm.ahi_30min, alarm.ahi_60min, alarm.ahi_night) == (12.0, 12.0, 12.0)
    assert alarm.minutes_since_data < NO_DATA_MIN and alarm.leak_lpm == 2.0


def test_each_alarm_state_its_sentence_and_the_board_order(staff, device):
    _upload(device, 311, "OK-311", apneas=0)  # ok
    _upload(device, 312, "AHI-312", apneas=3, hypopneas=2, minutes=10)  # 30/h >= 15: ahi_high
    for _ in range(3):  # 1 apnea per hour, three uploads running
        _upload(device, 313, "RUN-313", apneas=1, minutes=60)
    _upload(device, 314, "LEAK-314", leak=40.0)  # high_leak
    _upload(device, 315, "GONE-315")
    _upload(device, 316, "GONE-315")  # the patient moved: 315 is empty
    board = {r.room: r for r in staff.alarm_board().rooms}
    assert board[311].alarm.state == "ok" and board[315].alarm.state == "empty"
    assert board[312].alarm.state == "ahi_high" and board[312].alarm.detail == (
        "AHI 30.0/h over the last 30 min (alarm from 15/h)"
    )
    assert board[313].alarm.state == "apnea_run"
    assert board[314].alarm.state == "high_leak" and board[314].alarm.alarms == ["high_leak"]
    order = [r.room for r in staff.alarm_board().rooms if r.room in (311, 312, 313, 314, 315)]
    assert order == [312, 313, 314, 311, 315]


@pytest.mark.slow
def test_no_data_is_the_loudest_and_comes_first(staff, device):
    _upload(device, 321, "ND-321", apneas=3, hypopneas=2, minutes=10)  # ahi_high now ...
    assert _board_room(staff, 321).alarm.state == "ahi_high"
    time.sleep(NO_DATA_MIN * 60 + 1)  # ... then nothing for 12 s
    _upload(device, 322, "FRESH-322", apneas=3, hypopneas=2, minutes=10)  # a fresh ahi_high elsewhere
    board = staff.alarm_board()
    first = board.rooms[0]
    assert first.room in {r.room for r in board.rooms if r.alarm.state == "no_data"}
    room = next(r for r in board.rooms if r.room == 321)
    assert room.alarm.state == "no_data" and room.alarm.alarms == ["no_data", "ahi_high"]
    assert room.alarm.detail.startswith("No data for") and room.alarm.detail.endswith(
        f"(alarm after {NO_DATA_MIN:g} min)"
    )
    ranks = [r.alarm.state for r in board.rooms]
    assert ranks.index("no_data") < ranks.index("ahi_high")


def test_acknowledgement_holds_until_the_state_changes(staff, device):
    _upload(device, 331, "ACK-331", leak=40.0)
    assert _board_room(staff, 331).alarm.acknowledged is None
    ack = staff.acknowledge_alarm(331, note="mask <refitted> & strap tightened")
    assert (ack.state, ack.acknowledged_by, ack.note) == ("high_leak", "nurse-a", "mask <refitted> & strap tightened")
    room = _board_room(staff, 331)
    assert room.alarm.acknowledged is not None and room.alarm.acknowledged.id == ack.id
    _upload(device, 331, "ACK-331", leak=45.0)  # still a high leak: still acknowledged
    assert _board_room(staff, 331).alarm.acknowledged is not None
    board = staff.alarm_board().rooms
    unacknowledged = [
        i for i, r in enumerate(board) if r.alarm.state not in ("ok", "empty") and not r.alarm.acknowledged
    ]
    assert [r.room for r in board].index(331) > max(unacknowledged)  # acknowledged alarms follow the open ones
    _upload(device, 331, "ACK-331", leak=3.0)  # the leak is fixed: ok
    assert _board_room(staff, 331).alarm.state == "ok"
    _upload(device, 331, "ACK-331", leak=40.0)  # and back: a new alarm, not acknowledged
    room = _board_room(staff, 331)
    assert room.alarm.state == "high_leak" and room.alarm.acknowledged is None
    assert [a.note for a in staff.timeline(331).acknowledgements] == ["mask <refitted> & strap tightened"]


def test_nothing_to_acknowledge_is_a_409_sentence(staff, device):
    _upload(device, 341, "CALM-341")
    with pytest.raises(ApiError, match="room 341 has no alarm to acknowledge") as caught:
        staff.acknowledge_alarm(341)
    assert caught.value.status == 409


def test_notes_keep_who_when_and_the_text_as_written(staff, device):
    _upload(device, 351, "NOTE-351")
    note = staff.add_note(351, 'Patient asked for water.\nMask <ok> & "quiet"')
    assert note.author == "nurse-a" and note.created_at.utcoffset().total_seconds() == 0
    assert [n.text for n in staff.notes(351)] == ['Patient asked for water.\nMask <ok> & "quiet"']
    assert staff.room_patient(351).mrn == "NOTE-351"
    assert staff.timeline(351).notes[0].id == note.id
    typed = staff.add_note(351, "Checked mask", by="Ann B.")
    assert typed.author == "Ann B. (nurse-a)"  # the person at the screen, and the token's name
    with pytest.raises(ValidationError, match="text"):
        staff.add_note(351, "bell\x07")
    with pytest.raises(ValidationError):
        staff.add_note(351, "")


def test_acknowledging_and_notes_need_staff(night_server, device):
    _upload(device, 361, "ROLE-361", leak=40.0)
    with pytest.raises(ForbiddenError):
        device.acknowledge_alarm(361, note="not mine to do")
    with pytest.raises(ForbiddenError):
        device.add_note(361, "not mine either")
    with pytest.raises(ForbiddenError):
        device.alarm_board()
    assert requests.get(f"{night_server.url}/api/v1/alarms", timeout=5).status_code == 401


def test_openapi_lists_the_night_routes_and_says_times_are_utc(night_server):
    spec = requests.get(f"{night_server.url}/openapi.json", timeout=5).json()
    for path in (
        "/api/v1/alarms",
        "/api/v1/alarms/rules",
        "/api/v1/rooms/{room}/alarm/acknowledgements",
        "/api/v1/rooms/{room}/notes",
        "/api/v1/rooms/{room}/timeline",
    ):
        assert path in spec["paths"], path
    assert "stores UTC" in spec["info"]["description"]
    assert spec["components"]["schemas"]["NightTimeline"]["properties"]["time_zone"]["description"] == (
        "every time in this response is UTC"
    )


def test_rules_come_from_the_server_settings(staff):
    rules = staff.alarm_rules()
    assert rules.no_data_min == NO_DATA_MIN and rules.ahi_threshold == 15.0 and rules.apnea_run_uploads == 3
