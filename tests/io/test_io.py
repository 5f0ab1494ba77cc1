"""read_recording / read_device_data dispatch on real lab and device files."""

from __future__ import annotations

from datetime import date

import pytest

from cpap_lib import io
from cpap_lib.errors import DeviceDataError, RecordingError
from cpap_lib.io.resmed import DeviceNight, DeviceSession
from cpap_lib.io.resmed.assemble import copy_night
from support import REFERENCE_DATA

REFERENCE = REFERENCE_DATA
CARD = REFERENCE / "resmed_airsense11"
NIGHT = CARD / "DATALOG" / "20241017"
BRP = NIGHT / "20241018_021408_BRP.edf"


def test_lab_text_file_goes_to_the_lab_reader():
    rec = io.read_recording(REFERENCE / "venturi" / "patient_01.txt")
    assert (rec.samples, rec.fs_hz, rec.meta["format"]) == (17999, 100.0, "lab-venturi")


def test_brp_file_gives_the_session_flow():
    rec = io.read_recording(BRP)
    assert (rec.fs_hz, rec.duration_s, rec.meta["format"]) == (25.0, 1440.0, "resmed-edf")


@pytest.mark.parametrize("name", ["20241018_021408_PLD.edf", "20241018_021402_EVE.edf", "20241018_021408_SA2.edf"])
def test_other_edf_files_say_which_files_carry_flow(name):
    with pytest.raises(
        DeviceDataError,
        match=rf"{name}: a ResMed [A-Z0-9]+ file holds no flow signal; "
        r"flow is in the \*_BRP\.edf files",
    ):
        io.read_recording(NIGHT / name)
    with pytest.raises(DeviceDataError, match="STR.edf is the device's daily summary"):
        io.read_recording(CARD / "STR.edf")


def test_date_folder_and_card_root_give_the_whole_night():
    by_folder = io.read_recording(NIGHT)
    by_card = io.read_recording(CARD)
    for rec in (by_folder, by_card):
        assert rec.samples == (13980 + 1440 + 11460 + 5220) * 25
        assert len(rec.meta["sessions"]) == 4 and len(rec.meta["gaps"]) == 3


def test_card_with_several_nights_asks_for_one(tmp_path):
    copy_night(NIGHT, tmp_path, date(2024, 10, 17))
    other = copy_night(NIGHT, tmp_path, date(2024, 10, 18))
    with pytest.raises(
        DeviceDataError,
        match=r"the card holds 2 nights \(2024-10-17, 2024-10-18\); pick one "
        r"\(cpap-lab analyze CARD --night DAY\) or pass one DATALOG/<date> folder",
    ):
        io.read_recording(tmp_path)
    assert io.read_recording(other).duration_s == (13980 + 1440 + 11460 + 5220)


def test_unrelated_folder_and_missing_file(tmp_path):
    with pytest.raises(DeviceDataError, match="neither a ResMed DATALOG/<date> folder nor a card root"):
        io.read_recording(tmp_path)
    with pytest.raises(RecordingError, match="gone.txt: file not found"):
        io.read_recording(tmp_path / "gone.txt")


def test_read_device_data_keeps_events_and_trends(tmp_path):
    assert isinstance(io.read_device_data(BRP), DeviceSession)
    night = io.read_device_data(CARD)
    assert isinstance(night, DeviceNight) and len(night.events) == 3
    lab = tmp_path / "x.txt"
    lab.write_text("Time [s],a\n")
    with pytest.raises(DeviceDataError, match=r"x\.txt: not device data \(EDF\)"):
        io.read_device_data(lab)
