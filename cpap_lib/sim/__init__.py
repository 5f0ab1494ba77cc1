"""Simulated recordings with ground truth, and the demo's simulated bedside devices.

- :mod:`cpap_lib.sim.simulator`: :func:`simulate_recording` (a lab recording
  with known breaths, apneas and malformed rows) and :func:`write_lab_file`.
- :mod:`cpap_lib.sim.devices`: bedside devices uploading to a server (``cpap-lab demo``).

The simulator's public names are importable from here
(``from cpap_lib.sim import simulate_recording, write_lab_file``).
"""

from .simulator import (
    LAB_HEADER,
    MALFORMED_KINDS,
    SimParams,
    SimulatedRecording,
    Truth,
    minimum_minutes,
    range_text,
    simulate_recording,
    truth_path_for,
    write_lab_file,
)

__all__ = [
    "LAB_HEADER",
    "MALFORMED_KINDS",
    "SimParams",
    "SimulatedRecording",
    "Truth",
    "minimum_minutes",
    "range_text",
    "simulate_recording",
    "truth_path_for",
    "write_lab_file",
]
