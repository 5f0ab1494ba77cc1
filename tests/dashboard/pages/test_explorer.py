"""SignalExplorer in-process: opening recordings and SD cards, numbers, errors as messages, live re-analysis, export."""

from __future__ import annotations

import base64
import html
import io
import os
import re
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from cpap_lib.dashboard.pages.explorer import MAX_UPLOAD_BYTES, SignalExplorer
from cpap_lib.io.resmed.assemble import build_card
from cpap_lib.paths import SAMPLE_DATA_DIR
from cpap_lib.sim import Truth
from support import REFERENCE_DATA

SAMPLES = SAMPLE_DATA_DIR
DEVICE_NIGHT = REFERENCE_DATA / "resmed_airsense11" / "DATALOG" / "20241017"
WAIT_S = 60


@pytest.fixture(scope="module")
def severe():
    """The explorer with severe_apnea.txt open (shared: opening costs about 0.4 s)."""
    explorer = SignalExplorer(debounce_s=0.05)
    explorer.open_sample("severe_apnea.txt")
    assert explorer.wait_idle(WAIT_S)
    return explorer


def _csv_from_link(html: str, filename: str) -> pd.DataFrame:
    match = re.search(rf'download="{re.escape(filename)}" href="data:text/csv;base64,([A-Za-z0-9+/=]+)"', html)
    assert match, f"no download link for {filename}"
    return pd.read_csv(io.BytesIO(base64.b64decode(match.group(1))))


def test_a_sample_shows_its_numbers_chart_events_and_exports(severe):
    truth = Truth.from_json(SAMPLES / "severe_apnea.truth.json")
    result = severe.analysis
    assert result.apnea_count == len(truth.apneas) == 6
    assert severe.messages.level == "success" and "Opened severe_apnea.txt" in severe.messages.text
    summary = severe.summary.value
    assert "36.0 /h" in summary and "48.0 /h" in summary and ">severe<" in summary
    assert re.search(r'class="cpap-apnea-count" style="color:#c62828[^"]*">6<', summary)  # red when >= 2
    assert f"{result.breath_rate_bpm:.1f} breaths/min" in summary
    # chart: decimated, breaths marked, events shaded
    assert severe.chart.total_samples == 60000 and severe.chart.flow_points == 3000
    assert severe.chart.breaths_marked == result.breath_count
    assert severe.chart.apnea_shading.x.shape == (6, 4)
    assert severe.chart.hypopnea_shading.x.shape == (2, 4)
    # events table (one row per event, clock-less recording: elapsed time) and event lanes
    assert len(severe.event_picker.options) == 8 and severe.event_picker.value is None
    assert severe.event_picker.options[0][0].startswith("+0:")
    assert severe.chart.lanes_shown == ["ours:apnea", "ours:hypopnea"]
    assert severe.chart.axis_label == "elapsed time"
    # CSV downloads hold the analysis' tables
    breaths = _csv_from_link(severe.downloads.value, "severe_apnea_breaths.csv")
    events = _csv_from_link(severe.downloads.value, "severe_apnea_events.csv")
    assert len(breaths) == result.breath_count and list(breaths.columns) == list(result.breaths.columns)
    assert events["kind"].tolist() == result.events["kind"].tolist()
    assert severe.breaths_csv().count("\n") == result.breath_count + 1
    assert severe.prepare_csv_button.layout.display == "none"


def test_choosing_an_event_zooms_the_chart_to_it(severe):
    start, end = severe.analysis.apneas[["start_s", "end_s"]].to_numpy()[0]
    index = int(severe.analysis.events.index[severe.analysis.events["kind"] == "apnea"][0])
    severe.event_picker.value = index
    lo, hi = severe.chart.visible_range
    assert lo < start < end < hi and hi - lo < 120
    xs = severe.chart.seconds(severe.chart.flow_line.x)
    assert xs[1] >= lo and xs[-2] <= hi  # the window, re-decimated
    severe.chart.reset_zoom()


