"""A CPAP titration night: one row per pressure step, and the guideline's prompt for the next step.

A *pressure step* is a run of consecutive uploads measured at one CPAP
pressure (the pressure the device reported). For each step:
time at the step (minutes of analysed recording), uploads, apneas,
hypopneas, AHI (apneas + hypopneas per hour of that recording, as the
bedside analysis scored them) and breath rate (mean weighted by recording
length), with the command that started it (who, when) where there was one.

The prompt follows the AASM clinical guideline for manual CPAP titration
(Kushida et al., J Clin Sleep Med 2008;4(2):157-171), for patients 12 years
and older: raise CPAP by at least 1 cmH2O when at least 2 obstructive
apneas or at least 3 hypopneas are observed at the current pressure, with
at least 5 minutes between changes, up to 20 cmH2O. The observation time is
the analysed recording at the current step. The bedside analysis does not
tell obstructive from central apneas: the technician confirms. Prompts are
suggestions only; nothing is ever sent by them.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2026, 11, 21, 21, 0, tzinfo=timezone.utc)
>>> uploads = [dict(recorded_at=t0 + timedelta(minutes=5 * i), cpap_pressure_cmh2o=p, apnea_count=a,
...                 hypopnea_count=h, duration_s=300.0, breath_rate_bpm=14.0)
...            for i, (p, a, h) in enumerate([(6, 2, 1), (6, 1, 0), (7, 1, 1), (7, 2, 2)])]
>>> steps = pressure_steps(uploads)
>>> steps[["pressure_cmh2o", "minutes", "apneas", "hypopneas", "ahi"]].to_dict("records")
[{'pressure_cmh2o': 6.0, 'minutes': 10.0, 'apneas': 3, 'hypopneas': 1, 'ahi': 24.0}, {'pressure_cmh2o': 7.0, 'minutes': 10.0, 'apneas': 3, 'hypopneas': 3, 'ahi': 36.0}]
>>> prompt = titration_prompt(steps)
>>> prompt.kind, prompt.suggested_cmh2o
('raise', 8)
>>> prompt.text
'Suggestion: raise CPAP to 8 cmH2O (3 apneas, 3 hypopneas in 10 min at 7 cmH2O; AASM: raise after 2 apneas or 3 hypopneas).'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .clock import as_utc

__all__ = [
    "AASM_MAX_CMH2O",
    "AASM_MIN_APNEAS",
    "AASM_MIN_HYPOPNEAS",
    "AASM_MIN_INTERVAL_MIN",
    "STEP_COLUMNS",
    "TitrationPrompt",
    "pressure_steps",
    "titration_prompt",
]

AASM_MIN_APNEAS = 2
"""Obstructive apneas at a pressure that call for a raise (patients >= 12 years)."""
AASM_MIN_HYPOPNEAS = 3
"""Hypopneas at a pressure that call for a raise (patients >= 12 years)."""
AASM_MIN_INTERVAL_MIN = 5.0
"""Shortest time between pressure changes, minutes."""
AASM_MAX_CMH2O = 20
"""Highest CPAP the guideline titrates to for patients >= 12 years (then BPAP)."""

STEP_COLUMNS = (
    "step",
    "pressure_cmh2o",
    "start",
    "end",
    "minutes",
    "uploads",
    "apneas",
    "hypopneas",
    "ahi",
    "breath_rate_bpm",
    "commanded_by",
    "commanded_at",
)
"""Columns of :func:`pressure_steps` (``start``/``end``: first and last upload, UTC)."""


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)


def pressure_steps(
    measurements: Iterable[Any], commands: Iterable[Any] = (), *, admitted_at: Any = None
) -> pd.DataFrame:
    """One row per pressure step of a night (see the module docstring).

    Parameters
    ----------
    measurements : iterable of mapping or object
        Uploads, oldest first, with ``recorded_at``, ``cpap_pressure_cmh2o``,
        ``apnea_count``, ``hypopnea_count``, ``duration_s``, ``breath_rate_bpm``
        (the timeline's measurements). Uploads without a pressure are skipped.
    commands : iterable of mapping or object, optional
        Pressure commands (``commanded_at``, ``commanded_by``, ``to_cmh2o``):
        a step is credited to the latest command to its pressure given before it began.
    admitted_at : datetime or str, optional
        When the night (the admission) began. The pressure in effect then (the
        latest command given at or before it, e.g. a preset for the empty room)
        is the first step: when no upload was measured at it first (none yet,
        or the first upload came at another pressure), a step of 0 uploads at
        that pressure, from ``admitted_at``, comes first.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STEP_COLUMNS`; empty (with those columns) without uploads or a pressure in effect.

    Examples
    --------
    >>> preset = {"commanded_at": "2026-11-21T20:50:00Z", "commanded_by": "nurse-a", "to_cmh2o": 10}
    >>> first = pressure_steps([], [preset], admitted_at="2026-11-21T21:00:00Z")
    >>> first[["step", "pressure_cmh2o", "uploads", "minutes", "commanded_by"]].to_dict("records")
    [{'step': 1, 'pressure_cmh2o': 10.0, 'uploads': 0, 'minutes': 0.0, 'commanded_by': 'nurse-a'}]
    >>> up = dict(recorded_at="2026-11-21T21:05:00Z", cpap_pressure_cmh2o=10, apnea_count=1, hypopnea_count=0,
    ...           duration_s=300.0, breath_rate_bpm=14.0)
    >>> pressure_steps([up], [preset], admitted_at="2026-11-21T21:00:00Z")[["pressure_cmh2o", "uploads", "commanded_by"]].to_dict("records")
    [{'pressure_cmh2o': 10.0, 'uploads': 1, 'commanded_by': 'nurse-a'}]
    """
    rows = [m for m in measurements if _get(m, "cpap_pressure_cmh2o") is not None]
    given = sorted(
        (
            (pd.Timestamp(as_utc(_get(c, "commanded_at"))), _get(c, "to_cmh2o"), _get(c, "commanded_by"))
            for c in commands
        ),
        key=lambda c: c[0],
    )
    steps = _measured_steps(rows, given) if rows else pd.DataFrame(columns=list(STEP_COLUMNS))
    if admitted_at is not None:
        began = pd.Timestamp(as_utc(admitted_at))
        in_effect = [c for c in given if c[0] <= began and c[1] is not None]
        if in_effect and (steps.empty or float(steps["pressure_cmh2o"].iloc[0]) != float(in_effect[-1][1])):
            at, cmh2o, by = in_effect[-1]
            first = {
                "step": 0,
                "pressure_cmh2o": float(cmh2o),
                "start": began,
                "end": began,
                "minutes": 0.0,
                "uploads": 0,
                "apneas": 0,
                "hypopneas": 0,
                "ahi": np.nan,
                "breath_rate_bpm": np.nan,
                "commanded_by": by,
                "commanded_at": at,
            }
            head = pd.DataFrame([first], columns=list(STEP_COLUMNS))
            steps = head if steps.empty else pd.concat([head, steps], ignore_index=True)
            steps["step"] = np.arange(1, len(steps) + 1)
    return steps


def _measured_steps(rows: list[Any], given: list[tuple]) -> pd.DataFrame:
    """The steps of the uploads (``rows``: those with a pressure), credited to the ``given`` commands."""
    frame = pd.DataFrame(
        {
            "recorded_at": pd.to_datetime([_get(m, "recorded_at") for m in rows], utc=True),
            "pressure": np.array([_get(m, "cpap_pressure_cmh2o") for m in rows], dtype=np.float64),
            "apneas": np.array([_get(m, "apnea_count") or 0 for m in rows], dtype=np.int64),
            "hypopneas": np.array([_get(m, "hypopnea_count") or 0 for m in rows], dtype=np.int64),
            "seconds": np.array([_get(m, "duration_s") or 0.0 for m in rows], dtype=np.float64),
            "rate": np.array(
                [np.nan if _get(m, "breath_rate_bpm") is None else _get(m, "breath_rate_bpm") for m in rows],
                dtype=np.float64,
            ),
        }
    )
    frame["step"] = (frame["pressure"].diff().fillna(1.0) != 0).cumsum()
    frame["rate_weight"] = np.where(np.isnan(frame["rate"]), 0.0, frame["seconds"])
    frame["rate_x_weight"] = np.nan_to_num(frame["rate"]) * frame["rate_weight"]
    grouped = frame.groupby("step", sort=True)
    steps = pd.DataFrame(
        {
            "step": grouped.ngroup().unique() + 1,
            "pressure_cmh2o": grouped["pressure"].first().to_numpy(),
            "start": grouped["recorded_at"].first().to_numpy(),
            "end": grouped["recorded_at"].last().to_numpy(),
            "minutes": (grouped["seconds"].sum() / 60.0).round(1).to_numpy(),
            "uploads": grouped.size().to_numpy(),
            "apneas": grouped["apneas"].sum().to_numpy(),
            "hypopneas": grouped["hypopneas"].sum().to_numpy(),
        }
    )
    seconds = grouped["seconds"].sum().to_numpy()
    weights = grouped["rate_weight"].sum().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        steps["ahi"] = np.where(
            seconds > 0, np.round(3600.0 * (steps["apneas"] + steps["hypopneas"]) / seconds, 1), np.nan
        )
        steps["breath_rate_bpm"] = np.where(
            weights > 0, np.round(grouped["rate_x_weight"].sum().to_numpy() / weights, 1), np.nan
        )
    steps["start"] = pd.to_datetime(steps["start"], utc=True)
    steps["end"] = pd.to_datetime(steps["end"], utc=True)
    by, at = [], []
    for pressure, start in zip(steps["pressure_cmh2o"], steps["start"], strict=True):
        match = [c for c in given if c[0] <= start and c[1] is not None and float(c[1]) == pressure]
        by.append(match[-1][2] if match else None)
        at.append(match[-1][0] if match else pd.NaT)
    steps["commanded_by"] = by
    steps["commanded_at"] = pd.to_datetime(pd.Series(at, dtype="datetime64[ns, UTC]"), utc=True)
    return steps[list(STEP_COLUMNS)]


@dataclass(frozen=True)
class TitrationPrompt:
    """What the guideline suggests now (never sent by itself).

    Attributes
    ----------
    kind : str
        ``"raise"`` (suggested_cmh2o is set), ``"wait"`` (too soon after the last change),
        ``"hold"`` (too few events), ``"maximum"`` (at the guideline's maximum), ``"none"`` (no data).
    text : str
        The sentence shown.
    suggested_cmh2o : int or None
        The pressure a raise would go to.
    """

    kind: str
    text: str
    suggested_cmh2o: int | None = None


def titration_prompt(
    steps: pd.DataFrame, *, max_cmh2o: int = AASM_MAX_CMH2O, min_interval_min: float = AASM_MIN_INTERVAL_MIN
) -> TitrationPrompt:
    """The AASM prompt for the current (last) step of :func:`pressure_steps`.

    Examples
    --------
    >>> import pandas as pd
    >>> step = lambda **kw: pd.DataFrame([{"pressure_cmh2o": 9.0, "minutes": 12.0, "apneas": 0, "hypopneas": 1, **kw}])
    >>> titration_prompt(step()).kind, titration_prompt(step(minutes=3.0, apneas=4)).text
    ('hold', 'Wait: 2 min more at 9 cmH2O before the next change (AASM: at least 5 min between changes).')
    >>> titration_prompt(step(pressure_cmh2o=20.0, apneas=3)).kind
    'maximum'
    >>> titration_prompt(step(minutes=0.0, uploads=0)).text
    'No uploads with a pressure yet; the night began at 9 cmH2O.'
    """
    if steps.empty:
        return TitrationPrompt("none", "No uploads with a pressure yet.")
    last = steps.iloc[-1]
    pressure = float(last["pressure_cmh2o"])
    shown = f"{pressure:g} cmH2O"
    if int(last.get("uploads", 1)) == 0:  # only the pressure the night began with, nothing measured yet
        return TitrationPrompt("none", f"No uploads with a pressure yet; the night began at {shown}.")
    minutes = float(last["minutes"])
    apneas, hypopneas = int(last["apneas"]), int(last["hypopneas"])
    counted = (
        f"{apneas} apnea{'s' if apneas != 1 else ''}, {hypopneas} hypopnea{'s' if hypopneas != 1 else ''} "
        f"in {minutes:g} min at {shown}"
    )
    if minutes < min_interval_min:
        wait = int(np.ceil(min_interval_min - minutes))
        return TitrationPrompt(
            "wait",
            f"Wait: {wait} min more at {shown} before the next change "
            f"(AASM: at least {min_interval_min:g} min between changes).",
        )
    if apneas < AASM_MIN_APNEAS and hypopneas < AASM_MIN_HYPOPNEAS:
        return TitrationPrompt(
            "hold",
            f"No raise suggested: {counted} (AASM: raise after {AASM_MIN_APNEAS} apneas "
            f"or {AASM_MIN_HYPOPNEAS} hypopneas).",
        )
    target = int(np.floor(pressure)) + 1
    if target > max_cmh2o:
        return TitrationPrompt(
            "maximum",
            f"At {shown}: {counted}. The guideline's maximum CPAP is {max_cmh2o} cmH2O "
            "(patients 12 and older); consider a BPAP titration.",
        )
    return TitrationPrompt(
        "raise",
        f"Suggestion: raise CPAP to {target} cmH2O ({counted}; AASM: raise after "
        f"{AASM_MIN_APNEAS} apneas or {AASM_MIN_HYPOPNEAS} hypopneas).",
        target,
    )
