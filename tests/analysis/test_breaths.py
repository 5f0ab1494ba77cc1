"""Breath detection steps on tiny hand-made signals with exact answers."""

from __future__ import annotations

import numpy as np
import pytest

from cpap_lib.analysis.breaths import (
    breath_rate,
    breaths_find,
    breaths_table,
    flow_clean,
    minor_cycles,
    reference_excursion,
)
from cpap_lib.errors import ParameterError


def sine_breaths(n: int, period_s: float = 4.0, fs: float = 25.0, amp: float = 0.5, pause_s: float = 0.0):
    one = amp * np.sin(2 * np.pi * np.arange(int(period_s * fs)) / (period_s * fs))
    cycle = np.r_[one, np.zeros(int(pause_s * fs))]
    return np.r_[np.tile(cycle, n), np.zeros(int(fs))]  # the last expiration ends before the recording


def test_sine_breaths_are_found_at_exact_indices():
    x = sine_breaths(5, fs=25.0)  # 100 samples a breath
    b = breaths_find(x, 25.0)
    # a phase starts where the flow leaves the noise floor (half the 15 % threshold: 3.75 % of the peak)
    assert b["onset"].tolist() == [1, 101, 201, 301, 401]
    assert b["peak"].tolist() == [25, 125, 225, 325, 425]
    assert b["trough"].tolist() == [75, 175, 275, 375, 475]
    assert b["expiration"].tolist() == [51, 151, 251, 351, 451]
    assert b["end"].tolist() == [101, 201, 301, 401, 499]  # the last expiration is back at the floor


def test_breaths_cut_by_the_recording_edges_are_not_counted():
    x = sine_breaths(5, fs=25.0)
    assert len(breaths_find(x[30:], 25.0)["onset"]) == 4  # starts mid-inspiration
    assert len(breaths_find(x[:480], 25.0)["onset"]) == 4  # stops mid-expiration


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1000.0])  # m^3/s, L/s, mL/s: thresholds adapt
@pytest.mark.parametrize("fs", [10.0, 25.0, 100.0, 200.0])
def test_breath_count_does_not_depend_on_units_or_sampling_rate(scale, fs):
    x = scale * sine_breaths(30, period_s=3.0, fs=fs)
    b = breaths_find(flow_clean(x, fs, cutoff_hz=min(2.0, fs / 2.5)), fs)
    assert len(b["onset"]) == 30


def test_quantization_spikes_during_a_pause_are_not_breaths():
    fs = 100.0
    rng = np.random.default_rng(0)
    x = sine_breaths(10, fs=fs, pause_s=6.0)
    spikes = rng.random(x.size) < 0.05
    x = x + np.where(spikes & (np.abs(x) < 1e-9), rng.choice([-0.08, 0.08], x.size), 0.0)
    b = breaths_find(flow_clean(x, fs), fs)
    assert len(b["onset"]) == 10


def test_breaths_table_volumes_and_times():
    fs = 25.0
    x = sine_breaths(3, period_s=4.0, fs=fs, amp=0.5)
    t = np.arange(x.size) / fs
    table = breaths_table(breaths_find(x, fs), x, t, fs)
    # inspired volume of a 2 s half sine with peak 0.5 L/s: 0.5 * 2 * 2 / pi
    np.testing.assert_allclose(table["tidal_volume_l"], 2 / np.pi, rtol=0.02)
    np.testing.assert_allclose(table["inspiratory_time_s"], 2.0)
    np.testing.assert_allclose(table["rate_bpm"].iloc[:2], 15.0)
    np.testing.assert_allclose(table["amplitude_lps"], 1.0, rtol=0.01)


def test_breath_rate_leaves_out_pauses_and_excluded_spans():
    onsets = np.r_[np.arange(0, 40, 4.0), np.arange(60, 100, 4.0)]  # a 24 s pause after 36 s
    assert breath_rate(onsets) == pytest.approx(15.0)
    assert breath_rate(np.arange(0, 40, 4.0), exclude=np.array([[9.0, 11.0]])) == pytest.approx(15.0)
    assert np.isnan(breath_rate([1.0]))