def test_a_slider_change_re_runs_the_analysis_and_keeps_the_zoom(severe):
    before = severe.analysis
    severe.chart.zoom(100.0, 300.0)
    severe.sliders["min_event_s"].value = 60.0  # no event lasts a minute
    assert severe.wait_idle(WAIT_S)
    after = severe.analysis
    assert after is not before and after.params["min_event_s"] == 60.0
    assert after.apnea_count == 0 and after.hypopnea_count == 0
    assert severe.chart.apnea_shading.x.size == 0
    assert severe.chart.visible_range == (100.0, 300.0)
    assert "Re-analysed" in severe.messages.text and "0 apneas" in severe.messages.text
    severe.reset_params()
    assert severe.wait_idle(WAIT_S)
    assert severe.analysis.apnea_count == 6 and severe.analysis.params == before.params


def test_parameters_the_analysis_refuses_give_a_message_and_keep_the_results(severe):
    before = severe.analysis
    with severe.hold_trait_notifications():
        severe.sliders["apnea_drop"].value = 0.5
        severe.sliders["hypopnea_drop"].value = 0.6
    assert severe.wait_idle(WAIT_S)
    assert severe.messages.level == "error"
    assert severe.messages.text.startswith("hypopnea_drop: must be smaller than apnea_drop")
    assert severe.analysis is before
    severe.reset_params()
    assert severe.wait_idle(WAIT_S)


def test_the_gap_method_enables_its_own_parameter(severe):
    assert severe.sliders["max_gap_s"].disabled
    severe.method.value = "gap"
    assert not severe.sliders["max_gap_s"].disabled
    assert severe.wait_idle(WAIT_S)
    assert severe.analysis.method == "gap" and "Gap rule" in severe.summary.value
    severe.method.value = "amplitude"
    assert severe.wait_idle(WAIT_S)


def test_skipped_rows_are_reported_with_their_lines():
    explorer = SignalExplorer()
    explorer.open_path(SAMPLES / "malformed_rows.txt")
    assert explorer.wait_idle(WAIT_S)
    assert explorer.messages.level == "warning"
    assert "7 malformed rows were skipped (lines 909, 8091, 8176, 13486, 14637, 15251, 16231)" in explorer.messages.text
    assert "7 (lines 909, 8091" in explorer.summary.value


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda e: e.open_path("/no/such/night.txt"), "/no/such/night.txt: not inside a data folder"),
        (lambda e: e.open_path(SAMPLES / "no_such.txt"), "no_such.txt: file not found"),
        (lambda e: e.open_path("   "), "Enter the path of a recording first."),
        (lambda e: e.open_sample("nope.txt"), "No sample named 'nope.txt'"),
        (lambda e: e.open_bytes("empty.txt", b""), "empty.txt: the file is empty"),
        (
            lambda e: e.open_bytes("photo.txt", b"\x89PNG\x00\x00\x00binary"),
            "photo.txt: binary data, not a lab text recording",
        ),
        (
            lambda e: e.open_bytes("big.txt", b"0" * (MAX_UPLOAD_BYTES + 1)),
            f"uploads are limited to {MAX_UPLOAD_BYTES / 2**20:.0f} MB",
        ),
    ],
)
def test_bad_input_becomes_a_message_not_an_exception(action, message):
    explorer = SignalExplorer()
    action(explorer)
    assert explorer.wait_idle(WAIT_S)
    assert explorer.messages.level == "error"
    assert message in explorer.messages.text
    assert "Traceback" not in explorer.messages.value
    assert explorer.analysis is None and explorer.chart.points_sent == 0


def test_an_upload_through_the_file_upload_widget_is_analysed():
    explorer = SignalExplorer()
    content = (SAMPLES / "mild_apnea.txt").read_bytes()
    explorer.upload.value = (
        {
            "name": "night <1>.txt",
            "type": "text/plain",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": datetime.now(UTC),
        },
    )
    assert explorer.wait_idle(WAIT_S)
    assert explorer.upload.value == ()  # ready for the next file
    assert explorer.analysis.apnea_count == len(Truth.from_json(SAMPLES / "mild_apnea.truth.json").apneas)
    assert "night &lt;1&gt;.txt" in explorer.summary.value  # the file name is escaped
    assert 'download="night &lt;1&gt;_breaths.csv"' in explorer.downloads.value


