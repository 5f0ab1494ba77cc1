"""The lab's real recordings (../shared/reference_data/venturi): what a careful reader sees in the flow.

patient_01 (180 s): regular breathing at about 20 breaths/min throughout, 60-61
    breaths, no pause anywhere near 10 s: no apnea.
patient_04 (127 s): a fast first 18 s (about 45 breaths/min, deep breaths),
    then steady breathing at about 22/min: 56-57 breaths, no apnea.
patient_07 (49 s): two malformed lines (4643: empty time field, 4680: empty
    ADC field) skipped; 17 fast deep breaths in the first 20 s, then 8 slow
    shallower breaths with long end-expiratory pauses (each under 10 s): 25
    breaths, no apnea.
The old system reported 20.34, 26.89 and 32.16 breaths/min and no apneas.
"""

from __future__ import annotations

import numpy as np
import pytest

from cpap_lib.analysis import analyze_file
from support import REFERENCE_DATA

DATA = REFERENCE_DATA / "venturi"


@pytest.fixture(scope="module")
def results():
    assert DATA.is_dir(), f"reference data missing: {DATA} (the repo expects ../shared beside it)"
    return {name: analyze_file(DATA / f"{name}.txt") for name in ("patient_01", "patient_04", "patient_07")}


def test_patient_01_regular_breathing(results):
    r = results["patient_01"]
    assert r.recording.samples == 17999 and r.recording.skipped_rows == 0
    assert 59 <= r.breath_count <= 62
    assert 19.5 <= r.breath_rate_bpm <= 21.5
    assert r.apnea_count == 0
    assert 0.35 <= r.tidal_volume_l <= 0.5  # about 0.43 L


def test_patient_04_fast_start_then_steady(results):
    r = results["patient_04"]
    assert r.recording.samples == 12721
    assert 54 <= r.breath_count <= 59
    assert r.apnea_count == 0
    first = r.breaths[r.breaths["start_s"] < 18]
    later = r.breaths[r.breaths["start_s"] > 25]
    assert first["rate_bpm"].median() > 40 and 18 < later["rate_bpm"].median() < 26


def test_patient_07_malformed_lines_and_change_of_pace(results):
    r = results["patient_07"]
    assert r.recording.skipped_rows == 2 and r.recording.skipped_lines == (4643, 4680)
    assert np.isfinite(r.recording.flow_lps).all()
    assert 23 <= r.breath_count <= 27
    assert r.apnea_count == 0
    fast = r.breaths[r.breaths["start_s"] < 19]
    slow = r.breaths[r.breaths["start_s"] > 21]
    assert fast["rate_bpm"].median() > 45 and slow["rate_bpm"].median() < 22
    assert slow["peak_flow_lps"].median() < fast["peak_flow_lps"].median()


def test_old_gap_rule_agrees_no_apnea(results):
    from cpap_lib.analysis import analyze

    for r in results.values():
        assert analyze(r.recording, method="gap").apnea_count == 0
