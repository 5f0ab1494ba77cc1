"""Obstructive or central: the airway during an apnea, from the CPAP device's forced-oscillation probe.

ResMed devices (AirSense 10 and 11, AirCurve 10) superimpose a small pressure oscillation of about 4 Hz
on the therapy pressure while the patient does not breathe (the forced oscillation technique) and
score an apnea *central* when the oscillation finds the airway open, *obstructive* when it finds it
closed (ResMed's "Apnea" when it cannot tell). The device records both the pressure and the flow at
25 Hz (``*_BRP.edf``), so the probe's answer is in the recording.

Rule ``probe_phase`` (:func:`apnea_types`)
    1. *The probe ran*: the pressure's probe band (:data:`PROBE_BAND_HZ`) has an amplitude of at least
       :data:`PROBE_MIN_CMH2O` during at least :data:`PROBE_MIN_S` of the apnea. Without it (the lab's
       venturi files and the simulator have no probe, a recording without a pressure channel, an apnea
       shorter than the device waits before probing) the apnea is ``"unclassified"``.
    2. *What load it met*: the phase of the flow's probe-band component against the pressure's, over
       the samples where the probe runs. An open airway leads the oscillation into the lungs, a
       reactive (compliant) load: flow and pressure more than :data:`OPEN_PHASE_DEG` apart, the apnea is
       ``"central"``. A closed airway leaves the mask's vent and leak, a resistive load: flow in phase
       with the pressure, within :data:`OPEN_PHASE_DEG` (the middle between a resistive 0 and a
       reactive 90 degrees), the apnea is ``"obstructive"``.

Measured on the three shared ResMed nights against the device's own labels (README, "Scoring against
the devices"): 77 of 82 device apneas agree (Cohen's kappa 0.70). Every central apnea the devices scored
(70) is central here too, and none of ours is obstructive where the device says central; 7 of the 12
obstructive ones are obstructive here (the rest read central: four inside a run of central apneas, and
the AirSense 11's single one). Mixed apneas (an obstructive end to a central start) are not told apart.

Examples
--------
>>> import numpy as np
>>> fs = 25.0
>>> t = np.arange(0, 20, 1 / fs)
>>> probe = np.where((t > 4) & (t < 16), 0.4, 0.0)               # 0.4 cmH2O from 4 to 16 s
>>> pressure = 8 + probe * np.sin(2 * np.pi * 4 * t)
>>> open_flow = 0.1 * probe * np.sin(2 * np.pi * 4 * t - np.pi / 2)  # a quarter period behind
>>> closed_flow = 0.05 * probe * np.sin(2 * np.pi * 4 * t)           # in phase
>>> spans = np.array([[2.0, 18.0]])
>>> apnea_types(t, open_flow, pressure, spans).tolist(), apnea_types(t, closed_flow, pressure, spans).tolist()
(['central'], ['obstructive'])
>>> apnea_types(t, open_flow, None, spans).tolist()
['unclassified']
"""

from __future__ import annotations

import functools

import numpy as np

# scipy is imported where used: importing cpap_lib.analysis stays cheap (see its __init__)

__all__ = [
    "APNEA_TYPES",
    "APNEA_TYPE_RULE",
    "OPEN_PHASE_DEG",
    "PROBE_BAND_HZ",
    "PROBE_MIN_CMH2O",
    "PROBE_MIN_S",
    "apnea_types",
]

APNEA_TYPE_RULE = "probe_phase"
"""The name of the classification rule (this module's docstring)."""
APNEA_TYPES = ("obstructive", "central", "unclassified")
"""What :func:`apnea_types` answers for an apnea."""
PROBE_BAND_HZ = (3.5, 4.7)
"""Band of ResMed's forced-oscillation probe (its pressure and flow peak at 4.1 Hz on all three shared cards)."""
PROBE_MIN_CMH2O = 0.1
"""Amplitude of the pressure's probe-band component that shows the probe running, cmH2O. The probe's is
0.25-0.6 cmH2O on the shared cards, breathing alone leaves 0.01-0.03 in that band."""
PROBE_MIN_S = 2.0
"""The probe must run this long within the apnea to read the airway (8 periods of 4 Hz)."""
OPEN_PHASE_DEG = 45.0
"""Flow this many degrees or more out of phase with the probe's pressure: a reactive load, the airway open."""
_PAD_S = 2.0  # filter each apnea with this much signal either side (no edge effects inside it)


