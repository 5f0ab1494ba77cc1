"""Whole ResMed cards: the three shared nights, and cards assembled from them in tmp dirs.

Aborted sessions (0 and -1 data records, written here from the real headers;
less flow than a breath) are skipped with a note; one EVE per night
(AirSense 10 / AirCurve 10) is split over the sessions its events fall in;
oximetry and trends arrive as named signals; STR.edf gives the device's own
summary of each night.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from cpap_lib.errors import DeviceDataError, NoDataError
from cpap_lib.io import read_recording
from cpap_lib.io.resmed import read_brp, read_card, read_datalog, read_header, read_oximetry
from cpap_lib.io.resmed.assemble import copy_card_files, copy_night
from support import REFERENCE_DATA

REFERENCE = REFERENCE_DATA
AS10, AS11, AC10 = (REFERENCE / f"resmed_{m}" for m in ("airsense10", "airsense11", "aircurve10"))
AC10_NIGHT = AC10 / "DATALOG" / "20250202"
AS11_NIGHT = AS11 / "DATALOG" / "20241017"
AS10_NIGHT = AS10 / "DATALOG" / "20241126"


def header_only(src: Path, dst: Path, *, records: int, clock: str) -> Path:
    """A copy of a real EDF header announcing ``records`` data records, none written, starting at ``clock``."""
    data = src.read_bytes()
    ns = int(data[252:256])
    head = bytearray(data[: 256 * (ns + 1)])
    head[236:244] = str(records).ljust(8).encode()
    head[176:184] = clock.replace(":", ".").encode()
    dst.write_bytes(bytes(head))
    return dst


@pytest.mark.parametrize(
    "card, day, sessions, model",
    [
        (AS10, date(2025, 11, 26), 1, "AirSense 10 AutoSet"),
        (AS11, date(2024, 10, 17), 4, "AirSense 11 AutoSet"),
        (AC10, date(2025, 2, 2), 5, "AirCurve 10 VAuto"),
    ],
)
def test_every_shared_card_reads_its_night_with_device_channels_and_summary(card, day, sessions, model):
    c = read_card(card)
    assert c.identification["product_name"] == model
    assert [n.day for n in c.nights] == [day]
    night = c.night(day.isoformat())
    assert night.day == day and len(night.sessions) == sessions and night.notes == ()
    signals = night.recording.signals
    for name, unit in [
        ("mask_pressure", "cmH2O"),
        ("pressure", "cmH2O"),
        ("leak", "L/min"),
        ("resp_rate", "bpm"),
        ("tidal_volume", "L"),
        ("minute_ventilation", "L/min"),
        ("snore", ""),
        ("flow_limitation", ""),
    ]:
        assert signals[name].unit == unit
        assert signals[name].values.size == night.recording.duration_s / 2  # 0.5 Hz over every session
        assert np.all(np.diff(signals[name].time_s) > 0)
    # no oximeter on any of these nights: the SAD/SA2 files hold only -1, so there is no spo2/pulse signal
    assert "spo2" not in signals and "pulse" not in signals
    assert 10 < np.median(signals["resp_rate"].values[signals["resp_rate"].values > 0]) < 20
    summary = night.summary
    assert night.recording.meta["device_summary"] == summary
    assert summary["day"] == day.isoformat()
    assert abs(summary["usage_h"] - night.recording.duration_s / 3600) < 0.1
    assert summary["mask_on_off"][0][0] <= night.sessions[0].start_time.isoformat()  # STR counts whole minutes


def test_airsense10_night_is_dated_by_its_headers_not_its_file_names():
    c = read_card(AS10)
    assert c.nights[0].name == "20241126" and c.nights[0].day == date(2025, 11, 26)
    assert c.night("20241126").summary["ahi"] == pytest.approx(10.8)  # STR.edf's own night


def test_aircurve_night_events_from_one_eve_file_go_to_the_sessions_they_fall_in():
    night = read_datalog(AC10_NIGHT)
    assert [p.name for p in read_card(AC10).nights[0].annotations] == ["20250202_223717_EVE.edf"]
    per_session = [s.events.kind.value_counts().to_dict() for s in night.sessions]
    assert per_session == [{}, {}, {}, {"central_apnea": 9, "hypopnea": 2}, {"central_apnea": 1}]
    for s in night.sessions:  # every event lies within its session's flow
        assert ((s.events.end_s >= 0) & (s.events.end_s <= s.duration_s)).all()
    assert night.events.session.tolist() == [3] * 11 + [4]


def test_aircurve_device_apneas_are_found_by_our_analysis():
    from cpap_lib.analysis.compare import compare

    result = compare(read_datalog(AC10_NIGHT))
    apnea = result.night.events["apnea"]
    assert apnea.device_count == 10 and apnea.device_found == 10
    assert result.sessions[4].events["apnea"].device_found == 1


def test_a_single_brp_gets_only_its_own_events_from_the_nights_eve():
    from cpap_lib.io.resmed import read_session

    first = read_session(AC10_NIGHT / "20250202_223724_BRP.edf")
    fourth = read_session(AC10_NIGHT / "20250203_050623_BRP.edf")
    assert len(first.events) == 0 and len(fourth.events) == 11


def test_aborted_sessions_are_skipped_with_a_note_and_the_night_still_reads(tmp_path):
    night_dir = copy_night(AC10_NIGHT, tmp_path, date(2025, 2, 2))
    brp = night_dir / "20250203_050623_BRP.edf"
    # in the gap 02:52:56-04:01:11: one never written (0 records), one never closed (-1, nothing in it)
    header_only(brp, night_dir / "20250203_033000_BRP.edf", records=0, clock="03:30:00")
    header_only(
        night_dir / "20250203_050623_PLD.edf", night_dir / "20250203_033000_PLD.edf", records=0, clock="03:30:00"
    )
    header_only(brp, night_dir / "20250203_034500_BRP.edf", records=-1, clock="03:45:00")
    header_only(
        night_dir / "20250203_050623_SAD.edf", night_dir / "20250203_034500_SAD.edf", records=-1, clock="03:45:00"
    )
    night = read_datalog(night_dir)
    assert len(night.sessions) == 5
    assert night.notes[:2] == (
        "session 03:30:00 holds no data; skipped (20250203_033000_BRP.edf: a header and 0 data records)",
        "session 03:45:00 holds no data; skipped (20250203_034500_BRP.edf: a header and 0 data records "
        "(-1 announced: the file was never closed))",
    )
    assert night.recording.meta["notes"] == list(night.notes)
    assert all("Updating header" not in n for n in night.notes)
    card = read_card(tmp_path)
    assert len(card.nights[0].sessions) == 7 and len(card.night().sessions) == 5
    with pytest.raises(NoDataError, match=r"20250203_033000_BRP\.edf: holds no data: a header and 0 data records$"):
        read_brp(night_dir / "20250203_033000_BRP.edf")


def test_a_night_of_only_aborted_sessions_fails_alone_and_the_card_goes_on(tmp_path):
    copy_night(AS11_NIGHT, tmp_path, date(2024, 10, 17))
    empty = tmp_path / "DATALOG" / "20241018"
    empty.mkdir()
    header_only(AS11_NIGHT / "20241018_021408_BRP.edf", empty / "20241018_160000_BRP.edf", records=0, clock="16:00:00")
    card = read_card(tmp_path)
    results = list(card.read_nights())
    assert [i.day for i, _ in results] == [date(2024, 10, 17), date(2024, 10, 18)]
    assert len(results[0][1].sessions) == 4
    assert isinstance(results[1][1], NoDataError)
    assert "session 16:00:00 holds no data; skipped" in str(results[1][1])


def test_never_closed_file_with_data_is_read_to_its_last_complete_record(tmp_path):
    data = bytearray((AS11_NIGHT / "20241018_021408_BRP.edf").read_bytes())
    data[236:244] = b"-1      "
    path = tmp_path / "20241018_021408_BRP.edf"
    path.write_bytes(bytes(data[: len(data) - 1000]))  # the last record half written
    assert read_header(path).records == 23
    assert read_brp(path).duration_s == 23 * 60


def test_session_shorter_than_a_breath_is_skipped(tmp_path):
    import edfio

    night_dir = copy_night(AS11_NIGHT, tmp_path, date(2024, 10, 17))
    edfio.Edf(
        [edfio.EdfSignal(np.zeros(75), 25, label="Flow.40ms", physical_range=(-2, 3))],
        starttime=datetime(2024, 10, 18, 2, 12).time(),
        recording=edfio.Recording(startdate=date(2024, 10, 18)),
    ).write(night_dir / "20241018_021200_BRP.edf")
    night = read_datalog(night_dir)
    assert len(night.sessions) == 4
    assert night.notes == ("session 02:12:00 holds 3 s of flow; too short to hold a breath (at least 5 s); skipped",)


def test_empty_oximetry_file_is_noted_and_gives_no_signal(tmp_path):
    night_dir = tmp_path / "night"
    shutil.copytree(AS10_NIGHT, night_dir)
    sad = night_dir / "20241127_004016_SAD.edf"
    header_only(AS10_NIGHT / sad.name, sad, records=0, clock="00.40.17")
    night = read_datalog(night_dir)
    assert night.notes == ("20241127_004016_SAD.edf (oximetry) holds no data; skipped",)
    assert "spo2" not in night.recording.signals and "resp_rate" in night.recording.signals


def test_oximetry_values_become_spo2_and_pulse_signals(tmp_path):
    src = AS11_NIGHT / "20241018_021408_SA2.edf"
    data = bytearray(src.read_bytes())
    ns = int(data[252:256])
    start = 256 * (ns + 1)
    record = 2 * (60 + 60 + 1)  # Pulse.1s, SpO2.1s, Crc16 per 60-s record
    values = np.frombuffer(bytes(data[start:]), dtype="<i2").reshape(-1, 121).copy()
    values[:, :60] = 62  # pulse
    values[:, 60:120] = 95  # SpO2
    values[0, 60:70] = -1  # ten seconds without contact
    data[start:] = values.tobytes()
    assert len(data) - start == record * 24
    night_dir = tmp_path / "night"
    shutil.copytree(AS11_NIGHT, night_dir)
    (night_dir / src.name).write_bytes(bytes(data))
    ox = read_oximetry(night_dir / src.name)
    assert ox.spo2_pct.isna().sum() == 10 and ox.spo2_pct.max() == 95
    night = read_datalog(night_dir)
    spo2, pulse = night.recording.signals["spo2"], night.recording.signals["pulse"]
    assert (spo2.unit, pulse.unit) == ("%", "bpm") and spo2.values.size == 24 * 60
    offset = night.recording.meta["sessions"][1]["offset_s"]  # the second session, in the night's time base
    assert spo2.time_s[0] == offset and np.nanmedian(spo2.values) == 95 and np.nanmedian(pulse.values) == 62


def test_card_of_several_nights_from_three_devices(tmp_path):
    copy_card_files(AS11, tmp_path)
    copy_night(AS11_NIGHT, tmp_path, date(2024, 10, 15))
    copy_night(AC10_NIGHT, tmp_path, date(2024, 10, 16))
    copy_night(AS10_NIGHT, tmp_path, date(2024, 10, 17))
    copy_night(AS11_NIGHT, tmp_path, date(2024, 10, 18))
    card = read_card(tmp_path)
    assert [n.day.isoformat() for n in card.nights] == ["2024-10-15", "2024-10-16", "2024-10-17", "2024-10-18"]
    assert card.identification["serial_number"] == "23241877024"
    nights = [night for _, night in card.read_nights()]
    assert [len(n.sessions) for n in nights] == [4, 5, 1, 4]
    assert [len(n.events) for n in nights] == [3, 12, 80, 3]
    # sessions after midnight belong to the evening before
    assert nights[0].sessions[1].start_time == datetime(2024, 10, 16, 2, 14, 8)
    assert card.night("20241016").day == date(2024, 10, 16)
    with pytest.raises(DeviceDataError, match="no night '2024-10-19' on the card"):
        card.night("2024-10-19")
    with pytest.raises(DeviceDataError, match=r"the card holds 4 nights"):
        read_recording(tmp_path)


def test_other_formats_are_named_not_reported_as_bad_rows(tmp_path):
    import edfio

    from cpap_lib.cli import main
    from cpap_lib.errors import RecordingError

    other = tmp_path / "philips_night.edf"
    edfio.Edf(
        [edfio.EdfSignal(np.zeros(2500), 25, label="Flow Patient", physical_range=(-2, 3))],
        recording=edfio.Recording(startdate=date(2024, 10, 18), hospital_administration_code="DreamStation"),
        starttime=datetime(2024, 10, 18, 1, 0).time(),
    ).write(other)
    with pytest.raises(
        DeviceDataError,
        match=r"philips_night\.edf: not a ResMed EDF file \(expected a ResMed "
        r"\*_BRP\.edf: a recording field with SRN=<serial> and a 'Flow\.40ms' channel; "
        r"this file's channels: Flow Patient\)",
    ):
        read_recording(other)
    export = tmp_path / "oscar_export.csv"
    export.write_text("Date;Session;AHI;Leak\n2024-10-17;1;0.3;2.4\n2024-10-18;2;1.1;0.0\n")
    with pytest.raises(
        RecordingError,
        match=r"oscar_export\.csv: not the lab's venturi format \(expected header "
        r"'Time \[s\], V1-P2, V1-P1-Ins, V1-P1-Exp, V2-P2, V2-P1-Ins, V2-P1-Exp' and seven "
        r"comma-separated numbers per row; the file starts 'Date;Session;AHI;Leak'\)",
    ):
        read_recording(export)
    for path in (other, export):
        assert main(["analyze", str(path)]) == 2


def test_empty_eve_unknown_labels_and_events_between_sessions(tmp_path):
    import edfio

    night_dir = copy_night(AS11_NIGHT, tmp_path, date(2024, 10, 17))
    header_only(
        AS11_NIGHT / "20241018_021402_EVE.edf", night_dir / "20241018_021402_EVE.edf", records=0, clock="02:14:02"
    )
    # an extra annotation file: an unknown label inside the first session, an apnea in the gap 05:50:45-05:52:56
    edfio.Edf(
        [],
        annotations=[
            edfio.EdfAnnotation(0, 0, "Recording starts"),
            edfio.EdfAnnotation(600, 30, "CSR Start"),
            edfio.EdfAnnotation(27187, 10, "OBSTRUCTIVE apnea"),
        ],
        starttime=datetime(2024, 10, 17, 22, 18, 43).time(),
        recording=edfio.Recording(startdate=date(2024, 10, 17)),
    ).write(night_dir / "20241017_221844_EVE.edf")
    night = read_datalog(night_dir)
    assert "20241018_021402_EVE.edf holds no data; skipped" in night.notes
    assert night.sessions[0].events[["kind", "label"]].values.tolist() == [["other", "CSR Start"]]
    assert night.notes[-1] == "1 device event(s) fall outside every session; kept with session -1, not compared"
    stray = night.events[night.events.session == -1]
    assert stray.kind.tolist() == ["obstructive_apnea"] and len(night.events) == 5


def test_a_corrupt_session_is_skipped_with_its_reason_and_the_night_reads(tmp_path):
    night_dir = copy_night(AS11_NIGHT, tmp_path, date(2024, 10, 17))
    brp = night_dir / "20241018_021408_BRP.edf"
    brp.write_bytes(brp.read_bytes()[:50_000])  # cut mid-record
    night = read_datalog(night_dir)
    assert [s.name for s in night.sessions] == ["20241017_221849", "20241018_023945", "20241018_055256"]
    assert night.notes == (
        "session 02:14:08 cannot be read; skipped (20241018_021408_BRP.edf: truncated or corrupt: "
        "the header announces 24 data records but the file holds 8 complete ones)",
    )
    assert len(night.events) == 3


def test_broken_companion_files_cost_the_session_nothing_but_their_channels(tmp_path):
    night_dir = copy_night(AS10_NIGHT, tmp_path, date(2025, 11, 26))
    pld, eve = night_dir / "20241127_004016_PLD.edf", night_dir / "20241127_004009_EVE.edf"
    pld.write_bytes(pld.read_bytes()[:30_000])
    eve.write_bytes(b"not an EDF file at all, but named like one" * 10)
    night = read_datalog(night_dir)
    assert len(night.sessions) == 1 and night.recording.duration_s == 441 * 60
    assert night.notes == (
        "20241127_004009_EVE.edf cannot be read; skipped (not an EDF file (the header does not start with version '0'))",
        "20241127_004016_PLD.edf (trends) cannot be read; skipped (truncated or corrupt: the header announces 441 "
        "data records but the file holds 50 complete ones)",
    )
    assert "resp_rate" not in night.recording.signals and len(night.events) == 0


def test_the_card_overview_lists_nights_with_the_device_ahi_from_str_else_eve(tmp_path):
    real = read_card(AS11).overview()
    assert real.to_dict("records") == [
        {
            "day": "2024-10-17",
            "folder": "20241017",
            "sessions": 4,
            "flow_h": pytest.approx(8.917, abs=0.001),
            "device_ahi": pytest.approx(0.3),
            "device_ahi_source": "STR.edf",
        }
    ]
    copy_night(AS10_NIGHT, tmp_path, date(2024, 10, 16))  # no STR.edf on this card: the EVE events per hour
    bare = copy_night(AC10_NIGHT, tmp_path, date(2024, 10, 17))
    for eve in bare.glob("*_EVE.edf"):
        eve.unlink()  # no event file: unknown, not zero
    aborted = tmp_path / "DATALOG" / "20241018"
    aborted.mkdir()
    header_only(
        AS11_NIGHT / "20241018_021408_BRP.edf", aborted / "20241018_230000_BRP.edf", records=-1, clock="23:00:00"
    )
    rows = read_card(tmp_path).overview()
    assert rows["day"].tolist() == ["2024-10-16", "2024-10-17", "2024-10-18"]
    assert rows["device_ahi_source"].tolist() == ["EVE", "", ""]
    assert rows["device_ahi"].iloc[0] == pytest.approx(80 / 7.35, abs=0.01)  # 71 apneas + 9 hypopneas in 7.35 h
    assert rows["device_ahi"].iloc[1:].isna().all()
    assert rows["flow_h"].iloc[2] == 0.0  # an aborted file announcing -1 records holds no flow
