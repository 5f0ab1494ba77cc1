"""Clock times in the lab's time zone, and the night a time belongs to.

The server stores times in UTC; people read clock times where the lab is.
The lab's zone is the IANA name in the environment variable ``CPAP_LAB_TZ``
(e.g. ``Europe/Berlin``); without it, the machine's local zone is used.

A *night* is named, as sleep labs do, by the date of the evening it began: a
clock time before :data:`NIGHT_STARTS_AT_HOUR` (noon) belongs to the previous
date's night, so 23:40 on 3 March and 02:10 on 4 March are both "the night of
3 March".

Formatting for people: :func:`format_clock` gives ``"22:41:07"``,
:func:`format_elapsed` the time since the start of the night ``"+1:05:07"``,
:func:`format_clock_elapsed` both; :func:`to_lab_datetime64` turns
timestamps into lab wall-clock values for chart axes.

Times inside a recording are seconds in its own time base (time 0 is its
``start_time``, where the file records one). :func:`recording_start` gives
that start as a lab clock time (a naive start is the recorder's own wall
clock, set where the lab is, as ResMed EDF headers are), :func:`clock_iso`
the ISO 8601 clock times (with the zone's offset) of seconds into the
recording for tables and JSON, and :func:`clock_or_elapsed` the text people
read: ``"22:41:07"``, or ``"+0:22:18"`` since the start when the clock is not
known.

Examples
--------
>>> from datetime import datetime, timezone
>>> tz = lab_timezone("Europe/Berlin")
>>> t = datetime(2026, 3, 4, 1, 10, tzinfo=timezone.utc)   # 02:10 in Berlin
>>> to_lab_time(t, tz).strftime("%H:%M"), night_of(t, tz).isoformat()
('02:10', '2026-03-03')
>>> format_clock(t, tz=tz), format_clock("2026-03-04T01:10:00Z", tz=tz, date=True), format_clock(None)
('02:10:00', '2026-03-04 02:10:00', '—')
>>> format_clock_elapsed(t, start=datetime(2026, 3, 3, 22, 5, tzinfo=timezone.utc), tz=tz)
'02:10:00 (+3:05:00)'
>>> lab_timezone("Mars/Olympus")
Traceback (most recent call last):
...
cpap_lib.errors.ParameterError: CPAP_LAB_TZ: unknown time zone 'Mars/Olympus' (an IANA name such as Europe/Berlin)
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from .errors import ParameterError

__all__ = [
    "LAB_TZ_ENV",
    "MISSING",
    "NIGHT_STARTS_AT_HOUR",
    "as_utc",
    "clock_iso",
    "clock_or_elapsed",
    "format_clock",
    "format_clock_elapsed",
    "format_elapsed",
    "lab_timezone",
    "night_of",
    "recording_start",
    "to_lab_datetime64",
    "to_lab_time",
    "zone_label",
    "zone_name",
]

LAB_TZ_ENV = "CPAP_LAB_TZ"
"""Environment variable naming the lab's time zone (IANA name)."""
NIGHT_STARTS_AT_HOUR = 12
"""Clock hour (lab time) at which one night's date ends and the next begins."""
MISSING = "—"
"""What is shown for a time that is not known."""


def lab_timezone(name: str | None = None) -> tzinfo:
    """The lab's time zone: ``name``, else ``$CPAP_LAB_TZ``, else the machine's local zone.

    Raises
    ------
    ParameterError
        If the name is not a known IANA time zone.
    """
    name = name if name is not None else os.environ.get(LAB_TZ_ENV, "")
    if not name.strip():
        return datetime.now().astimezone().tzinfo or UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ParameterError(LAB_TZ_ENV, f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)") from None


def to_lab_time(when: datetime, tz: tzinfo | None = None) -> datetime:
    """``when`` as an aware clock time in the lab's zone (naive times are taken as UTC).

    >>> to_lab_time(datetime(2026, 1, 1, 12, 0), lab_timezone("America/New_York")).isoformat()
    '2026-01-01T07:00:00-05:00'
    """
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(tz or lab_timezone())


