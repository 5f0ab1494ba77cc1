"""Plain JSON types from what the analysis and the client hold (numpy scalars and arrays).

>>> import numpy as np
>>> jsonable({"n": np.int64(3), "x": np.float32(0.5), "ok": np.bool_(True), "bad": float("nan")})
{'n': 3, 'x': 0.5, 'ok': True, 'bad': None}
>>> jsonable((np.array([1.0, np.inf]), [np.int32(2)]))
[[1.0, None], [2]]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays as plain JSON types; NaN and infinity become None.

    Dicts (keys as ``str``), lists, tuples and arrays are converted recursively;
    anything else is returned unchanged.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        array = value.astype(np.float64) if value.dtype.kind == "f" else value
        if array.dtype.kind != "f" or np.isfinite(array).all():
            return array.tolist()  # fast path for traces: no per-sample Python work
        return [None if not math.isfinite(v) else v for v in array.tolist()]
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
