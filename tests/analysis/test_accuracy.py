"""Accuracy against the simulator's ground truth over many seeds.

Each case draws a breath rate (8-30 bpm), tidal volume, ADC noise level,
leak, 0-15 apneas, hypopneas, short pauses and malformed rows from its seed,
simulates a recording and analyses it. What must hold for every case:

- breath rate within 0.5 bpm of the truth;
- apnea count exact, and every apnea found overlaps a true apnea;
- no hypopnea and no short pause is counted as an apnea;
- skipped rows exact (and the same line numbers).

Checked beyond the issue, with the tolerance measured over 80 seeds:
hypopnea candidates (the exploratory ``candidates_30pct`` rule: at most one
missed or extra per case; 3 of 80 cases had one) and the breath count (within
2 %: at high noise a noise "breath" can appear where an apnea begins). The
default flow-only rule (``flow_50pct``) misses some hypopneas at 8-10
breaths/min with a leak, where two shallow breaths merge into one in the
breath detection (6 of 41 over these 24 seeds): checked in
``test_scoring_margins.py`` at ordinary rates.
"""

from __future__ import annotations

import numpy as np
import pytest

from cpap_lib.analysis import analyze
from cpap_lib.sim import minimum_minutes, simulate_recording

SEEDS = range(24)


def overlaps(span, spans) -> bool:
    return any(span[0] < b and a < span[1] for a, b in spans)


def case(seed: int) -> dict:
    rng = np.random.default_rng(1000 + seed)
    p = {
        "rate_bpm": float(rng.uniform(8, 30)),
        "apneas": int(rng.integers(0, 16)),
        "hypopneas": int(rng.integers(0, 4)),
        "pauses": int(rng.integers(0, 4)),
        "noise_counts": float(rng.uniform(0.3, 1.2)),
        "tidal_volume_l": float(rng.uniform(0.3, 0.8)),
        "leak_lps": float(rng.uniform(0, 0.05)),
        "malformed_rows": int(rng.integers(0, 8)),
    }
    need = minimum_minutes(apneas=p["apneas"], hypopneas=p["hypopneas"], pauses=p["pauses"], rate_bpm=p["rate_bpm"])
    p["minutes"] = max(12.0, float(np.ceil(need)) + 1)
    return p


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_analysis_matches_simulated_truth(seed):
    params = case(seed)
    sim = simulate_recording(seed=seed, **params)
    truth = sim.truth
    result = analyze(sim.recording()).to_dict()

    assert abs(result["breath_rate_bpm"] - truth.breath_rate_bpm) < 0.5, params
    found = [(e["start_s"], e["end_s"]) for e in result["apneas"]]
    assert result["apnea_count"] == len(truth.apneas), params
    assert all(overlaps(a, truth.apneas) for a in found), params
    assert not any(overlaps(h, found) for h in list(truth.hypopneas) + list(truth.pauses)), params
    assert result["skipped_rows"] == truth.skipped_rows
    assert result["skipped_lines"] == list(truth.malformed_lines[:10])
    candidates = analyze(sim.recording(), hypopnea_rule="candidates_30pct").to_dict()
    hyp = [(e["start_s"], e["end_s"]) for e in candidates["hypopneas"]]
    extra = sum(not overlaps(h, truth.hypopneas) for h in hyp)
    missed = sum(not overlaps(h, hyp) for h in truth.hypopneas)
    assert extra + missed <= 1, params
    assert abs(result["breath_count"] - truth.breath_count) <= max(1, 0.02 * truth.breath_count), params


@pytest.mark.parametrize("fs_hz", [25.0, 50.0, 200.0])
def test_other_sampling_rates(fs_hz):
    sim = simulate_recording(seed=7, minutes=8, rate_bpm=18, apneas=3, hypopneas=1, pauses=1, fs_hz=fs_hz)
    result = analyze(sim.recording())
    assert result.apnea_count == 3 and result.hypopnea_count == 1
    assert abs(result.breath_rate_bpm - sim.truth.breath_rate_bpm) < 0.5


def test_gap_rule_counts_long_gaps_and_short_pauses_alike():
    sim = simulate_recording(seed=11, minutes=8, rate_bpm=15, apneas=2, pauses=2)
    amplitude = analyze(sim.recording())
    gap = analyze(sim.recording(), method="gap")
    assert amplitude.apnea_count == 2
    # the old rule measures peak to peak, so a 3-7 s pause between breaths 4 s apart can pass 10 s
    assert gap.apnea_count >= 2 and gap.method == "gap"
    assert gap.breath_count == amplitude.breath_count
