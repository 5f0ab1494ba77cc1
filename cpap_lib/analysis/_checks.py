"""Input checks of the public step functions (as SciPy's ``_arg_x_as_expected``).

Each public function of :mod:`~cpap_lib.analysis.breaths` and
:mod:`~cpap_lib.analysis.events` coerces and checks its inputs once, at the
top, with these; the private numeric cores they call never re-check.

>>> as_signal([0, 1, 2]).dtype
dtype('float64')
>>> as_signal([[0.0, 1.0]], "flow")
Traceback (most recent call last):
...
cpap_lib.errors.ParameterError: flow: must be a 1-D array of numbers, got an array of shape (1, 2)
>>> check_fs(0)
Traceback (most recent call last):
...
cpap_lib.errors.ParameterError: fs_hz: sampling rate must be a positive number of Hz, got 0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["as_signal", "check_fs", "same_length"]


def as_signal(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as a 1-D float64 array (a float64 array is returned as is, not copied)."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(name, f"must be a 1-D array of numbers, got {type(x).__name__}") from None
    if a.ndim != 1:
        raise ParameterError(name, f"must be a 1-D array of numbers, got an array of shape {a.shape}")
    return a


def check_fs(fs_hz: Any) -> float:
    """The sampling rate as a positive finite float."""
    try:
        fs = float(fs_hz)
    except (TypeError, ValueError):
        fs = float("nan")
    if not np.isfinite(fs) or fs <= 0:
        raise ParameterError("fs_hz", f"sampling rate must be a positive number of Hz, got {fs_hz!r}")
    return fs


def same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """``a`` and ``b`` hold one value per sample each."""
    if a.size != b.size:
        raise ParameterError(name_b, f"must have one value per sample of {name_a} ({a.size}), got {b.size}")
