"""ResMed EDF readers on a real AirSense 11 night (../shared/reference_data) and on broken files."""

from __future__ import annotations

import shutil
from datetime import datetime

import numpy as np
import pytest

from cpap_lib.errors import DeviceDataError, RecordingError
from cpap_lib.io import resmed as edf
from support import REFERENCE_DATA

CARD = REFERENCE_DATA / "resmed_airsense11"
NIGHT = CARD / "DATALOG" / "20241017"
LAST_BRP = NIGHT / "20241018_055256_BRP.edf"

# session stamp, start, duration (s) as the device wrote them
SESSIONS = [
    ("20241017_221849", datetime(2024, 10, 17, 22, 18, 49), 13980.0),
    ("20241018_021408", datetime(2024, 10, 18, 2, 14, 8), 1440.0),
    ("20241018_023945", datetime(2024, 10, 18, 2, 39, 45), 11460.0),
    ("20241018_055256", datetime(2024, 10, 18, 5, 52, 56), 5220.0),
]


@pytest.fixture(scope="module")
def night() -> edf.DeviceNight:
    return edf.read_datalog(NIGHT)


def test_every_session_loads_with_its_start_duration_and_rate(night):
    got = [(s.name, s.start_time, s.duration_s, s.recording.fs_hz) for s in night.sessions]
    assert got == [(name, start, dur, 25.0) for name, start, dur in SESSIONS]
    for session in night.sessions:
        rec = session.recording
        assert rec.samples == rec.duration_s * 25
        assert rec.pressure_cmh2o is not None and rec.pressure_cmh2o.shape == rec.flow_lps.shape
        assert -2.0 <= rec.flow_lps.min() < 0 < rec.flow_lps.max() <= 3.0  # physical range of Flow.40ms
        assert 3.0 < np.median(rec.pressure_cmh2o) < 20.0
        assert rec.meta["device"] == {"serial_number": "23241877024", "model_id": "46", "variant_id": "3"}
        assert rec.source == f"{session.name}_BRP.edf"


def test_sessions_find_their_companion_files_by_nearest_stamp(night):
    files = night.sessions[2].files
    assert files.brp.name == "20241018_023945_BRP.edf"
    assert files.pld.name == "20241018_023944_PLD.edf"  # one second earlier than the BRP
    assert files.eve.name == "20241018_023940_EVE.edf"
    assert files.csl.name == "20241018_023940_CSL.edf"
    assert files.sa2.name == "20241018_023945_SA2.edf"


def test_device_events_align_by_absolute_time(night):
    last = night.sessions[3]
    ev = last.events
    assert ev.kind.tolist() == ["obstructive_apnea", "central_apnea", "hypopnea"]
    assert ev.onset_s.tolist() == [3704.0, 3728.0, 4803.0]  # relative to the EVE file (05:52:49)
    assert ev.duration_s.tolist() == [10.0, 10.0, 0.0]
    assert ev.start_time[0] == datetime(2024, 10, 18, 6, 54, 33)
    # the BRP file starts 7 s after the EVE file; the device stamps an event at its end
    assert ev.end_s.tolist() == [3697.0, 3721.0, 4796.0]
    assert ev.start_s.tolist() == [3687.0, 3711.0, 4796.0]
    assert all(len(s.events) == 0 for s in night.sessions[:3])


def test_trends_carry_the_device_channels_at_half_a_hertz(night):
    tr = night.sessions[2].trends
    for column in (
        "resp_rate_bpm",
        "tidal_volume_l",
        "minute_ventilation_lpm",
        "leak_lps",
        "mask_pressure_cmh2o",
        "pressure_cmh2o",
        "epr_pressure_cmh2o",
        "snore",
        "flow_limitation",
    ):
        assert column in tr.columns
    assert len(tr) == 11460 / 2
    assert np.all(np.diff(tr.time_s) == 2.0)
    assert tr.time[0] == datetime(2024, 10, 18, 2, 39, 44)
    assert tr.recording_time_s[0] == -1.0  # the PLD file starts a second before the BRP file
    breathing = tr.resp_rate_bpm[tr.resp_rate_bpm > 0]
    assert 8 < breathing.median() < 25
    assert 0.2 < tr.tidal_volume_l[tr.tidal_volume_l > 0].median() < 1.0


def test_night_recording_keeps_gaps_in_the_time_axis(night):
    rec = night.recording
    assert rec.samples == sum(d for *_, d in SESSIONS) * 25
    assert rec.start_time == SESSIONS[0][1]
    assert np.all(np.diff(rec.time_s) > 0)
    offsets = [(start - SESSIONS[0][1]).total_seconds() for _, start, _ in SESSIONS]
    assert [s["offset_s"] for s in rec.meta["sessions"]] == offsets
    first = np.flatnonzero(np.diff(rec.channels["session"])) + 1
    assert rec.time_s[first].tolist() == offsets[1:]
    assert rec.meta["gaps"] == [
        {"start_s": 13980.0, "end_s": 14119.0},
        {"start_s": 15559.0, "end_s": 15656.0},
        {"start_s": 27116.0, "end_s": 27247.0},
    ]
    # night events in the night's time base: session 4 starts 27247 s in
    assert night.events.end_s.tolist() == [27247.0 + 3697, 27247.0 + 3721, 27247.0 + 4796]
    assert night.trends.recording_time_s.is_monotonic_increasing


