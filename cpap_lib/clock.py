"""Clock times in the lab's time zone, and the night a time belongs to.

The server stores times in UTC; people read clock times where the lab is.
The lab's zone is the IANA name in the environment variable ``CPAP_LAB_TZ``
(e.g. ``Europe/Berlin``); without it, the machine's local zone is used.

A *night* is named, as sleep labs do, by the date of the evening it began: a
clock time before :data:`NIGHT_STARTS_AT_HOUR` (noon) belongs to the previous
date's night, so 23:40 on 3 March and 02:10 on 4 March are both "the night of
3 March".

Examples
--------
>>> from datetime import datetime, timezone
>>> tz = lab_timezone("Europe/Berlin")
>>> t = datetime(2026, 3, 4, 1, 10, tzinfo=timezone.utc)   # 02:10 in Berlin
>>> to_lab_time(t, tz).strftime("%H:%M"), night_of(t, tz).isoformat()
('02:10', '2026-03-03')
>>> lab_timezone("Mars/Olympus")
Traceback (most recent call last):
...
cpap_lib.errors.ParameterError: CPAP_LAB_TZ: unknown time zone 'Mars/Olympus' (an IANA name such as Europe/Berlin)
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ParameterError

__all__ = ["LAB_TZ_ENV", "NIGHT_STARTS_AT_HOUR", "lab_timezone", "to_lab_time", "night_of", "zone_label"]

LAB_TZ_ENV = "CPAP_LAB_TZ"
"""Environment variable naming the lab's time zone (IANA name)."""
NIGHT_STARTS_AT_HOUR = 12
"""Clock hour (lab time) at which one night's date ends and the next begins."""


def lab_timezone(name: str | None = None) -> tzinfo:
    """The lab's time zone: ``name``, else ``$CPAP_LAB_TZ``, else the machine's local zone.

    Raises
    ------
    ParameterError
        If the name is not a known IANA time zone.
    """
    name = name if name is not None else os.environ.get(LAB_TZ_ENV, "")
    if not name.strip():
        return datetime.now().astimezone().tzinfo or timezone.utc
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
        when = when.replace(tzinfo=timezone.utc)
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
    moment = to_lab_time(when or datetime.now(timezone.utc), tz)
    return moment.tzname() or moment.strftime("%z")
