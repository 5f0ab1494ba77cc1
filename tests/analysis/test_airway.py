"""Apnea types by the device's forced-oscillation probe (``probe_phase``), on hand-made signals.

Agreement with the devices' own labels on the shared real nights is in ``test_real_nights.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from cpap_lib.analysis import analyze
from cpap_lib.analysis.airway import OPEN_PHASE_DEG, PROBE_MIN_CMH2O, apnea_types
from cpap_lib.recording import Recording
from cpap_lib.sim import simulate_recording

FS = 25.0
T = np.arange(0, 60, 1 / FS)
SPANS = np.array([[10.0, 25.0], [35.0, 50.0]])


def probe(amplitude: float = 0.4, spans=SPANS, hz: float = 4.1) -> np.ndarray:
    """0 outside the spans; inside, the probe starting 2 s into each (as the device waits before probing)."""
    on = np.zeros(T.size, bool)
    for a, b in spans:
        on |= (T >= a + 2) & (T < b)
    return np.where(on, amplitude, 0.0) * np.sin(2 * np.pi * hz * T)


def flow_answering(phase_deg: float, gain: float = 0.1) -> np.ndarray:
    """The flow's answer to :func:`probe`: ``gain`` L/s per cmH2O, ``phase_deg`` behind the pressure."""
    p = probe()
    shifted = np.where(p != 0, 0.4, 0.0) * np.sin(2 * np.pi * 4.1 * T - np.radians(phase_deg))
    return gain * shifted + 0.01 * np.random.default_rng(0).standard_normal(T.size)


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (0, "obstructive"),
        (30, "obstructive"),
        (-30, "obstructive"),
        (60, "central"),
        (90, "central"),
        (-110, "central"),
    ],
)
def test_the_phase_of_the_flows_answer_tells_open_from_closed(phase, expected):
    assert abs(phase) < OPEN_PHASE_DEG or expected == "central"
    types = apnea_types(T, flow_answering(phase), 8.0 + probe(), SPANS)
    assert types.tolist() == [expected, expected]


def test_without_the_probe_an_apnea_is_unclassified():
    flow = flow_answering(90)
    assert apnea_types(T, flow, None, SPANS).tolist() == ["unclassified"] * 2  # no pressure channel
    assert apnea_types(T, flow, np.full(T.size, 8.0), SPANS).tolist() == ["unclassified"] * 2  # steady
    faint = 8.0 + probe(amplitude=0.5 * PROBE_MIN_CMH2O)
    assert apnea_types(T, flow, faint, SPANS).tolist() == ["unclassified"] * 2
    # the probe for only 1.5 s of the apnea
    short = 8.0 + probe(spans=[(10.0, 13.5), (35.0, 38.5)])
    assert apnea_types(T, flow, short, SPANS).tolist() == ["unclassified"] * 2
    assert apnea_types(T[::4], flow[::4], 8.0 + probe()[::4], SPANS).tolist() == ["unclassified"] * 2  # 6 Hz
    assert apnea_types(T, flow, 8.0 + probe(), np.zeros((0, 2))).size == 0


def test_an_apnea_next_to_a_gap_is_typed_from_its_own_stretch():
    # the recording stops 0.5 s after the first apnea and resumes 1.1 s later (the next session)
    keep = (T < 25.5) | (T >= 26.6)
    types = apnea_types(T[keep], flow_answering(90)[keep], (8.0 + probe())[keep], SPANS)
    assert types.tolist() == ["central", "central"]


def test_the_simulators_apneas_are_unclassified_and_the_report_keeps_them_so():
    from cpap_lib.reports.night import _kind_counts

    result = analyze(simulate_recording(seed=3, minutes=6, rate_bpm=14, apneas=2).recording())
    assert result.apneas["apnea_type"].tolist() == ["unclassified"] * 2
    assert (result.hypopneas["apnea_type"] == "").all()
    d = result.to_dict()
    assert (d["obstructive_apnea_count"], d["central_apnea_count"], d["unclassified_apnea_count"]) == (0, 0, 2)
    assert d["apnea_type_rule"] == "probe_phase"
    assert _kind_counts(result.events)["classified"] is False


def test_a_device_recording_carries_the_types_to_the_summary_and_the_report():
    from cpap_lib.reports.night import _kind_counts

    # breathing at 15/min, two 15-s apneas with the probe: one answered in phase (closed), one a quarter behind
    breathing = 0.5 * np.sin(2 * np.pi * T / 4)
    quiet = np.zeros(T.size, bool)
    for a, b in SPANS:
        quiet |= (T >= a) & (T < b)
    p = probe()
    answer = np.where(T < 30, 0.05 * p, 0.1 * np.where(p != 0, 0.4, 0.0) * np.sin(2 * np.pi * 4.1 * T - np.pi / 2))
    flow = np.where(quiet, 0.0, breathing) + answer
    rec = Recording(time_s=T, flow_lps=flow, fs_hz=FS, source="probe.edf", pressure_cmh2o=8.0 + p)
    result = analyze(rec)
    assert result.apneas["apnea_type"].tolist() == ["obstructive", "central"]
    d = result.to_dict()
    assert (d["obstructive_apnea_count"], d["central_apnea_count"], d["unclassified_apnea_count"]) == (1, 1, 0)
    counts = _kind_counts(result.events)
    assert (counts["apneas"], counts["obstructive"], counts["central"], counts["classified"]) == (2, 1, 1, True)