@pytest.fixture
def reference_data_allowed(monkeypatch):
    """Open by path may read ../shared/reference_data (CPAP_DATA_DIRS)."""
    monkeypatch.setenv("CPAP_DATA_DIRS", f"{SAMPLES}:{REFERENCE_DATA.resolve()}")


def test_a_device_night_opens_by_path_and_shows_the_comparison_with_the_device(reference_data_allowed):
    explorer = SignalExplorer()
    explorer.open_path(DEVICE_NIGHT)
    assert explorer.wait_idle(WAIT_S), explorer.messages.text
    assert explorer.messages.level == "success", explorer.messages.text
    assert explorer.analysis.recording.fs_hz == 25.0
    assert explorer.chart.flow_points <= 3000 < explorer.chart.total_samples
    # a long breaths table is offered on request only (it would slow every re-analysis)
    assert "_breaths.csv" not in explorer.downloads.value and "_events.csv" in explorer.downloads.value
    assert explorer.prepare_csv_button.layout.display is None
    explorer.prepare_csv_button.click()
    breaths = _csv_from_link(explorer.downloads.value, "20241017_breaths.csv")
    assert len(breaths) == explorer.analysis.breath_count > 2000
    # the device's own scoring, beside ours
    assert explorer.comparison_box.layout.display is None
    text = re.sub(r"<[^>]+>", " ", explorer.comparison_view.value)
    assert "4 session(s)" in text and "Breath rate" in text and "Tidal volume" in text
    assert re.search(r"Obstructive Apnea at 06:54:33:\s+(found|missed)", text)
    device_rows = [label for label, _ in explorer.event_picker.options if label.split()[1] == "device"]
    assert [row.split()[:3] for row in device_rows] == [
        ["06:54:23", "device", "Obstructive"],
        ["06:54:47", "device", "Central"],
        ["07:12:52", "device", "Hypopnea"],
    ]
    # the stacked channels under the flow, on the device's clock, and the event lanes
    chart = explorer.chart
    assert chart.channels_shown == ["pressure", "leak", "resp_rate", "tidal_volume"]
    assert all(chart.channel_points(name) <= chart.max_channel_points for name in chart.channels_shown)
    assert chart.axis_label == "clock time" and chart.status.value.count("22:18:49") == 1
    assert {"device:obstructive_apnea", "device:central_apnea", "device:hypopnea"} <= set(chart.lanes_shown)
    # a click on the device's central apnea (chart mark) zooms there and selects its row
    central = int(chart.events.index[chart.events["kind"] == "central_apnea"][0])
    chart.click_event(central)
    lo, hi = chart.visible_range
    assert lo < chart.events.loc[central, "start_s"] < chart.events.loc[central, "end_s"] < hi and hi - lo < 120
    assert explorer.event_picker.value == central
    # re-decimated for the window: the 0.5 Hz trends have a few dozen points there, the 25 Hz pressure its raw ones
    assert all(chart.channel_points(name) < 100 for name in ("leak", "resp_rate", "tidal_volume"))
    assert 0 < chart.channel_points("pressure") <= chart.max_channel_points
    # a lab recording afterwards hides the comparison again
    explorer.open_sample("normal_breathing.txt")
    assert explorer.wait_idle(WAIT_S)
    assert explorer.comparison_box.layout.display == "none" and explorer.device_data is None


def test_an_uploaded_brp_alone_says_the_device_events_are_not_included():
    explorer = SignalExplorer()
    brp = DEVICE_NIGHT / "20241018_055256_BRP.edf"
    explorer.open_bytes(brp.name, brp.read_bytes())
    assert explorer.wait_idle(WAIT_S)
    assert explorer.analysis.recording.fs_hz == 25.0
    assert "1 session(s)" in explorer.comparison_view.value
    assert "Device events not included in this upload." in explorer.comparison_view.value
    assert "Device events not included in this upload." in explorer.messages.text
    assert "scored no events" not in explorer.comparison_view.value
    assert "device events not included in this upload" in explorer.chart.legend.value
    assert not [lane for lane in explorer.chart.lanes_shown if lane.startswith("device:")]


