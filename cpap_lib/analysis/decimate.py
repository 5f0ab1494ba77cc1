"""Decimation of long signals for charts and stored traces.

A browser cannot draw millions of SVG points (see STACK_NOTES): every chart
and every stored flow trace is decimated in Python with MinMaxLTTB
(tsdownsample), which keeps the visual envelope (peaks and troughs) of the
signal with a few thousand points.

Examples
--------
>>> import numpy as np
>>> t = np.arange(100_000) / 100.0
>>> y = np.sin(t)
>>> td, yd = minmax_lttb(t, y, 1000)
>>> td.size, bool(td[0] == t[0] and td[-1] == t[-1])
(1000, True)
>>> minmax_lttb(t[:10], y[:10], 1000)[0].size  # short signals pass through
10
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

__all__ = ["minmax_lttb", "window"]


def minmax_lttb(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Decimate ``(x, y)`` to at most ``max_points`` points with MinMaxLTTB.

    Parameters
    ----------
    x : ndarray
        Increasing sample positions (e.g. time in s).
    y : ndarray
        Values, same length as ``x``.
    max_points : int
        Largest number of points to return (at least 3).

    Returns
    -------
    (ndarray, ndarray)
        The kept ``x`` and ``y`` values (float64), first and last included.
    """
    if max_points < 3:
        raise ParameterError("max_points", f"must be at least 3, got {max_points}")
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if x.size != y.size:
        raise ParameterError("y", f"length {y.size} differs from x length {x.size}")
    if x.size <= max_points:
        return x, y
    from tsdownsample import MinMaxLTTBDownsampler

    idx = MinMaxLTTBDownsampler().downsample(x, y, n_out=int(max_points)).astype(np.intp)
    return x[idx], y[idx]


def window(x: np.ndarray, y: np.ndarray, x_min: float, x_max: float, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Decimate only the part of ``(x, y)`` between ``x_min`` and ``x_max``.

    One sample on each side of the window is kept so a zoomed line reaches
    the chart's edges.

    >>> import numpy as np
    >>> t = np.arange(1000.0)
    >>> xs, _ = window(t, t, 100.5, 200.5, 50)
    >>> float(xs[0]), float(xs[-1]), xs.size
    (100.0, 201.0, 50)
    """
    lo = max(int(np.searchsorted(x, x_min, side="right")) - 1, 0)
    hi = min(int(np.searchsorted(x, x_max, side="left")) + 1, x.size)
    return minmax_lttb(x[lo:hi], y[lo:hi], max_points)
