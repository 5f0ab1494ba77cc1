"""Agreement of two measurements of the same quantity across subjects or nights (Bland-Altman).

For paired values ``ours`` and ``device`` (one pair per night), the
differences ``d = ours - device`` have a mean (the *bias*) and a standard
deviation ``s``; the 95 % limits of agreement are ``bias +- 1.96 s``
(Bland & Altman, Lancet 1986).  With fewer than two pairs ``s`` and the
limits are NaN.  :func:`bland_altman_figure` draws the usual plot: the
difference against the mean of each pair, the bias and the limits as
horizontal lines (a matplotlib :class:`~matplotlib.figure.Figure`, no pyplot,
for reports).

Examples
--------
>>> ba = bland_altman([12.0, 5.0, 1.5], [10.0, 4.0, 1.5])
>>> ba.n, ba.bias, round(ba.sd, 3), round(ba.loa_low, 2), round(ba.loa_high, 2)
(3, 1.0, 1.0, -0.96, 2.96)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BlandAltman", "bland_altman", "bland_altman_figure", "LOA_Z"]

LOA_Z = 1.96
"""Limits of agreement at bias +- 1.96 standard deviations (95 %)."""


@dataclass(frozen=True)
class BlandAltman:
    """Bias and 95 % limits of agreement of ``ours - device`` (see the module docstring).

    Attributes
    ----------
    n : int
        Pairs where both values are finite.
    bias, sd, loa_low, loa_high : float
        Mean and standard deviation (ddof 1) of the differences, and ``bias -+ 1.96 sd``.
    means, diffs : ndarray
        Per pair: ``(ours + device) / 2`` and ``ours - device`` (for the figure).
    """

    n: int
    bias: float
    sd: float
    loa_low: float
    loa_high: float
    means: np.ndarray
    diffs: np.ndarray

    def to_dict(self) -> dict:
        """The numbers, JSON-safe (NaN -> None)."""

        def f(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "n": self.n,
            "bias": f(self.bias),
            "sd": f(self.sd),
            "loa_low": f(self.loa_low),
            "loa_high": f(self.loa_high),
        }


def bland_altman(ours, device) -> BlandAltman:
    """Bland-Altman statistics of paired values (pairs with a NaN are left out)."""
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(device, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    d = a - b
    n = int(d.size)
    bias = float(d.mean()) if n else float("nan")
    sd = float(d.std(ddof=1)) if n >= 2 else float("nan")
    return BlandAltman(n, bias, sd, bias - LOA_Z * sd, bias + LOA_Z * sd, (a + b) / 2.0, d)


def bland_altman_figure(
    result: BlandAltman, *, quantity: str = "AHI (events/h)", title: str | None = None, labels=None
):
    """The Bland-Altman plot of ``result`` as a matplotlib Figure.

    Parameters
    ----------
    result : BlandAltman
    quantity : str
        What was measured, for the axis labels.
    title : str, optional
    labels : sequence of str, optional
        One label per pair (e.g. the nights' dates), written next to each point.

    Examples
    --------
    >>> fig = bland_altman_figure(bland_altman([12.0, 5.0, 1.5], [10.0, 4.0, 1.5]))
    >>> [line.get_label() for line in fig.axes[0].lines][:3]
    ['bias +1.00', '+1.96 SD +2.96', '-1.96 SD -0.96']
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(result.means, result.diffs, s=24, color="#1f77b4", zorder=3)
    if labels is not None:
        for x, y, text in zip(result.means, result.diffs, labels):
            ax.annotate(str(text), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if np.isfinite(result.bias):
        ax.axhline(result.bias, color="#333333", label=f"bias {result.bias:+.2f}")
    if np.isfinite(result.sd):
        ax.axhline(result.loa_high, color="#d62728", linestyle="--", label=f"+{LOA_Z:g} SD {result.loa_high:+.2f}")
        ax.axhline(result.loa_low, color="#d62728", linestyle="--", label=f"-{LOA_Z:g} SD {result.loa_low:+.2f}")
    ax.axhline(0.0, color="#999999", linewidth=0.8, zorder=1)
    ax.set_xlabel(f"mean of ours and the device's {quantity}")
    ax.set_ylabel(f"ours - device, {quantity}")
    ax.set_title(title or f"Bland-Altman, {result.n} night{'s' if result.n != 1 else ''}")
    if ax.lines:
        ax.legend(loc="best", fontsize=8)
    return fig