def test_the_csv_export_gives_clock_times_in_the_lab_zone_where_the_start_is_known(severe, monkeypatch):
    monkeypatch.setenv("CPAP_LAB_TZ", "America/New_York")  # the device's clock is read as the lab's wall clock
    explorer = SignalExplorer()
    brp = DEVICE_NIGHT / "20241018_055256_BRP.edf"  # a session from 05:52:56 on the device's clock
    explorer.open_bytes(brp.name, brp.read_bytes())
    assert explorer.wait_idle(WAIT_S)
    result, lab = explorer.analysis, ZoneInfo("America/New_York")
    start = result.recording.start_time.replace(tzinfo=lab)
    breaths = _csv_from_link(explorer.downloads.value, "20241018_055256_BRP_breaths.csv")
    assert list(breaths.columns) == ["start_clock", *result.breaths.columns] and len(breaths) == result.breath_count
    for row in (breaths.iloc[0], breaths.iloc[-1]):
        clock = datetime.fromisoformat(row["start_clock"])
        assert row["start_clock"].endswith("-04:00")  # ISO 8601 with the lab's offset (EDT in October)
        assert abs((clock - (start + timedelta(seconds=row["start_s"]))).total_seconds()) < 0.001
    assert breaths["start_clock"].iloc[0].startswith("2024-10-18T05:5")
    events = pd.read_csv(io.StringIO(explorer.events_csv()))
    assert list(events.columns) == ["start_clock", "end_clock", *result.events.columns]
    assert len(events) == len(result.events) > 0
    for row in events.itertuples():
        clock_span = (datetime.fromisoformat(row.end_clock) - datetime.fromisoformat(row.start_clock)).total_seconds()
        assert abs(clock_span - (row.end_s - row.start_s)) < 0.002
    note = explorer.downloads.value
    assert "clock time in America/New_York (start_clock, ISO 8601 with offset)" in note and "(start_s)" in note
    # a lab text file records no start: elapsed seconds only, and the page says so
    assert "no clock time" in severe.downloads.value and "start_clock" not in severe.events_csv()


def test_a_session_uploaded_with_its_event_file_shows_the_device_events():
    explorer = SignalExplorer()
    names = ["20241018_055256_BRP.edf", "20241018_055249_EVE.edf", "20241018_055256_PLD.edf"]
    explorer.upload.value = tuple(
        {
            "name": n,
            "type": "",
            "size": 0,
            "content": memoryview((DEVICE_NIGHT / n).read_bytes()),
            "last_modified": datetime.now(UTC),
        }
        for n in names
    )
    assert explorer.wait_idle(WAIT_S), explorer.messages.text
    assert explorer.messages.level == "success", explorer.messages.text
    assert explorer.device_events_note == ""
    assert re.search(r"Obstructive Apnea at 06:54:33", explorer.comparison_view.value)
    assert {"device:obstructive_apnea", "device:central_apnea", "device:hypopnea"} <= set(explorer.chart.lanes_shown)
    assert explorer.chart.channels_shown == ["pressure", "leak", "resp_rate", "tidal_volume"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("a.txt", b"x"), ("b.txt", b"y")], "upload one lab text file at a time"),
        ([("a.txt", b"x"), ("x_BRP.edf", b"y")], "a lab text file and EDF files together"),
        ([("20241018_055256_PLD.edf", b"y")], "no *_BRP.edf among the uploaded files"),
    ],
)
def test_uploads_that_are_not_one_recording_are_refused_with_a_sentence(files, message):
    explorer = SignalExplorer()
    explorer.open_files(files)
    assert explorer.wait_idle(WAIT_S)
    assert explorer.messages.level == "error" and message in explorer.messages.text


