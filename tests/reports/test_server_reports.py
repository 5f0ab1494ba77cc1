"""Reports on server patient-nights: several uploads (one without a trace), commands, then `cpap-lab report --server`."""

from __future__ import annotations

import json

import pytest

from cpap_lib.analysis import analyze_file
from cpap_lib.client import CpapClient
from cpap_lib.reports.server_source import night_summary, server_jobs

from .conftest import PNG_IMG, cli, html_tables, table_rows

pytestmark = pytest.mark.slow

ROOM, EMPTY_ROOM, NO_TRACE_ROOM = 917, 918, 919
"""Rooms of our own on the shared session server (other tests use low numbers)."""


@pytest.fixture(scope="module")
def server_night(live_server, sample_paths, tmp_path_factory):
    severe, fast = (analyze_file(path) for path in sample_paths)
    with CpapClient(live_server) as client:
        client.upload_measurement(ROOM, "MRN-REP-1", name="Ada Report", cpap_pressure=8, analysis=fast)
        client.command_pressure(ROOM, 10)
        client.upload_measurement(ROOM, "MRN-REP-1", cpap_pressure=10, analysis=severe)
        client.upload_measurement(ROOM, "MRN-REP-1", cpap_pressure=10, analysis=severe.to_dict())  # no trace
        client.command_pressure(ROOM, 11)
        client.add_note(ROOM, "Mask refitted, leak gone")
        client.admit(EMPTY_ROOM, "MRN-REP-2", name="No Data Yet")
        for _ in range(2):  # a station that uploads numbers and events only, never a trace
            client.upload_measurement(
                NO_TRACE_ROOM, "MRN-REP-3", name="Nora Trace", cpap_pressure=9, analysis=severe.to_dict()
            )
    out = tmp_path_factory.mktemp("server_reports")
    done = cli(
        "report",
        "--server",
        live_server,
        "--room",
        str(ROOM),
        "--room",
        str(EMPTY_ROOM),
        "--room",
        str(NO_TRACE_ROOM),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    )
    return live_server, [fast.to_dict(), severe.to_dict(), severe.to_dict()], out, done


def test_all_rooms_lists_every_patient_night_with_data(server_night):
    url, *_ = server_night
    jobs = {job.room: job for job in server_jobs(url)}
    job = jobs[str(ROOM)]
    assert job.mrn == "MRN-REP-1" and job.name == f"{job.night}-room-{ROOM}-MRN-REP-1" and job.night
    assert str(EMPTY_ROOM) not in jobs  # just admitted, nothing measured: not a failure of the nightly run
    assert str(EMPTY_ROOM) in {job.room for job in server_jobs(url, rooms=[EMPTY_ROOM])}


def test_the_night_report_adds_up_every_upload(server_night):
    url, analyses, out, done = server_night
    assert done.returncode == 1, done.stderr  # the room without measurements fails, listed
    assert f"room {EMPTY_ROOM}, patient MRN-REP-2: no measurement on the server yet" in done.stderr
    results = {r["name"]: r for r in json.loads((out / "results.json").read_text())}
    name = next(n for n in results if n.endswith(f"room-{ROOM}-MRN-REP-1"))
    html = (out / "reports" / f"{name}.html").read_text()
    expected = night_summary(analyses)
    hours = sum(a["duration_s"] for a in analyses) / 3600
    apneas = sum(a["apnea_count"] for a in analyses)
    hypopneas = sum(a["hypopnea_count"] for a in analyses)
    assert expected["ahi"] == pytest.approx((apneas + hypopneas) / hours)
    key = table_rows(html, "Measure")
    assert key["AHI"] == f"{expected['ahi']:.1f} /h ({expected['severity']})"
    assert key["Apnea index"] == f"{apneas / hours:.1f} /h ({apneas} apneas)"
    assert key["Hypopneas"] == f"{hypopneas} ({hypopneas / hours:.1f} /h)"
    assert key["Hours recorded / used"].endswith(f"{hours:.2f} h")
    assert results[name]["summary"]["analysis"]["apnea_count"] == apneas
    assert "Ada Report" in html and "MRN-REP-1" in html
    uploads = next(t for t in html_tables(html) if t[0][0] == "Covers")
    assert len(uploads) == 1 + 3 and [row[2] for row in uploads[1:]] == ["8.0", "10.0", "10.0"]
    titration = next(t for t in html_tables(html) if t[0][0] == "Pressure (cmH2O)")
    assert [row[0] for row in titration[1:]] == ["8", "10"]
    events = next(t for t in html_tables(html) if t[0][0].startswith("Clock time"))
    assert len(events) - 1 == apneas + hypopneas  # every event, no truncation (the upload without trace too)
    assert len(PNG_IMG.findall(html)) == 3  # overview, worst events, AHI per hour (no per-breath data on the server)


def test_pressure_commands_and_notes_of_the_night_are_listed(server_night):
    _, _, out, _ = server_night
    html = next((out / "reports").glob(f"*room-{ROOM}-*.html")).read_text()
    commands = next(t for t in html_tables(html) if t[0][:3] == ["Clock time", "From (cmH2O)", "To (cmH2O)"])
    assert [row[2] for row in commands[1:]] == ["10", "11"] and commands[2][1] == "10.0"
    notes = next(t for t in html_tables(html) if t[0] == ["Clock time", "Author", "Note"])
    assert notes[1][2] == "Mask refitted, leak gone"


def test_a_patient_uploaded_without_a_trace_gets_a_report(server_night):
    _, analyses, out, _ = server_night
    results = {r["name"]: r for r in json.loads((out / "results.json").read_text())}
    name = next(n for n in results if n.endswith(f"room-{NO_TRACE_ROOM}-MRN-REP-3"))
    assert results[name]["ok"], results[name]["error"]
    html = (out / "reports" / f"{name}.html").read_text()
    expected = night_summary([analyses[1], analyses[1]])
    assert table_rows(html, "Measure")["AHI"] == f"{expected['ahi']:.1f} /h ({expected['severity']})"
    assert len(PNG_IMG.findall(html)) == 3


def test_index_lists_the_patient_night(server_night):
    _, analyses, out, _ = server_night
    index = (out / "index.html").read_text()
    rows = {row[0]: row for row in html_tables(index)[0][1:]}
    row = rows["Ada Report"]
    assert row[1] == str(ROOM) and row[4] == f"{night_summary(analyses)['ahi']:.1f}"
    assert rows["MRN-REP-2"][1] == str(EMPTY_ROOM) and "failed" in rows["MRN-REP-2"][-1]


def test_a_night_without_uploads_is_a_sentence(server_night, tmp_path):
    url, *_ = server_night
    done = cli(
        "report", "--server", url, "--room", str(ROOM), "--night", "2001-01-01", "--out", str(tmp_path), "--no-progress"
    )
    assert done.returncode == 1
    assert "no measurement in the night of 2001-01-01" in done.stderr
