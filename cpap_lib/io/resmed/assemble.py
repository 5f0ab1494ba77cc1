"""Build SD cards from real nights: copy a night under a new date (for tests and benchmarks).

A ResMed night moved to another day must change in three places: the file
names' stamps, each EDF header's legacy ``dd.mm.yy`` start date and its EDF+
``Startdate dd-MMM-yyyy`` field.  :func:`copy_night` shifts all three by the
same number of days (times of day unchanged), so the copy reads as the same
night on its new sleep day.

Examples
--------
>>> shift_stamp("20241018_021408_BRP.edf", 3)
'20241021_021408_BRP.edf'
>>> import tempfile
>>> from cpap_lib.paths import REPO_ROOT
>>> real = REPO_ROOT.parent / "shared" / "reference_data" / "resmed_airsense11"   # the shared card
>>> root = build_card(tempfile.mkdtemp(), [real / "DATALOG" / "20241017"] * 2, date(2024, 1, 1), identity=real)
>>> sorted(p.name for p in (root / "DATALOG").iterdir()), (root / "Identification.json").is_file()
(['20240101', '20240102'], True)
"""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

from ...errors import DeviceDataError
from .files import _MONTHS, read_header, session_stamp
from .nights import sleep_day

__all__ = ["build_card", "copy_night", "copy_card_files", "shift_stamp", "shift_header_date"]

_MONTH_NAMES = {v: k for k, v in _MONTHS.items()}


def shift_stamp(name: str, days: int) -> str:
    """A ResMed file name with its date stamp moved by ``days``."""
    stamp = session_stamp(name)
    if stamp is None:
        return name
    moved = stamp[0] + timedelta(days=days)
    return f"{moved:%Y%m%d_%H%M%S}" + name[15:]


def shift_header_date(header: bytes, days: int) -> bytes:
    """An EDF header (first 256 bytes or more) with both its start-date fields moved by ``days``."""
    out = bytearray(header)
    d, m, y = (int(x) for x in header[168:176].decode("ascii").split("."))
    legacy = date(y + (1900 if y >= 85 else 2000), m, d) + timedelta(days=days)
    out[168:176] = f"{legacy.day:02d}.{legacy.month:02d}.{legacy.year % 100:02d}".encode("ascii")
    match = re.match(r"Startdate (\d{2})-([A-Z]{3})-(\d{4})", header[88:168].decode("ascii", "replace"))
    if match and match[2] in _MONTHS:
        plus = date(int(match[3]), _MONTHS[match[2]], int(match[1])) + timedelta(days=days)
        token = f"Startdate {plus.day:02d}-{_MONTH_NAMES[plus.month]}-{plus.year}"
        out[88 : 88 + len(token)] = token.encode("ascii")
    return bytes(out)


def copy_night(folder: str | Path, card_root: str | Path, day: date) -> Path:
    """Copy a ``DATALOG/<date>`` folder into ``card_root/DATALOG/`` as the night of ``day``.

    Returns the new folder (``DATALOG/<YYYYMMDD>`` of ``day``).  Non-EDF files
    (``.crc``) are not copied.

    Raises
    ------
    DeviceDataError
        The folder holds no ``*_BRP.edf`` with a readable header.
    """
    folder = Path(folder)
    brps = sorted(folder.glob("*_[Bb][Rr][Pp].[Ee][Dd][Ff]"))
    if not brps:
        raise DeviceDataError("no *_BRP.edf file to copy", file=str(folder))
    first = read_header(brps[0]).start
    days = (day - sleep_day(first)).days
    target = Path(card_root) / "DATALOG" / f"{day:%Y%m%d}"
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.glob("*.[Ee][Dd][Ff]")):
        data = path.read_bytes()
        with open(target / shift_stamp(path.name, days), "wb") as out:
            out.write(shift_header_date(data[:256], days))
            out.write(data[256:])
    return target


def copy_card_files(card: str | Path, card_root: str | Path) -> None:
    """Copy a card's identification files (not its STR.edf or nights) to a new card root."""
    for name in ("Identification.json", "Identification.tgt"):
        src = Path(card) / name
        if src.is_file():
            Path(card_root).mkdir(parents=True, exist_ok=True)
            shutil.copy(src, Path(card_root) / name)


def build_card(
    card_root: str | Path,
    folders: list[Path] | tuple[Path, ...],
    first_day: date,
    *,
    identity: str | Path | None = None,
) -> Path:
    """A card of consecutive nights: ``folders[i]`` copied as the night of ``first_day + i`` days.

    ``identity`` (a card root) gives the new card its identification files;
    no ``STR.edf`` is written (the device's summary of the real days would not
    match the new dates). Returns ``card_root``.
    """
    root = Path(card_root)
    if identity is not None:
        copy_card_files(identity, root)
    for i, folder in enumerate(folders):
        copy_night(folder, root, first_day + timedelta(days=i))
    return root
