"""ResMed SD-card data (EDF / EDF+): files, sessions, nights and cards.

=============  ==============================================================
:mod:`.files`     opening EDF files; readers of one BRP, PLD, EVE/CSL file
:mod:`.sessions`  the files of one mask-on session, found by name stamp
:mod:`.nights`    a ``DATALOG/<date>/`` folder's sessions as one night
:mod:`.summary`   ``STR.edf``: the device's own summary of each day
:mod:`.card`      the card's root: identity, summary and nights (indexed lazily)
:mod:`.assemble`  cards built from real nights under new dates (tests, benchmarks)
=============  ==============================================================
"""

from __future__ import annotations

from .card import DeviceCard, NightIndex, is_card_root, read_card
from .files import (
    COMPANION_TOLERANCE_S,
    EVENT_COLUMNS,
    EVENT_KINDS,
    OXIMETRY_COLUMNS,
    TREND_COLUMNS,
    EdfHeader,
    event_kind,
    is_edf_file,
    read_brp,
    read_events,
    read_header,
    read_oximetry,
    read_trends,
    session_stamp,
)
from .nights import DeviceNight, night_recording, read_datalog, read_night, sleep_day
from .sessions import SIGNAL_COLUMNS, DeviceSession, SessionFiles, attribute_events, find_sessions, read_session
from .summary import read_summary, summary_for_day

__all__ = [
    "DeviceSession",
    "DeviceNight",
    "DeviceCard",
    "SessionFiles",
    "EVENT_KINDS",
    "EVENT_COLUMNS",
    "TREND_COLUMNS",
    "COMPANION_TOLERANCE_S",
    "event_kind",
    "session_stamp",
    "find_sessions",
    "read_brp",
    "read_events",
    "read_trends",
    "read_session",
    "read_datalog",
    "read_card",
    "night_recording",
    "is_edf_file",
    "is_card_root",
    "NightIndex",
    "EdfHeader",
    "OXIMETRY_COLUMNS",
    "SIGNAL_COLUMNS",
    "read_header",
    "read_oximetry",
    "read_night",
    "read_summary",
    "summary_for_day",
    "sleep_day",
    "attribute_events",
]
