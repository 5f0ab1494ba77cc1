"""Reports on server patients: measurements uploaded through the client, then `cpap-lab report --server`."""

from __future__ import annotations

import json

import pytest

from cpap_lib.analysis import analyze_file
from cpap_lib.client import CpapClient
from cpap_lib.reports.server_source import server_jobs

from .conftest import PNG_IMG, cli, html_tables, summary_rows

pytestmark = pytest.mark.slow

ROOM, EMPTY_ROOM = 917, 918
"""Rooms of our own on the shared session server (other tests use low numbers)."""


@pytest.fixture(scope="module")
def server_patient(live_server, sample_paths):
    severe, fast = (analyze_file(path) for path in sample_paths)
    with CpapClient(live_server) as client:
        client.upload_measurement(ROOM, "MRN-REP-1", name="Ada Report", cpap_pressure=8, analysis=fast)
        client.upload_measurement(ROOM, "MRN-REP-1", cpap_pressure=10, analysis=severe)
        client.command_pressure(ROOM, 11)
        client.admit(EMPTY_ROOM, "MRN-REP-2", name="No Data Yet")
    return live_server, severe


def test_all_rooms_lists_every_room_whose_patient_has_data(server_patient):
    url, _ = server_patient
    jobs = {job.room: job for job in server_jobs(url)}
    assert jobs[str(ROOM)].mrn == "MRN-REP-1" and jobs[str(ROOM)].name == f"room-{ROOM}-MRN-REP-1"
    assert str(EMPTY_ROOM) not in jobs  # just admitted, nothing measured: not a failure of the nightly run
    assert str(EMPTY_ROOM) in {job.room for job in server_jobs(url, rooms=[EMPTY_ROOM])}


def test_server_report_shows_latest_measurement_and_history(server_patient, tmp_path):
    url, severe = server_patient
    done = cli("report", "--server", url, "--room", str(ROOM), "--room", str(EMPTY_ROOM), "--out", str(tmp_path),
               "--workers", "2", "--no-progress")
    assert done.returncode == 1, done.stderr  # the room without measurements fails, listed
    assert f"room {EMPTY_ROOM}, patient MRN-REP-2: no measurement on the server yet" in done.stderr
    html = (tmp_path / "reports" / f"room-{ROOM}-MRN-REP-1.html").read_text()
    expected = severe.to_dict()
    shown = summary_rows(html)
    assert shown["Apneas"] == str(expected["apnea_count"]) and shown["Breaths"] == str(expected["breath_count"])
    assert shown["Apnea index (AASM severity)"] == f"{expected['apnea_index']:.1f} /h ({expected['severity']})"
    assert shown["Rows skipped"] == "n/a"  # the server does not keep it
    assert "Ada Report" in html and "<strong>Cpap pressure</strong>: 10 cmH2O" in html
    assert "<strong>Commanded pressure</strong>: 11 cmH2O" in html
    assert "Pressure history and earlier measurements" in html
    assert len(PNG_IMG.findall(html)) == 3  # night, worst event, history (no per-breath data on the server)
    assert "Per-breath data are not stored on the server" in html
    history = html_tables(html)[-1]
    assert history[0][:4] == ["", "received (UTC)", "pressure (cmH2O)", "breath rate (/min)"]
    assert [row[2] for row in history[2:]] == ["10.0", "8.0"]  # newest first
    results = {r["name"]: r for r in json.loads((tmp_path / "results.json").read_text())}
    assert results[f"room-{ROOM}-MRN-REP-1"]["summary"]["analysis"]["apnea_count"] == expected["apnea_count"]
    index = (tmp_path / "index.html").read_text()
    assert f'href="reports/room-{ROOM}-MRN-REP-1.html"' in index and "No Data Yet" not in index
