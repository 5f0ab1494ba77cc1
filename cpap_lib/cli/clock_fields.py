"""The clock-time fields ``--json`` output adds: ISO 8601 in the lab's zone, where the start is known.

The numeric seconds stay as they were (``start_s``, ``end_s``: seconds in
the recording's own time base, 0 at its start). Beside them:

- ``start_clock``: when the recording (or the compared session / night)
  began, ISO 8601 in the lab's zone (``CPAP_LAB_TZ``) with its offset, to the
  millisecond; null when the recording does not say when it began (the lab's
  text files), and then no event has clock fields either;
- ``time_zone``: the lab's zone (IANA name where it has one);
- on each event (``apneas``, ``hypopneas``; a comparison's
  ``device_events``): ``start_clock`` and ``end_clock`` likewise.

A naive start (a ResMed EDF header: the device's own clock, set where the
lab is) is read as lab time (:func:`cpap_lib.clock.recording_start`).

Examples
--------
>>> from datetime import datetime
>>> from cpap_lib.clock import lab_timezone
>>> tz = lab_timezone("Europe/Berlin")
>>> d = {"apneas": [{"start_s": 1338.0, "end_s": 1356.5}], "hypopneas": []}
>>> add_clock_fields(d, datetime(2024, 10, 17, 22, 18, 49), tz=tz)["apneas"]
[{'start_s': 1338.0, 'end_s': 1356.5, 'start_clock': '2024-10-17T22:41:07.000+02:00', 'end_clock': '2024-10-17T22:41:25.500+02:00'}]
>>> d["start_clock"], d["time_zone"]
('2024-10-17T22:18:49.000+02:00', 'Europe/Berlin')
>>> add_clock_fields({"apneas": [{"start_s": 1.0, "end_s": 12.0}]}, None, tz=tz)
{'apneas': [{'start_s': 1.0, 'end_s': 12.0}], 'start_clock': None, 'time_zone': 'Europe/Berlin'}
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from ..clock import clock_iso, lab_timezone, zone_name

__all__ = ["add_clock_fields", "add_comparison_clock_fields"]


def add_clock_fields(
    d: dict[str, Any], start_time: datetime | None, *, events: tuple[str, ...] = ("apneas", "hypopneas"), tz=None
) -> dict[str, Any]:
    """Add ``start_clock``, ``time_zone`` and each event's clock fields to ``d`` (in place; returned)."""
    tz = tz or lab_timezone()
    for key in events:
        spans = d.get(key) or []
        if start_time is None or not spans:
            continue
        starts = clock_iso([e["start_s"] for e in spans], start_time, tz) or []
        ends = clock_iso([e["end_s"] for e in spans], start_time, tz) or []
        for event, begin, end in zip(spans, starts, ends, strict=True):
            event["start_clock"], event["end_clock"] = begin, end
    (start,) = clock_iso([0.0], start_time, tz) or [None]
    d["start_clock"], d["time_zone"] = start, zone_name(tz)
    return d


def add_comparison_clock_fields(d: dict[str, Any], tz: tzinfo | None = None) -> dict[str, Any]:
    """Clock fields on a :meth:`Comparison.to_dict` (night and sessions; their device events), in place.

    A part's ``start_time`` and a device event's ``time`` are the device's
    clock (naive ISO); the device stamps an event at its end, so the event
    began ``end_s - start_s`` before it. The clock fields give them with the
    lab zone's offset.

    >>> from cpap_lib.clock import lab_timezone
    >>> event = {"start_s": 3687.0, "end_s": 3697.0, "time": "2024-10-18T06:54:33"}
    >>> d = add_comparison_clock_fields({"night": {"start_time": "2024-10-18T05:52:56", "device_events": [event]}},
    ...                                 lab_timezone("Europe/Berlin"))
    >>> event["start_clock"], event["end_clock"], d["night"]["start_clock"]
    ('2024-10-18T06:54:23.000+02:00', '2024-10-18T06:54:33.000+02:00', '2024-10-18T05:52:56.000+02:00')
    """
    tz = tz or lab_timezone()
    for part in [d["night"], *d.get("sessions", [])]:
        for event in part.get("device_events", []):
            stamp = datetime.fromisoformat(event["time"])
            event["start_clock"], event["end_clock"] = clock_iso(
                [event["start_s"] - event["end_s"], 0.0], stamp, tz
            ) or [None, None]
        start = part.get("start_time")
        (part["start_clock"],) = clock_iso([0.0], datetime.fromisoformat(start), tz) if start else [None]
        part["time_zone"] = zone_name(tz)
    return d