def test_breath_rate_follows_a_change_of_pace():
    onsets = np.r_[np.arange(0, 20, 1.2), 20 + np.arange(0, 60, 4.0)]  # 50/min then 15/min
    expected = 60 * (onsets.size - 1) / (onsets[-1] - onsets[0])
    assert breath_rate(onsets) == pytest.approx(expected, rel=0.02)


def test_minor_cycles_are_the_small_cycles_between_breaths():
    fs = 25.0
    x = sine_breaths(12, period_s=4.0, fs=fs, amp=0.5, pause_s=2.0)
    onsets = breaths_find(x, fs)["onset"]
    assert onsets.size == 12 and minor_cycles(x, fs, onsets).size == 0  # every cycle is a breath
    # a small cycle in every other pause, +-0.065 L/s: beyond the cycles' 0.05 L/s, below the breaths'
    # threshold (15 % of the half-excursion, 0.075 L/s)
    small = 0.065 * np.sin(2 * np.pi * np.arange(20) / 20)  # 0.8 s
    y = x.copy()
    starts = [int((6 * k + 4.5) * fs) for k in range(0, 12, 2)]
    for a in starts:
        y[a : a + 20] += small
    b = breaths_find(y, fs)["onset"]
    assert b.tolist() == onsets.tolist()
    cycles = minor_cycles(y, fs, b)
    assert cycles.size == 6 and all(a < c < a + 20 for a, c in zip(starts, cycles))
    # smaller than the level: no cycle
    z = x.copy()
    for a in starts:
        z[a : a + 20] += 0.6 * small
    assert minor_cycles(z, fs, onsets).size == 0


def test_reference_excursion_ignores_a_minority_of_pauses():
    fs = 25.0
    x = np.r_[sine_breaths(20, fs=fs), np.zeros(int(20 * fs)), sine_breaths(20, fs=fs)]
    ref = reference_excursion(x, fs)
    assert ref.min() == pytest.approx(1.0, rel=0.01)


def test_parameter_errors_name_the_argument():
    with pytest.raises(ParameterError, match="threshold"):
        breaths_find(np.zeros(100), 25.0, threshold=1.5)
    with pytest.raises(ParameterError, match="cutoff_hz: must be between 0 and 12.5 Hz"):
        flow_clean(np.zeros(100), 25.0, cutoff_hz=20.0)
    with pytest.raises(ParameterError, match="fs_hz"):
        flow_clean(np.zeros(100), 0.0)


def test_flat_signal_has_no_breaths():
    assert breaths_find(np.zeros(1000), 25.0)["onset"].size == 0


def test_steps_take_lists_and_give_the_same_answer():
    x = sine_breaths(20, fs=25.0)
    assert reference_excursion(x.tolist(), 25.0).tolist() == reference_excursion(x, 25.0).tolist()
    assert flow_clean(list(x), 25).tolist() == flow_clean(x, 25.0).tolist()
    assert breaths_find(x.tolist(), 25.0)["onset"].tolist() == breaths_find(x, 25.0)["onset"].tolist()


def test_bad_arrays_are_parameter_errors_naming_the_argument():
    with pytest.raises(ParameterError, match=r"^x: must be a 1-D array of numbers, got str"):
        reference_excursion("flow", 25.0)
    with pytest.raises(ParameterError, match=r"^flow: must be a 1-D array of numbers, got an array of shape \(2, 50\)"):
        flow_clean(np.zeros((2, 50)), 25.0)
    with pytest.raises(ParameterError, match=r"^reference: must have one value per sample of x \(100\), got 99"):
        breaths_find(np.zeros(100), 25.0, reference=np.ones(99))
    with pytest.raises(ParameterError, match=r"^fs_hz: sampling rate must be a positive number of Hz, got None"):
        reference_excursion(np.zeros(100), None)
    b = breaths_find(sine_breaths(3), 25.0)
    with pytest.raises(ParameterError, match=r"^time_s: must have one value per sample of x"):
        breaths_table(b, sine_breaths(3), np.arange(10.0), 25.0)
