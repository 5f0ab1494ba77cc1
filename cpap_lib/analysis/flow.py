"""ADC counts -> pressure -> flow through the lab's venturi tubes.

Units: pressure in pascal (Pa) or cmH2O as named, flow in litres per second
(L/s), positive while the patient inhales.

The venturi (Bernoulli) equation gives the volumetric flow from the pressure
drop between the upstream port P1 and the throat P2::

    Q = A2 * sqrt(2 * (P1 - P2) / (rho * (1 - (A2 / A1) ** 2)))

Negative pressure differences (sensor noise at zero flow) are clipped to zero,
so the result never holds NaN.

Examples
--------
>>> import numpy as np
>>> from cpap_lib.analysis.flow import adc_to_pa, venturi_flow_lps
>>> round(float(adc_to_pa(np.array([14745]))[0]), 1)  # full scale: 25.4 cmH2O
2490.9
>>> q = venturi_flow_lps(np.array([0.0, 4.0, -3.0]))
>>> [round(float(v), 3) for v in q]
[0.0, 0.38, 0.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "ADC_FLOOR",
    "ADC_FULL_SCALE",
    "AIR_DENSITY_KG_M3",
    "PA_PER_CMH2O",
    "adc_to_pa",
    "adc_to_cmh2o",
    "pa_to_cmh2o",
    "venturi_flow_lps",
    "lab_flow_lps",
]

ADC_FLOOR = 1638
"""ADC count at 0 Pa (the inactive port sits here)."""
ADC_FULL_SCALE = 14745
"""ADC count at full scale, 25.4 cmH2O (10 inches of water)."""
PA_PER_CMH2O = 98.0665
AIR_DENSITY_KG_M3 = 1.199
"""Moist air density used by the lab."""
UPSTREAM_DIAMETER_M = 0.015
THROAT_DIAMETER_M = 0.012

_PA_PER_COUNT = PA_PER_CMH2O * 25.4 / (ADC_FULL_SCALE - ADC_FLOOR)  # full scale: 25.4 cmH2O (10 inH2O)


def adc_to_pa(adc: ArrayLike) -> np.ndarray:
    """Convert pressure-sensor ADC counts to pascal.

    Parameters
    ----------
    adc : ndarray
        Raw ADC counts (any numeric dtype).

    Returns
    -------
    ndarray of float64
        Pressure in Pa; ``ADC_FLOOR`` maps to 0 Pa.
    """
    return (np.asarray(adc, dtype=np.float64) - ADC_FLOOR) * _PA_PER_COUNT


def adc_to_cmh2o(adc: np.ndarray) -> np.ndarray:
    """Convert pressure-sensor ADC counts straight to cmH2O.

    >>> float(adc_to_cmh2o(np.array([14745]))[0])
    25.4
    """
    return np.multiply(np.asarray(adc) - ADC_FLOOR, _PA_PER_COUNT / PA_PER_CMH2O, dtype=np.float64)


def pa_to_cmh2o(pa: np.ndarray) -> np.ndarray:
    """Convert pascal to cmH2O.

    >>> float(pa_to_cmh2o(98.0665))
    1.0
    """
    return np.asarray(pa, dtype=np.float64) / PA_PER_CMH2O


def venturi_flow_lps(
    dp_pa: ArrayLike,
    *,
    upstream_diameter_m: float = UPSTREAM_DIAMETER_M,
    throat_diameter_m: float = THROAT_DIAMETER_M,
    density_kg_m3: float = AIR_DENSITY_KG_M3,
) -> np.ndarray:
    """Volumetric flow through a venturi from its pressure drop.

    Parameters
    ----------
    dp_pa : ndarray
        Upstream minus throat pressure, Pa. Negative values are clipped to 0.
    upstream_diameter_m, throat_diameter_m : float
        Venturi geometry (the lab's tubes: 15 mm and 12 mm).
    density_kg_m3 : float
        Gas density.

    Returns
    -------
    ndarray of float64
        Flow magnitude in L/s (never negative, never NaN).
    """
    a1 = np.pi * (upstream_diameter_m / 2) ** 2
    a2 = np.pi * (throat_diameter_m / 2) ** 2
    k = a2 * np.sqrt(2.0 / (density_kg_m3 * (1.0 - (a2 / a1) ** 2))) * 1000.0  # m^3/s -> L/s
    dp = np.asarray(dp_pa, dtype=np.float64)
    return k * np.sqrt(np.clip(dp, 0.0, None))


def lab_flow_lps(p2_adc: np.ndarray, p1_ins_adc: np.ndarray, p1_exp_adc: np.ndarray) -> np.ndarray:
    """Signed patient flow from one venturi's three ADC columns.

    While ``P1-Ins >= P1-Exp`` the patient inhales through the inspiratory
    port (positive flow); otherwise exhales through the expiratory port
    (negative flow).

    Parameters
    ----------
    p2_adc, p1_ins_adc, p1_exp_adc : ndarray
        ADC counts of the throat, inspiratory and expiratory upstream ports.

    Returns
    -------
    ndarray of float64
        Flow in L/s, positive on inspiration.

    Examples
    --------
    >>> import numpy as np
    >>> q = lab_flow_lps(np.array([5000, 5000]), np.array([5021, 1638]), np.array([1638, 5021]))
    >>> bool(q[0] > 0 and q[1] < 0 and np.isclose(q[0], -q[1]))
    True
    >>> bool(np.allclose(q, lab_flow_lps(*(np.array(a, float) for a in ([5000, 5000], [5021, 1638], [1638, 5021])))))
    True
    """
    p2, ins, exp_ = (np.asarray(a) for a in (p2_adc, p1_ins_adc, p1_exp_adc))
    if all(a.dtype.kind in "iu" for a in (p2, ins, exp_)):
        # integer counts (what the readers give): the square root becomes a table lookup
        p2, ins, exp_ = (a.astype(np.int32, copy=False) for a in (p2, ins, exp_))
        dp = np.maximum(ins, exp_)  # the active port; the inactive one sits at the floor
        dp -= p2
        np.clip(dp, 0, _LUT_HALF, out=dp)
        np.negative(dp, out=dp, where=ins < exp_)  # exhaling: negative flow
        dp += _LUT_HALF
        return _signed_flow_table().take(dp)
    p2, ins, exp_ = (a.astype(np.float64, copy=False) for a in (p2, ins, exp_))
    inhaling = ins >= exp_
    upstream = np.where(inhaling, ins, exp_)
    magnitude = venturi_flow_lps((upstream - p2) * _PA_PER_COUNT)
    return np.where(inhaling, magnitude, -magnitude)


_LUT_HALF = 65535


def _signed_flow_table() -> np.ndarray:
    """Flow (L/s) for every signed pressure difference in ADC counts, index ``dp + 65535``."""
    global _FLOW_TABLE
    if _FLOW_TABLE is None:
        counts = np.arange(-_LUT_HALF, _LUT_HALF + 1, dtype=np.float64)
        _FLOW_TABLE = np.sign(counts) * venturi_flow_lps(np.abs(counts) * _PA_PER_COUNT)
    return _FLOW_TABLE


_FLOW_TABLE: np.ndarray | None = None
