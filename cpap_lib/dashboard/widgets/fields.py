"""Checking what staff type: pressure, room and MRN, as the pages read them.

Each parser takes the raw text of a field and returns the value, or raises
:class:`~cpap_lib.errors.ParameterError` whose message is the sentence the
page shows. Nothing is sent to the server unless these accept it.

Examples
--------
>>> from cpap_lib.dashboard.widgets.fields import parse_pressure, parse_room, parse_mrn
>>> parse_pressure(" 12 ")
12
>>> parse_pressure("3.5")
Traceback (most recent call last):
...
cpap_lib.errors.ParameterError: pressure: must be a whole number of cmH2O from 4 to 25, not '3.5'
>>> parse_room("12"), parse_mrn(" A-1234 ")
(12, 'A-1234')
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

from ...clock import as_utc, to_lab_time
from ...errors import ParameterError
from ...limits import (
    MRN_PATTERN,
    PRESSURE_MAX_CMH2O,
    PRESSURE_MIN_CMH2O,
    ROOM_MAX,
    ROOM_MIN,
)

__all__ = [
    "PRESSURE_MIN_CMH2O",
    "PRESSURE_MAX_CMH2O",
    "parse_pressure",
    "parse_room",
    "parse_mrn",
    "format_number",
    "png_filename",
    "on_enter",
]

_MRN = re.compile(MRN_PATTERN)
_INTEGER = re.compile(r"^[+]?\d{1,6}$")


def parse_pressure(text: str | int | None) -> int:
    """Return the CPAP pressure typed in ``text`` (a whole number 4-25 cmH2O).

    Examples
    --------
    >>> parse_pressure(25)
    25
    >>> parse_pressure("26")
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: pressure: must be a whole number of cmH2O from 4 to 25, not '26'
    """
    raw = "" if text is None else str(text).strip()
    if not raw:
        raise ParameterError(
            "pressure", f"enter a whole number of cmH2O from {PRESSURE_MIN_CMH2O} to {PRESSURE_MAX_CMH2O}"
        )
    if _INTEGER.match(raw) and PRESSURE_MIN_CMH2O <= int(raw) <= PRESSURE_MAX_CMH2O:
        return int(raw)
    shown = raw if len(raw) <= 20 else raw[:20] + "..."
    raise ParameterError(
        "pressure", f"must be a whole number of cmH2O from {PRESSURE_MIN_CMH2O} to {PRESSURE_MAX_CMH2O}, not {shown!r}"
    )


def parse_room(text: str | int | None) -> int:
    """Return the room number typed in ``text`` (a whole number 1-99999).

    Examples
    --------
    >>> parse_room("0")
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: room: must be a whole number from 1 to 99999, not '0'
    """
    raw = "" if text is None else str(text).strip()
    if not raw:
        raise ParameterError("room", "enter the room number")
    if _INTEGER.match(raw) and ROOM_MIN <= int(raw) <= ROOM_MAX:
        return int(raw)
    shown = raw if len(raw) <= 20 else raw[:20] + "..."
    raise ParameterError("room", f"must be a whole number from {ROOM_MIN} to {ROOM_MAX}, not {shown!r}")


def parse_mrn(text: str | None) -> str:
    """Return the medical record number typed in ``text``.

    Letters, digits and ``_ . -`` (starting with a letter or digit), at most 32.

    Examples
    --------
    >>> parse_mrn("")
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: MRN: enter the patient's medical record number
    >>> parse_mrn("<b>")
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: MRN: use letters, digits, '_', '.', '-' (at most 32), not '<b>'
    """
    raw = "" if text is None else str(text).strip()
    if not raw:
        raise ParameterError("MRN", "enter the patient's medical record number")
    if not _MRN.match(raw):
        shown = raw if len(raw) <= 20 else raw[:20] + "..."
        raise ParameterError("MRN", f"use letters, digits, '_', '.', '-' (at most 32), not {shown!r}")
    return raw


def format_number(value: float | int | None, digits: int = 1, unit: str = "") -> str:
    """A number for display, or an em dash when missing.

    Examples
    --------
    >>> format_number(14.234, 1, "/min"), format_number(None), format_number(8.0, 0, " cmH2O")
    ('14.2/min', '—', '8 cmH2O')
    """
    if value is None:
        return "—"
    return f"{float(value):.{digits}f}{unit}"


def png_filename(what: str, *, room: int | None = None, mrn: str | None = None, when: Any = None) -> str:
    """A PNG file name that says whose chart it is and when: ``room103_BR-001_20261121-224107_latest.png``.

    The MRN is kept to file-safe characters (it is already letters, digits, ``_ . -``); the time is lab clock time.

    Examples
    --------
    >>> png_filename("latest", room=103, mrn="BR/001", when="2026-11-21T21:41:07Z").count("_")
    3
    >>> png_filename("flow")
    'flow.png'
    """
    parts = []
    if room is not None:
        parts.append(f"room{int(room)}")
    if mrn:
        parts.append("".join(c if c.isalnum() or c in "-." else "-" for c in str(mrn))[:32])
    stamp = as_utc(when)
    if stamp is not None:
        parts.append(to_lab_time(stamp).strftime("%Y%m%d-%H%M%S"))
    parts.append("".join(c if c.isalnum() or c in "-_" else "-" for c in what))
    return "_".join(parts) + ".png"


BREATH_COLOR = "#2ca02c"

TREND_SERIES = (
    ("pressure_cmh2o", "CPAP pressure", "cmH2O", "#1f77b4"),
    ("breath_rate_bpm", "Breath rate", "breaths/min", "#2ca02c"),
    ("apnea_count", "Apneas", "count", "#d62728"),
)
"""Default series of :class:`TrendChart`: (key, title, unit, colour)."""


def on_enter(field: Any, callback: Callable[[], Any]) -> None:
    """Call ``callback()`` when Enter is pressed in the text ``field`` ("Enter sends").

    ipywidgets 8 marks ``on_submit`` deprecated in favour of
    ``continuous_update=False``, which also fires when the field loses focus:
    a pressure would then be sent by clicking elsewhere. Enter alone must
    send, so ``on_submit`` is kept (its warning silenced here, in one place).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        field.on_submit(lambda _field: callback())
