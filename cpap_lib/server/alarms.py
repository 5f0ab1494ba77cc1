"""Alarm rules of the ward: what makes a room need a nurse, loudest first.

Every admitted room is in exactly one *state*, the loudest rule that holds
(:data:`STATES`, loudest first); every rule that holds is listed too:

==============  =====================================================================  ==========================
state           rule (defaults)                                                        setting
==============  =====================================================================  ==========================
``no_data``     nothing uploaded for ``no_data_min`` minutes (10); a fresh admission   ``CPAP_ALARM_NO_DATA_MIN``
                counts from its admission time. The loudest: a lost signal is never
                quieter than a bad one.
``ahi_high``    AHI over the last ``ahi_window_min`` minutes (30) at or above          ``CPAP_ALARM_AHI_WINDOW_MIN``,
                ``ahi_threshold`` events/h (15, the AASM moderate band), once the      ``CPAP_ALARM_AHI``,
                window holds at least ``ahi_min_recorded_min`` minutes (5) of          ``CPAP_ALARM_AHI_MIN_RECORDED_MIN``
                analysed recording
``apnea_run``   the latest ``apnea_run_uploads`` uploads (3) each scored at least one  ``CPAP_ALARM_APNEA_RUN_UPLOADS``
                apnea (apneas recurring recording after recording)
``high_leak``   the latest upload's mean leak at or above ``leak_lpm`` L/min (24,      ``CPAP_ALARM_LEAK_LPM``
                ResMed's "large leak" level)
``ok``          admitted, none of the above
``empty``       no patient admitted
==============  =====================================================================  ==========================

*AHI* here is the apnea-hypopnea index of the uploaded analyses: the apneas
and hypopneas the bedside analysis scored (its named rule, AASM amplitude
by default) per hour of analysed recording, summed over the uploads
*received* in the window (30 or 60 min) or during the admission (the
night). A window with no analysed recording has no AHI.

An acknowledgement (who, when, note) silences the state it was given for:
the room shows "acknowledged" until its state changes (another state, or
the same state again after it had cleared).

Examples
--------
>>> rules = AlarmRules()
>>> facts = RoomFacts(admitted=True, minutes_since_data=2.0, ahi_window=18.0, window_recorded_min=30.0,
...                   recent_uploads_with_apneas=1, leak_lpm=30.0)
>>> active_alarms(facts, rules)
('ahi_high', 'high_leak')
>>> active_alarms(RoomFacts(admitted=True, minutes_since_data=11.0), rules)
('no_data',)
>>> state_of(()), state_of((), admitted=False)
('ok', 'empty')
>>> AlarmRules.from_env({"CPAP_ALARM_AHI": "10"}).ahi_threshold
10.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import ParameterError
from .schemas import AlarmState

__all__ = [
    "ALARM_RULES_HELP",
    "ALARMS",
    "STATES",
    "AlarmRules",
    "RoomFacts",
    "active_alarms",
    "describe",
    "loudness",
    "state_of",
]

ALARMS = ("no_data", "ahi_high", "apnea_run", "high_leak")
"""The alarm states, loudest first."""
STATES = (*ALARMS, "ok", "empty")
"""Every state a room can be in, loudest first."""

ALARM_RULES_HELP = (
    "no_data (loudest): nothing uploaded for no_data_min minutes; ahi_high: AHI over the last ahi_window_min "
    "minutes at or above ahi_threshold events/h (with at least ahi_min_recorded_min minutes of recording); "
    "apnea_run: the latest apnea_run_uploads uploads each scored an apnea; high_leak: the latest upload's mean "
    "leak at or above leak_lpm L/min. AHI = scored apneas + hypopneas per hour of analysed recording of the "
    "uploads received in the window. An acknowledgement holds until the room's state changes."
)
"""The rules in one paragraph (the API's description)."""

_ENV = {
    "no_data_min": ("CPAP_ALARM_NO_DATA_MIN", 0.05, 24 * 60.0),
    "ahi_window_min": ("CPAP_ALARM_AHI_WINDOW_MIN", 5.0, 24 * 60.0),
    "ahi_threshold": ("CPAP_ALARM_AHI", 1.0, 200.0),
    "ahi_min_recorded_min": ("CPAP_ALARM_AHI_MIN_RECORDED_MIN", 0.0, 24 * 60.0),
    "apnea_run_uploads": ("CPAP_ALARM_APNEA_RUN_UPLOADS", 1, 100),
    "leak_lpm": ("CPAP_ALARM_LEAK_LPM", 1.0, 500.0),
}


@dataclass(frozen=True)
class AlarmRules:
    """The configurable thresholds of the alarm rules (see the module docstring)."""

    no_data_min: float = 10.0
    ahi_window_min: float = 30.0
    ahi_threshold: float = 15.0
    ahi_min_recorded_min: float = 5.0
    apnea_run_uploads: int = 3
    leak_lpm: float = 24.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlarmRules:
        """Rules from the ``CPAP_ALARM_*`` variables (defaults where unset).

        Raises
        ------
        ParameterError
            Naming the variable and its allowed range.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            variable, low, high = _ENV[f.name]
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            kind = int if isinstance(f.default, int) else float  # the defaults say which
            try:
                value = kind(raw)
            except ValueError:
                value = None
            if value is None or not low <= value <= high:
                raise ParameterError(
                    variable, f"must be a {'whole ' if kind is int else ''}number from {low:g} to {high:g}, got {raw!r}"
                )
            values[f.name] = value
        return cls(**values)

    def as_dict(self) -> dict[str, float | int]:
        """The thresholds by name (what ``GET /api/v1/alarms/rules`` answers)."""
        return asdict(self)


@dataclass(frozen=True)
class RoomFacts:
    """What the rules look at, for one room (None where unknown).

    Attributes
    ----------
    admitted : bool
        A patient is admitted to the room.
    minutes_since_data : float or None
        Since the latest upload, or since admission when nothing was uploaded.
    ahi_window : float or None
        AHI over the rules' window.
    window_recorded_min : float
        Minutes of analysed recording in that window.
    recent_uploads_with_apneas : int
        How many of the latest ``apnea_run_uploads`` uploads scored an apnea.
    recent_uploads : int
        How many uploads that look-back found (fewer at the start of a night).
    leak_lpm : float or None
        Mean leak of the latest upload.
    """

    admitted: bool
    minutes_since_data: float | None = None
    ahi_window: float | None = None
    window_recorded_min: float = 0.0
    recent_uploads_with_apneas: int = 0
    recent_uploads: int | None = None
    leak_lpm: float | None = None


def active_alarms(facts: RoomFacts, rules: AlarmRules) -> tuple[AlarmState, ...]:
    """Every alarm that holds for ``facts``, loudest first."""
    if not facts.admitted:
        return ()
    found: list[AlarmState] = []
    if facts.minutes_since_data is not None and facts.minutes_since_data >= rules.no_data_min:
        found.append("no_data")
    if (
        facts.ahi_window is not None
        and facts.window_recorded_min >= rules.ahi_min_recorded_min
        and facts.ahi_window >= rules.ahi_threshold
    ):
        found.append("ahi_high")
    uploads = rules.apnea_run_uploads if facts.recent_uploads is None else facts.recent_uploads
    if uploads >= rules.apnea_run_uploads and facts.recent_uploads_with_apneas >= rules.apnea_run_uploads:
        found.append("apnea_run")
    if facts.leak_lpm is not None and facts.leak_lpm >= rules.leak_lpm:
        found.append("high_leak")
    return tuple(found)


def state_of(alarms: tuple[AlarmState, ...], *, admitted: bool = True) -> AlarmState:
    """The room's state: its loudest alarm, ``"ok"``, or ``"empty"`` without a patient."""
    if not admitted:
        return "empty"
    return alarms[0] if alarms else "ok"


def loudness(state: str) -> int:
    """Rank of a state, 0 the loudest (``no_data``) to 5 (``empty``).

    >>> sorted(["ok", "high_leak", "no_data", "empty", "ahi_high"], key=loudness)
    ['no_data', 'ahi_high', 'high_leak', 'ok', 'empty']
    """
    return STATES.index(state)


def describe(state: str, facts: RoomFacts, rules: AlarmRules) -> str:
    """One sentence for the tile: what holds, against which threshold.

    >>> describe("ahi_high", RoomFacts(admitted=True, ahi_window=18.24), AlarmRules())
    'AHI 18.2/h over the last 30 min (alarm from 15/h)'
    """
    if state == "no_data":
        minutes = facts.minutes_since_data or 0.0
        since = f"{minutes * 60:.0f} s" if minutes < 2 else f"{minutes:.0f} min"
        return f"No data for {since} (alarm after {rules.no_data_min:g} min)"
    if state == "ahi_high":
        return f"AHI {facts.ahi_window:.1f}/h over the last {rules.ahi_window_min:g} min (alarm from {rules.ahi_threshold:g}/h)"
    if state == "apnea_run":
        return f"Apneas in each of the latest {rules.apnea_run_uploads} uploads"
    if state == "high_leak":
        return f"Leak {facts.leak_lpm:.0f} L/min (alarm from {rules.leak_lpm:g} L/min)"
    if state == "ok":
        return "No alarm"
    return "No patient admitted"
