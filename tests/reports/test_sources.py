"""What a report is about: a multi-night card gives one report per night (the device night)."""

from __future__ import annotations

from datetime import date

import pytest

from cpap_lib.io.resmed.assemble import copy_night
from cpap_lib.reports.sources import card_nights, file_jobs, load_file_subject
from support import REFERENCE_DATA

pytestmark = pytest.mark.slow

NIGHT_FOLDER = REFERENCE_DATA / "resmed_airsense11" / "DATALOG" / "20241017"


def test_a_card_with_two_nights_gives_one_report_per_night(tmp_path):
    card = tmp_path / "card"
    for day in (date(2024, 10, 17), date(2024, 10, 20)):
        copy_night(NIGHT_FOLDER, card, day)
    assert card_nights(card) == ["2024-10-17", "2024-10-20"]
    jobs = file_jobs([card])
    assert [(job.name, job.night) for job in jobs] == [
        ("card-2024-10-17", "2024-10-17"),
        ("card-2024-10-20", "2024-10-20"),
    ]
    subject = load_file_subject(recording_path=str(card), night="2024-10-20")
    assert subject.patient["night"] == "2024-10-20" and subject.start.date() == date(2024, 10, 20)
    assert subject.device_events is not None and len(subject.device_events) == 3
    assert all(i["input"].startswith("20241020/") for i in subject.inputs)  # that night's files and checksums