def apnea_types(
    time_s: np.ndarray, flow_lps: np.ndarray, pressure_cmh2o: np.ndarray | None, spans: np.ndarray
) -> np.ndarray:
    """Type of each apnea by the ``probe_phase`` rule (module docstring).

    Parameters
    ----------
    time_s : ndarray
        Sample times of the recording, seconds (evenly sampled within each apnea).
    flow_lps : ndarray
        Flow at those times (the device's own samples, not low-passed: the probe is at 4 Hz).
    pressure_cmh2o : ndarray or None
        The device's pressure at the same times; None: no apnea can be typed.
    spans : ndarray
        ``(k, 2)`` apnea ``(start_s, end_s)`` spans.

    Returns
    -------
    ndarray of str
        ``"obstructive"``, ``"central"`` or ``"unclassified"`` for each span.
    """
    spans = np.asarray(spans, dtype=np.float64).reshape(-1, 2)
    out = np.full(spans.shape[0], "unclassified", dtype=object)
    if pressure_cmh2o is None or spans.shape[0] == 0 or len(time_s) < 2:
        return out.astype(str)
    t = np.asarray(time_s, dtype=np.float64)
    f = np.asarray(flow_lps, dtype=np.float64)
    p = np.asarray(pressure_cmh2o, dtype=np.float64)
    cuts = np.flatnonzero(np.diff(t) > 1.0) + 1  # where the recording jumps (sessions of a night)
    for i, (start, end) in enumerate(spans):
        a, b = np.searchsorted(t, [start - _PAD_S, end + _PAD_S])
        k = int(np.searchsorted(cuts, np.searchsorted(t, start), side="right"))  # the apnea's stretch
        a, b = max(a, int(cuts[k - 1]) if k > 0 else 0), min(b, int(cuts[k]) if k < cuts.size else t.size)
        inner = slice(*(np.searchsorted(t[a:b], [start, end])))
        out[i] = _one(t[a:b], f[a:b], p[a:b], inner)
    return out.astype(str)


def _one(t: np.ndarray, f: np.ndarray, p: np.ndarray, inner: slice) -> str:
    if t.size < 16 or not (np.isfinite(f).all() and np.isfinite(p).all()):
        return "unclassified"
    fs = (t.size - 1) / float(t[-1] - t[0])
    if fs <= 2.2 * PROBE_BAND_HZ[1] or float(np.diff(t).max()) > 1.5 / fs:  # too slow for the probe, or a gap
        return "unclassified"
    # the probe needs at least this much variance in the pressure (the band-pass passes no more than all of it):
    # most apneas of a recording without a probe end here, cheaply
    if float(np.sum((p - p.mean()) ** 2)) < 0.5 * PROBE_MIN_CMH2O**2 * PROBE_MIN_S * fs:
        return "unclassified"
    zp = _analytic_band(p, fs)[inner]
    running = np.abs(zp) >= PROBE_MIN_CMH2O
    if running.sum() < PROBE_MIN_S * fs:
        return "unclassified"
    zf = _analytic_band(f, fs)[inner]
    phase = abs(float(np.angle(np.mean(zf[running] * np.conj(zp[running])), deg=True)))
    return "central" if phase >= OPEN_PHASE_DEG else "obstructive"


def _analytic_band(x: np.ndarray, fs: float) -> np.ndarray:
    """The probe band of ``x`` as an analytic signal (its modulus the amplitude, its angle the phase).

    A causal filter: flow and pressure go through the same one, so its delay leaves their phase
    difference as it is; it settles within the padding each apnea is filtered with.
    """
    from scipy import fft, signal

    band = signal.sosfilt(_band_filter(round(fs, 6)), x - x.mean())
    return signal.hilbert(band, N=fft.next_fast_len(x.size))[: x.size]


@functools.lru_cache(maxsize=8)
def _band_filter(fs: float) -> np.ndarray:
    from scipy import signal

    return signal.butter(4, PROBE_BAND_HZ, btype="band", fs=fs, output="sos")