def test_open_by_path_reads_only_regular_files_inside_the_data_folders(tmp_path, monkeypatch):
    """Issue 14.12: no file outside the data folders, no '..', no link out, no FIFO (and no hang on one)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "night.txt").write_bytes((SAMPLES / "mild_apnea.txt").read_bytes())
    (data / "shadow.txt").symlink_to("/etc/passwd")
    (data / "inside.txt").symlink_to(data / "night.txt")
    os.mkfifo(data / "pipe.txt")
    card = data / "card"
    card.mkdir()
    (card / "20241018_055256_BRP.edf").symlink_to("/etc/passwd")
    (tmp_path / "outside.txt").write_bytes(b"secret")
    monkeypatch.setenv("CPAP_DATA_DIRS", str(data))
    explorer = SignalExplorer()
    rule = html.unescape(explorer.path_note.value)
    assert str(data) in rule and "no '..', no links leading out" in rule
    refusals = {
        "/etc/shadow": "not inside a data folder",
        str(tmp_path / "outside.txt"): "not inside a data folder",
        f"{data}/../outside.txt": "'..' is not allowed",
        "../outside.txt": "'..' is not allowed",
        str(data / "shadow.txt"): "a link leading outside the data folders",
        str(data / "pipe.txt"): "not a regular file",
        str(card): "a link leading outside the data folders",
    }
    for path, reason in refusals.items():
        started = time.monotonic()
        explorer.open_path(path)
        assert explorer.wait_idle(WAIT_S)
        assert time.monotonic() - started < 5  # a FIFO is never opened
        assert explorer.messages.level == "error", path
        assert reason in explorer.messages.text, (path, explorer.messages.text)
        assert explorer.analysis is None
    assert "open by path reads only regular files and folders inside the data folders" in explorer.messages.text
    for allowed in (str(data / "night.txt"), "night.txt", str(data / "inside.txt")):
        explorer.open_path(allowed)
        assert explorer.wait_idle(WAIT_S)
        assert explorer.messages.level == "success", explorer.messages.text


AS11 = REFERENCE_DATA / "resmed_airsense11"
AC10_NIGHT = REFERENCE_DATA / "resmed_aircurve10" / "DATALOG" / "20250202"
AS10_NIGHT = REFERENCE_DATA / "resmed_airsense10" / "DATALOG" / "20241126"


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    """A card of three real nights (AirSense 11, AirCurve 10, AirSense 10 on 15-17 Oct 2024) and an unreadable
    fourth (18 Oct: its only BRP file is cut inside its header), built the way benchmarks/bench_edf.py builds its."""
    root = build_card(
        tmp_path_factory.mktemp("data") / "card",
        [DEVICE_NIGHT, AC10_NIGHT, AS10_NIGHT],
        date(2024, 10, 15),
        identity=AS11,
    )
    broken = root / "DATALOG" / "20241018"
    broken.mkdir()
    (broken / "20241018_230000_BRP.edf").write_bytes((DEVICE_NIGHT / "20241018_021408_BRP.edf").read_bytes()[:300])
    return root


@pytest.fixture
def card_allowed(card, monkeypatch):
    monkeypatch.setenv("CPAP_DATA_DIRS", str(card.parent))


def _night_rows(explorer):
    return [label.split() for label, _ in explorer.night_picker.options]


def test_a_card_root_opens_its_latest_readable_night_at_once_and_lists_every_night(card, card_allowed):
    explorer = SignalExplorer()
    assert explorer.card_box.layout.display == "none"
    explorer.open_path(card)
    assert explorer.wait_idle(WAIT_S), explorer.messages.text
    # the latest night (18 Oct) cannot be read: the 17th opens, and the message says why the 18th did not
    assert explorer.night_shown == "2024-10-17" and explorer.night_picker.value == "2024-10-17"
    assert explorer.messages.level == "warning", explorer.messages.text
    assert explorer.messages.text.startswith("Opened the night of 2024-10-17 from the card (4 nights): 441.0 min")
    assert "Nights that cannot be read: 2024-10-18 (" in explorer.messages.text
    assert explorer.analysis.recording.duration_s == pytest.approx(7.35 * 3600, abs=60)
    # the list: newest first, hours of flow and the device's AHI (its EVE events per hour: no STR.edf here)
    assert explorer.card_box.layout.display is None
    assert "Nights on the card" in explorer.card_title.value and "AirSense 11 AutoSet" in explorer.card_title.value
    assert _night_rows(explorer) == [
        ["2024-10-18", "0.0", "h", "AHI", "n/a", "cannot", "be", "read"],
        ["2024-10-17", "7.3", "h", "AHI", "10.9", "(EVE)"],
        ["2024-10-16", "9.2", "h", "AHI", "1.3", "(EVE)"],
        ["2024-10-15", "8.9", "h", "AHI", "0.3", "(EVE)"],
    ]
    assert {"device:obstructive_apnea", "device:central_apnea"} <= set(explorer.chart.lanes_shown)

    # one click on another night opens it, with the device's scoring beside ours
    explorer.night_picker.value = "2024-10-15"
    assert explorer.wait_idle(WAIT_S), explorer.messages.text
    assert explorer.messages.level == "warning" and "the night of 2024-10-15 from the card" in explorer.messages.text
    assert explorer.night_shown == "2024-10-15" and explorer.analysis.recording.source == "2024-10-15"
    assert explorer.chart.status.value.count("22:18:49") == 1  # the AirSense 11 night's clock
    assert "4 session(s)" in explorer.comparison_view.value
    shown = explorer.analysis

    # a night that cannot be read: a sentence, the night on screen stays, the list goes back to it
    explorer.night_picker.value = "2024-10-18"
    assert explorer.wait_idle(WAIT_S)
    assert explorer.messages.level == "error"
    assert explorer.messages.text.startswith("The night of 2024-10-18 cannot be opened: ")
    assert explorer.messages.text.endswith("; still showing the night of 2024-10-15.")
    assert "Traceback" not in explorer.messages.value
    assert explorer.analysis is shown and explorer.night_shown == "2024-10-15"
    assert explorer.night_picker.value == "2024-10-15"
    assert explorer.chart.points_sent > 0

    # a slider change re-analyses the night on screen; a lab file afterwards puts the list away
    explorer.sliders["min_event_s"].value = 12.0
    assert explorer.wait_idle(WAIT_S)
    assert explorer.analysis.recording is shown.recording and explorer.night_shown == "2024-10-15"
    # a click back to the night on screen while another loads: the latest click wins
    explorer.night_picker.value = "2024-10-16"
    explorer.night_picker.value = "2024-10-15"
    assert explorer.wait_idle(WAIT_S)
    assert explorer.night_shown == "2024-10-15" and explorer.night_picker.value == "2024-10-15"
    assert explorer.analysis.recording.source == "2024-10-15"
    explorer.open_sample("normal_breathing.txt")
    assert explorer.wait_idle(WAIT_S)
    assert explorer.card is None and explorer.card_box.layout.display == "none" and explorer.night_picker.options == ()


def test_the_shared_airsense11_card_lists_its_night_with_the_device_summary_ahi(reference_data_allowed):
    explorer = SignalExplorer()
    explorer.open_path(AS11)
    assert explorer.wait_idle(WAIT_S), explorer.messages.text
    assert explorer.messages.level == "success", explorer.messages.text
    assert _night_rows(explorer) == [["2024-10-17", "8.9", "h", "AHI", "0.3", "(STR)"]]
    assert explorer.night_shown == "2024-10-17" and "(1 nights)" in explorer.messages.text


def test_a_card_whose_nights_all_fail_keeps_the_recording_on_screen(tmp_path, monkeypatch):
    root = tmp_path / "card"
    broken = root / "DATALOG" / "20241018"
    broken.mkdir(parents=True)
    (broken / "20241018_230000_BRP.edf").write_bytes((DEVICE_NIGHT / "20241018_021408_BRP.edf").read_bytes()[:300])
    monkeypatch.setenv("CPAP_DATA_DIRS", f"{SAMPLES}:{tmp_path}")
    explorer = SignalExplorer()
    explorer.open_sample("mild_apnea.txt")
    assert explorer.wait_idle(WAIT_S)
    shown = explorer.analysis
    explorer.open_path(root)
    assert explorer.wait_idle(WAIT_S)
    assert explorer.messages.level == "error"
    assert "none of the card's 1 nights can be read (2024-10-18: " in explorer.messages.text
    assert explorer.analysis is shown and explorer.card is None
    assert "Traceback" not in explorer.messages.value