def test_card_root_lists_its_nights_and_device():
    card = edf.read_card(CARD)
    assert card.identification == {
        "product_name": "AirSense 11 AutoSet",
        "serial_number": "23241877024",
        "product_code": "39517",
    }
    assert [n.name for n in card.nights] == ["20241017"]
    with pytest.raises(DeviceDataError, match="no night '20240101'.*2024-10-17"):
        card.night("20240101")


def test_event_labels_are_matched_case_insensitively():
    assert edf.event_kind("obstructive APNEA") == "obstructive_apnea"
    assert edf.event_kind("  Central   Apnea ") == "central_apnea"
    assert edf.event_kind("APNEA") == "apnea"
    assert edf.event_kind("hypopnea") == "hypopnea"
    assert edf.event_kind("Arousal") == "arousal"
    assert edf.event_kind("Cheyne Stokes Start") == "other"


def test_truncated_file_names_the_file_and_reason(tmp_path):
    data = LAST_BRP.read_bytes()
    cut = tmp_path / LAST_BRP.name
    cut.write_bytes(data[: len(data) // 2 + 37])
    with pytest.raises(
        DeviceDataError,
        match=r"20241018_055256_BRP\.edf: truncated or corrupt: "
        r"the header announces 87 data records but the file holds 43 complete ones",
    ):
        edf.read_brp(cut)
    header_only = tmp_path / "header_only_BRP.edf"
    header_only.write_bytes(data[:200])
    with pytest.raises(DeviceDataError, match=r"header_only_BRP\.edf: truncated: 200 bytes"):
        edf.read_brp(header_only)


def test_junk_bytes_name_the_file_and_reason(tmp_path):
    junk = tmp_path / "junk_BRP.edf"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(
        DeviceDataError, match=r"junk_BRP\.edf: not an EDF file \(the header does not start with version '0'\)$"
    ):
        edf.read_brp(junk)
    bad_header = tmp_path / "bad_header_EVE.edf"
    bad_header.write_bytes(b"0       " + bytes(range(200, 256)) * 40)
    with pytest.raises(DeviceDataError, match=r"bad_header_EVE\.edf: corrupt EDF header"):
        edf.read_events(bad_header)
    assert issubclass(DeviceDataError, RecordingError)


def test_missing_file_and_missing_flow_channel(tmp_path):
    with pytest.raises(DeviceDataError, match="nope_BRP.edf: file not found"):
        edf.read_brp(tmp_path / "nope_BRP.edf")
    with pytest.raises(DeviceDataError, match=r"_PLD\.edf: no 'Flow.40ms' channel \(channels: MaskPress.2s"):
        edf.read_brp(NIGHT / "20241018_055256_PLD.edf")


def test_folder_without_sessions_is_refused(tmp_path):
    with pytest.raises(DeviceDataError, match="no sessions with flow data"):
        edf.read_datalog(tmp_path)
    with pytest.raises(DeviceDataError, match="not a ResMed SD card root"):
        edf.read_card(tmp_path)


def test_session_without_companions_reads_alone(tmp_path):
    shutil.copy(LAST_BRP, tmp_path / LAST_BRP.name)
    session = edf.read_session(tmp_path / LAST_BRP.name)
    assert session.files.pld is None and session.files.eve is None
    assert len(session.events) == 0 and len(session.trends) == 0
    assert session.duration_s == 5220.0


def test_device_apnea_spans_hold_flat_flow_and_breathing_resumes_at_the_stamp(night):
    """Evidence for reading an event as the ``duration_s`` before its stamp."""
    last = night.sessions[3]
    t, flow = last.recording.time_s, last.recording.flow_lps
    for ev in last.events[last.events.kind.str.endswith("apnea")].itertuples():
        during = flow[(t >= ev.end_s - 8) & (t < ev.end_s - 1)]
        after = flow[(t >= ev.end_s) & (t < ev.end_s + 8)]
        assert np.ptp(during) < 0.2 < 0.6 < np.ptp(after)


def test_anonymized_edf_plus_date_falls_back_to_the_legacy_header_date(tmp_path):
    data = bytearray((NIGHT / "20241018_021408_BRP.edf").read_bytes())
    data[88:168] = b"Startdate X X X X".ljust(80)  # EDF+ anonymized recording field
    copy = tmp_path / "20241018_021408_BRP.edf"
    copy.write_bytes(bytes(data))
    rec = edf.read_brp(copy)
    assert rec.start_time == datetime(2024, 10, 18, 2, 14, 8)
    assert rec.meta["device"] == {}
