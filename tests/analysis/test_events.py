"""Event rules on constructed signals: apneas at the margins, hypopnea rules, short pauses, gap rule, AHI, severity."""

from __future__ import annotations

import numpy as np
import pytest

from cpap_lib.analysis.breaths import breaths_find, breaths_table
from cpap_lib.analysis.events import ahi_of, events_find, events_gap_rule, events_per_hour, runs, severity
from cpap_lib.errors import ParameterError

FS = 25.0


def breathing(seconds: float, amp: float = 0.5, period_s: float = 4.0) -> np.ndarray:
    n = int(round(seconds / period_s))
    one = amp * np.sin(2 * np.pi * np.arange(int(period_s * FS)) / (period_s * FS))
    return np.tile(one, n)


def find(x: np.ndarray):
    t = np.arange(x.size) / FS
    table = breaths_table(breaths_find(x, FS), x, t, FS)
    return events_find(x, t, FS, table)


def test_a_15_s_apnea_is_found_where_it_is():
    x = np.r_[breathing(120), np.zeros(int(15 * FS)), breathing(60)]
    ev = find(x)
    assert ev["kind"].tolist() == ["apnea"]
    start, end = ev.loc[0, ["start_s", "end_s"]]
    assert start == pytest.approx(120.0, abs=0.6) and end == pytest.approx(135.0, abs=0.6)


def test_a_pause_shorter_than_10_s_is_not_an_event():
    x = np.r_[breathing(120), np.zeros(int(8 * FS)), breathing(60)]
    assert find(x).empty


def test_breathing_at_95_percent_reduction_is_an_apnea_and_at_50_percent_a_hypopnea():
    x = np.r_[breathing(120), breathing(20, amp=0.025), breathing(60), breathing(20, amp=0.25), breathing(60)]
    ev = find(x)
    assert ev["kind"].tolist() == ["apnea", "hypopnea"]
    assert ev.loc[1, "start_s"] == pytest.approx(200.0, abs=0.1)
    assert ev.loc[1, "end_s"] == pytest.approx(220.0, abs=0.1)
    assert ev.loc[1, "amplitude_ratio"] == pytest.approx(0.5, abs=0.02)


def test_a_20_percent_reduction_is_not_an_event():
    x = np.r_[breathing(120), breathing(40, amp=0.4), breathing(60)]
    assert find(x).empty


def test_gap_rule_matches_the_old_system():
    peaks = np.array([1.0, 5.0, 9.0, 19.5, 23.0, 33.0])
    ev = events_gap_rule(peaks)
    assert ev[["start_s", "end_s"]].values.tolist() == [[9.0, 19.5]]  # 10.0 exactly is not > 10
    with pytest.raises(ParameterError, match="max_gap_s"):
        events_gap_rule(peaks, max_gap_s=0)


def test_drops_must_be_ordered():
    x = breathing(200)
    t = np.arange(x.size) / FS
    table = breaths_table(breaths_find(x, FS), x, t, FS)
    with pytest.raises(ParameterError, match="hypopnea_drop"):
        events_find(x, t, FS, table, apnea_drop=0.3, hypopnea_drop=0.5)


@pytest.mark.parametrize(
    "index, band",
    [
        (0.0, "normal"),
        (4.99, "normal"),
        (5.0, "mild"),
        (14.9, "mild"),
        (15.0, "moderate"),
        (30.0, "severe"),
        (80.0, "severe"),
    ],
)
def test_aasm_severity_bands(index, band):
    assert severity(index) == band


def test_events_per_hour_and_runs():
    assert events_per_hour(6, 7200.0) == 3.0
    assert np.isnan(events_per_hour(1, 0.0))
    starts, stops = runs(np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], bool))
    assert starts.tolist() == [0, 4, 6] and stops.tolist() == [2, 5, 9]


def test_events_find_checks_its_arrays_and_rate_once():
    x = breathing(120)
    t = np.arange(x.size) / FS
    table = breaths_table(breaths_find(x, FS), x, t, FS)
    assert events_find(x.tolist(), t.tolist(), FS, table).equals(events_find(x, t, FS, table))
    with pytest.raises(ParameterError, match=r"^fs_hz: sampling rate must be a positive number"):
        events_find(x, t, -1.0, table)
    with pytest.raises(ParameterError, match=r"^time_s: must have one value per sample of x"):
        events_find(x, t[:-1], FS, table)


def test_a_residual_4_hz_probe_oscillation_does_not_hide_an_apnea():
    t = np.arange(int(12 * FS)) / FS
    probe = 0.03 * np.sin(2 * np.pi * 4.0 * t)  # the device's forced-oscillation probe, 1 cmH2O at 4 Hz
    x = np.r_[breathing(120), probe, breathing(60)]
    ev = find(flow_clean_25(x))
    assert ev["kind"].tolist() == ["apnea"]


def test_80_to_90_percent_drops_are_apneas_as_devices_score_them_and_70_percent_is_a_hypopnea():
    t = np.arange(int(14 * FS)) / FS
    drift = 0.075 * np.sin(2 * np.pi * t / 14.0)  # slow, shallow: 15 % of the 1 L/s excursion, no breath in it
    assert find(np.r_[breathing(120), drift, breathing(60)])["kind"].tolist() == ["apnea"]
    assert find(np.r_[breathing(120), breathing(16, amp=0.09), breathing(60)])["kind"].tolist() == ["apnea"]
    assert find(np.r_[breathing(120), breathing(16, amp=0.15), breathing(60)])["kind"].tolist() == ["hypopnea"]


def test_a_faint_bump_before_the_next_breath_does_not_end_the_apnea():
    bump = 0.1 * np.sin(np.pi * np.arange(int(1.0 * FS)) / FS) ** 2  # 10 % of the excursion, 1 s
    x = np.r_[breathing(120), np.zeros(int(8.5 * FS)), bump, np.zeros(int(0.5 * FS)), breathing(60)]
    ev = find(x)
    assert ev["kind"].tolist() == ["apnea"] and ev.loc[0, "duration_s"] >= 10.0


def test_flow_rule_hypopnea_needs_half_the_ventilation_and_a_recovery():
    halved = np.r_[breathing(120), breathing(20, amp=0.2), breathing(60)]
    ev = find(halved)
    assert ev["kind"].tolist() == ["hypopnea"]
    assert find(np.r_[breathing(120), breathing(20, amp=0.3), breathing(60)]).empty  # a 40 % drop is not enough
    t = np.arange(halved.size) / FS
    table = breaths_table(breaths_find(halved, FS), halved, t, FS)
    assert events_find(halved, t, FS, table, hypopnea_rule="candidates_30pct")["kind"].tolist() == ["hypopnea"]


def test_ahi_and_severity_follow_the_named_rule():
    assert ahi_of(4, 4, 3600.0, "flow_50pct") == 8.0
    assert np.isnan(ahi_of(4, 4, 3600.0, "candidates_30pct"))
    assert severity(ahi_of(10, 10, 3600.0, "aasm_3pct")) == "moderate" and severity(float("nan")) is None


def flow_clean_25(x):
    from cpap_lib.analysis.breaths import flow_clean

    return flow_clean(x, FS)
