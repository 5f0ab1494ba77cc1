"""Our analysis against the AirSense 11's own scoring on the real reference night.

Agreement reached on ../shared/reference_data/resmed_airsense11 (defaults):
breath rate vs RespRate, median |diff| 0.18 breaths/min over the night (per
session 0.16 / 0.64 / 0.17 / 0.22), 87 % of trend times within 1/min; tidal
volume vs TidVol, median |diff| 0.016 L.  Device apneas: both the obstructive
(06:54:33) and the central apnea (06:54:57) are found with the defaults; our
flat-flow spans measure 10.1 s and 9.9 s (the device: 10 s each), and event durations are compared in
whole seconds as the device reports them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cpap_lib.analysis import compare as cmp
from cpap_lib.cli import main
from cpap_lib.errors import ParameterError
from cpap_lib.io.resmed import read_datalog
from support import REFERENCE_DATA

CARD = REFERENCE_DATA / "resmed_airsense11"
NIGHT = CARD / "DATALOG" / "20241017"
LAST_BRP = NIGHT / "20241018_055256_BRP.edf"


@pytest.fixture(scope="module")
def night():
    return read_datalog(NIGHT)


@pytest.fixture(scope="module")
def result(night):
    return cmp.compare(night)


def test_breath_rate_tracks_the_device_resp_rate(result):
    rate = result.night.rate
    assert rate.points > 15000
    assert rate.median_abs_diff <= 0.3
    assert rate.within_share >= 0.8
    assert abs(rate.ours_median - rate.device_median) <= 0.5
    for part in result.sessions:
        assert part.rate.median_abs_diff <= 1.0, part.name
        assert part.rate.within_share >= 0.55, part.name


def test_tidal_volume_tracks_the_device_tidvol(result):
    vol = result.night.volume
    assert vol.median_abs_diff <= 0.03
    assert vol.within_share >= 0.85
    assert abs(vol.ours_median - vol.device_median) <= 0.03


def test_trailing_20_s_window_fits_the_device_better_than_10_or_60_s(night):
    last = night.sessions[3]
    mad = {w: cmp.compare(last, rate_window_s=w).night.rate.median_abs_diff for w in (10.0, 20.0, 60.0)}
    assert mad[20.0] < mad[10.0] and mad[20.0] < mad[60.0]


def test_device_central_apnea_is_found_with_the_defaults(result):
    dev = result.night.device_events.set_index("label")
    assert dev.loc["Central Apnea", "found"]
    assert result.night.events["apnea"].device_count == 2
    assert result.sessions[3].events["apnea"].device_found >= 1


def test_the_defaults_find_both_device_apneas_with_spans_that_overlap_the_devices(night):
    result = cmp.compare(night.sessions[3])
    dev = result.night.device_events
    apneas = dev[dev.kind.isin(["obstructive_apnea", "central_apnea"])]
    assert apneas.found.all()
    ours = result.night.our_events
    found = ours[(ours.kind == "apnea") & ours.confirmed]
    assert len(found) == 2
    # device: 3687-3697 and 3711-3721 s in the BRP time base; ours reach back over the faint flow before
    # the first one (no breath found in it) and each lasts at least the device's 10 s
    for (a, b), (da, db) in zip(found[["start_s", "end_s"]].to_numpy(), [(3687.0, 3697.0), (3711.0, 3721.0)]):
        assert a <= da + 1 and b >= db - 1 and b - a >= 10.0


def test_comparison_is_json_safe_and_complete(result):
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert d["source"] == "20241017"
    assert d["device"]["serial_number"] == "23241877024"
    assert [s["name"] for s in d["sessions"]] == [s.name for s in result.sessions]
    assert d["night"]["name"] == "night" and d["night"]["duration_s"] == 32100.0
    assert set(d["night"]["events"]) == {"apnea", "hypopnea", "any"}
    assert [e["label"] for e in d["night"]["device_events"]] == ["Obstructive Apnea", "Central Apnea", "Hypopnea"]
    assert d["sessions"][0]["events"]["apnea"]["sensitivity"] is None  # no device apnea in that session
    table = result.trend_table
    assert {"time", "time_s", "device_rate_bpm", "our_rate_bpm", "session"} <= set(table.columns)
    assert "breath rate" in result.summary() and "MISSED" in result.summary()


def test_cli_compare_prints_json_and_refuses_non_flow_files(capsys):
    assert main(["compare", str(LAST_BRP), "--json", "--min-event-s", "9.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["night"]["events"]["apnea"]["device_found"] == 2
    assert out["settings"]["params"]["min_event_s"] == 9.5
    assert main(["compare", str(NIGHT / "20241018_055256_PLD.edf")]) == 2
    assert "a ResMed PLD file holds no flow signal" in capsys.readouterr().err
    assert main(["compare", str(LAST_BRP), "--tolerance", "-1"]) == 2
    assert "tolerance_s: must be between 0 and 60 s" in capsys.readouterr().err


def test_trailing_breath_rate_and_mean_on_hand_made_onsets():
    onsets = np.array([0.0, 4.0, 8.0, 12.0, 15.0, 18.0, 21.0])
    rate = cmp.trailing_breath_rate(onsets, np.array([4.0, 12.0, 21.0, 100.0]), window_s=10.0)
    assert np.isnan(rate[0]) and np.isnan(rate[3])
    assert rate[1:3].tolist() == [15.0, 20.0]
    mean = cmp.trailing_mean(onsets, np.arange(7.0), np.array([12.0, 100.0]), window_s=5.0)
    assert mean[0] == 2.5 and np.isnan(mean[1])


def test_match_spans_uses_the_tolerance_on_both_sides():
    device = np.array([[100.0, 110.0], [200.0, 200.0]])
    ours = np.array([[114.9, 130.0], [180.0, 194.0], [400.0, 420.0]])
    found, confirmed = cmp.match_spans(device, ours, 5.0)
    assert found.tolist() == [True, False] and confirmed.tolist() == [True, False, False]
    found, confirmed = cmp.match_spans(device, ours, 6.0)
    assert found.tolist() == [True, True] and confirmed.tolist() == [True, True, False]
    found, confirmed = cmp.match_spans(np.zeros((0, 2)), ours, 5.0)
    assert found.size == 0 and not confirmed.any()


def test_agreement_ignores_device_zeros_and_missing_values():
    a = cmp.Agreement.of(np.array([15.0, 16.0, np.nan, 12.0]), np.array([15.5, 0.0, 14.0, 14.5]), 1.0)
    assert (a.points, a.median_abs_diff, a.within_share) == (2, 1.5, 0.5)
    empty = cmp.Agreement.of(np.array([np.nan]), np.array([0.0]), 1.0)
    assert empty.points == 0 and empty.to_dict()["median_abs_diff"] is None


def test_bad_settings_are_named(night):
    with pytest.raises(ParameterError, match="rate_window_s: must be between 5 and 300 s"):
        cmp.compare(night.sessions[1], rate_window_s=1)
    with pytest.raises(ParameterError, match="data: must be a DeviceSession or DeviceNight"):
        cmp.compare("night.txt")


def test_device_arousals_and_other_annotations_are_not_compared(night):
    import pandas as pd

    from cpap_lib.io.resmed import DeviceSession

    last = night.sessions[3]
    extra = last.events.iloc[[0]].assign(kind="arousal", label="Arousal")
    session = DeviceSession(
        recording=last.recording,
        events=pd.concat([last.events, extra], ignore_index=True),
        trends=last.trends,
        files=last.files,
    )
    result = cmp.compare(session)
    assert result.night.device_events.label.tolist() == ["Obstructive Apnea", "Central Apnea", "Hypopnea"]
    assert result.night.events["any"].device_count == 3