def night_of(when: datetime, tz: tzinfo | None = None) -> date:
    """The date of the night ``when`` belongs to (the evening's date, lab time).

    >>> tz = lab_timezone("UTC")
    >>> night_of(datetime(2026, 3, 3, 21, 0), tz), night_of(datetime(2026, 3, 4, 11, 59), tz)
    (datetime.date(2026, 3, 3), datetime.date(2026, 3, 3))
    >>> night_of(datetime(2026, 3, 4, 12, 0), tz)
    datetime.date(2026, 3, 4)
    """
    return (to_lab_time(when, tz) - timedelta(hours=NIGHT_STARTS_AT_HOUR)).date()


def zone_label(tz: tzinfo | None = None, when: datetime | None = None) -> str:
    """A short name of the zone for headers (``CET``, ``UTC``, ``+0530``).

    >>> zone_label(lab_timezone("UTC"))
    'UTC'
    """
    moment = to_lab_time(when or datetime.now(UTC), tz)
    return moment.tzname() or moment.strftime("%z")


def as_utc(value: datetime | str | None) -> datetime | None:
    """A timestamp (datetime, or ISO text as the API and SQLite give it) as aware UTC; naive means UTC.

    >>> as_utc("2026-11-21T22:14:05Z").isoformat(), as_utc(None)
    ('2026-11-21T22:14:05+00:00', None)
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_clock(
    value: datetime | str | None, *, tz: tzinfo | None = None, seconds: bool = True, date: bool = False
) -> str:
    """Clock time of ``value`` in the lab's zone: ``"22:41:07"`` (``date=True``: ``"2026-11-21 22:41:07"``).

    ``None`` gives :data:`MISSING`; naive datetimes are UTC (the server's time base).

    >>> format_clock("2026-11-21T21:41:07Z", tz=lab_timezone("Europe/Berlin"), seconds=False)
    '22:41'
    """
    utc = as_utc(value)
    if utc is None:
        return MISSING
    return to_lab_time(utc, tz).strftime(("%Y-%m-%d " if date else "") + ("%H:%M:%S" if seconds else "%H:%M"))


def format_elapsed(seconds: float | None) -> str:
    """Elapsed time as ``"+H:MM:SS"`` (negative before the start), :data:`MISSING` if unknown.

    >>> format_elapsed(3907), format_elapsed(59.6), format_elapsed(-5), format_elapsed(None)
    ('+1:05:07', '+0:01:00', '-0:00:05', '—')
    """
    if seconds is None or not np.isfinite(seconds):
        return MISSING
    sign = "-" if seconds < 0 else "+"
    total = int(round(abs(float(seconds))))
    hours, rest = divmod(total, 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def format_clock_elapsed(
    value: datetime | str | None, *, start: datetime | str | None, tz: tzinfo | None = None
) -> str:
    """``"22:41:07 (+1:05:07)"``: the clock time and the time since ``start`` (clock time alone without one)."""
    clock = format_clock(value, tz=tz)
    begin, when = as_utc(start), as_utc(value)
    if begin is None or when is None:
        return clock
    return f"{clock} ({format_elapsed((when - begin).total_seconds())})"


def to_lab_datetime64(values, tz: tzinfo | None = None) -> np.ndarray:
    """Timestamps as naive ``datetime64[ms]`` lab wall-clock values, for chart axes.

    bqplot formats date axes in UTC: giving it lab wall-clock values makes
    the axis read 22:41 whatever the browser's zone is. Naive inputs are UTC.

    >>> str(to_lab_datetime64(["2026-11-21T21:41:07Z", None], lab_timezone("Europe/Berlin"))[0])
    '2026-11-21T22:41:07.000'
    """
    import pandas as pd  # only the chart pages need it

    stamps = pd.to_datetime(pd.Series(list(values), dtype=object), utc=True, format="mixed")
    wall = stamps.dt.tz_convert(tz or lab_timezone()).dt.tz_localize(None)
    return wall.to_numpy(dtype="datetime64[ms]")


def zone_name(tz: tzinfo | None = None) -> str:
    """The zone's IANA name where it has one (``Europe/Berlin``), else its short label.

    >>> zone_name(lab_timezone("Europe/Berlin"))
    'Europe/Berlin'
    """
    tz = tz or lab_timezone()
    return str(getattr(tz, "key", None) or zone_label(tz))


def recording_start(start_time: datetime | None, tz: tzinfo | None = None) -> datetime | None:
    """A recording's ``start_time`` as an aware clock time in the lab's zone; None when it records none.

    An aware start is converted to the lab's zone. A naive start is the
    recorder's own wall clock (ResMed EDF headers: the device's clock, set
    where the lab is), so it is taken as lab time, as the explorer's axis
    shows it.

    >>> tz = lab_timezone("Europe/Berlin")
    >>> recording_start(datetime(2024, 10, 17, 22, 18, 49), tz).isoformat()
    '2024-10-17T22:18:49+02:00'
    >>> recording_start(datetime(2024, 10, 17, 20, 18, 49, tzinfo=UTC), tz).isoformat(), recording_start(None)
    ('2024-10-17T22:18:49+02:00', None)
    """
    if start_time is None:
        return None
    tz = tz or lab_timezone()
    return start_time.replace(tzinfo=tz) if start_time.tzinfo is None else start_time.astimezone(tz)


def clock_iso(seconds, start_time: datetime | None, tz: tzinfo | None = None) -> list[str | None] | None:
    """ISO 8601 clock times, lab zone with its offset, to the millisecond, of ``seconds`` into a recording.

    ``seconds`` are in the recording's time base (0 at ``start_time``); the
    clock is the start plus the elapsed time (so a night across a daylight
    saving change reads the offsets it crossed). None when the start is not
    known (``start_time`` None); a NaN second gives None.

    >>> tz = lab_timezone("Europe/Berlin")
    >>> clock_iso([0.0, 3907.25, float("nan")], datetime(2024, 10, 17, 22, 18, 49), tz)
    ['2024-10-17T22:18:49.000+02:00', '2024-10-17T23:23:56.250+02:00', None]
    >>> clock_iso([7200.0], datetime(2024, 10, 27, 1, 30), tz)   # 03:00 summer time became 02:00 winter time
    ['2024-10-27T02:30:00.000+01:00']
    >>> clock_iso([1.0], None) is None
    True
    """
    start = recording_start(start_time, tz)
    if start is None:
        return None
    import pandas as pd  # tables and JSON only

    elapsed = np.asarray(seconds, dtype=np.float64).reshape(-1)
    stamps = pd.Timestamp(start) + pd.to_timedelta(np.round(elapsed * 1000.0), unit="ms")
    text = pd.Series(stamps.strftime("%Y-%m-%dT%H:%M:%S.%f%z"), dtype=object)
    iso = text.str[:23] + text.str[26:29] + ":" + text.str[29:]
    return [None if not isinstance(v, str) else v for v in iso.tolist()]


def clock_or_elapsed(seconds: float, start_time: datetime | None, tz: tzinfo | None = None) -> str:
    """How people read a time inside a recording: its lab clock time, else the time since its start.

    >>> tz = lab_timezone("Europe/Berlin")
    >>> clock_or_elapsed(1338.0, datetime(2024, 10, 17, 22, 18, 49), tz), clock_or_elapsed(1338.0, None)
    ('22:41:07', '+0:22:18')
    >>> clock_or_elapsed(7200.0, datetime(2024, 10, 27, 1, 30), tz)   # across the change to winter time
    '02:30:00'
    """
    start = recording_start(start_time, tz)
    if start is None:
        return format_elapsed(seconds)
    if not np.isfinite(seconds):
        return MISSING
    return format_clock(start.astimezone(UTC) + timedelta(seconds=float(seconds)), tz=tz)
