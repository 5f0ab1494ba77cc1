"""One entry point for every kind of recording a user can point us at.

:func:`read_recording` dispatches on what ``path`` is:

============================================  ======================================
lab text file (``.txt``, ``.csv``, not EDF)    :func:`cpap_lib.io.lab_text.read_lab_file`; a text
                                               file in another format: "not the lab's
                                               venturi format (expected header ...)"
``*_BRP.edf`` (ResMed flow + pressure, 25 Hz)  :func:`cpap_lib.io.resmed.read_brp`
other ResMed ``.edf`` (PLD, EVE, CSL, SAD,     error: these hold no flow; says which do
SA2, STR)
an EDF file of another maker                   error: "not a ResMed EDF file (expected ...)"
``DATALOG/<date>/`` folder                     the whole night, sessions concatenated,
                                               gaps kept as gaps in ``time_s``
SD-card root (has ``DATALOG/``)                its night, if it holds exactly one; with
                                               several nights, an error listing them
                                               (``cpap-lab analyze CARD`` reads them all,
                                               :func:`cpap_lib.io.resmed.read_card`)
============================================  ======================================

:func:`read_device_data` does the same for device data but keeps the device's
own events and trends (a :class:`~cpap_lib.io.resmed.DeviceSession` or
:class:`~cpap_lib.io.resmed.DeviceNight`), for :mod:`cpap_lib.analysis.compare`.

Examples
--------
>>> import tempfile, pathlib
>>> from cpap_lib.io import read_recording
>>> p = pathlib.Path(tempfile.mkdtemp()) / "night.txt"
>>> _ = p.write_text("Time [s],a,b,c,d,e,f\\n" + "".join(
...     f"{i / 100:.2f},5000,{5021 if i % 200 < 100 else 1638},"
...     f"{1638 if i % 200 < 100 else 5021},5000,5000,1638\\n" for i in range(1000)))
>>> read_recording(p).fs_hz
100.0
>>> read_recording(p.parent)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cpap_lib.errors.DeviceDataError: ...: a folder, but neither a ResMed DATALOG/<date> folder nor a card root ...
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DeviceDataError, RecordingError
from ..recording import Recording
from . import resmed as edf
from .lab_text import read_lab_file

__all__ = ["read_recording", "read_device_data", "FLOW_HINT", "VENTURI_HEADER", "check_lab_format"]

FLOW_HINT = "flow is in the *_BRP.edf files; pass a *_BRP.edf file, a DATALOG/<date> folder or the SD-card root"


VENTURI_HEADER = "Time [s], V1-P2, V1-P1-Ins, V1-P1-Exp, V2-P2, V2-P1-Ins, V2-P1-Exp"
"""The header line of the lab's venturi text files."""
_SNIFF_LINES = 50


def check_lab_format(path: str | os.PathLike) -> None:
    """Refuse a text file that is not the lab's venturi format, naming what was expected.

    The file passes if any of its first lines has the format's seven
    comma-separated fields (the reader then judges every row and reports the
    bad ones); a file in another format (another maker's export, a
    semicolon- or tab-separated table) gets a sentence instead of "no valid
    data rows".  Empty and binary files are left to the reader, which names
    them.

    Raises
    ------
    RecordingError
        None of the first lines looks like the venturi format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "oscar.csv"
    >>> _ = p.write_text("Date;Session;AHI\\n2024-10-17;1;0.3\\n")
    >>> check_lab_format(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cpap_lib.errors.RecordingError: ...oscar.csv: not the lab's venturi format (expected header 'Time [s], V1-P2, ...
    """
    name = str(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536)
    except OSError:
        return  # the reader names it
    if not head.strip() or b"\x00" in head[:4096]:
        return
    lines = [line for line in head.splitlines()[:_SNIFF_LINES] if line.strip()]
    if any(line.count(b",") == 6 for line in lines):
        return
    first = lines[0].decode("latin-1").strip()
    first = first if len(first) <= 60 else first[:57] + "..."
    raise RecordingError(
        f"not the lab's venturi format (expected header '{VENTURI_HEADER}' and seven comma-separated numbers "
        f"per row; the file starts {first!r}); ResMed data: {FLOW_HINT}",
        file=name,
    )


def _read_night(path: Path) -> edf.DeviceNight:
    """The night of a folder path: a DATALOG/<date> folder, or a card root holding one night."""
    if edf.is_card_root(path):
        card = edf.read_card(path)
        if not card.nights:
            raise DeviceDataError("the card holds no DATALOG/<date> folder with flow data", file=str(path))
        if len(card.nights) > 1:
            names = ", ".join(n.day.isoformat() for n in card.nights)
            raise DeviceDataError(
                f"the card holds {len(card.nights)} nights ({names}); pick one (cpap-lab analyze CARD --night DAY) "
                "or pass one DATALOG/<date> folder",
                file=str(path),
            )
        return card.read(card.nights[0])
    if edf.find_sessions(path):
        return edf.read_datalog(path)
    raise DeviceDataError(
        "a folder, but neither a ResMed DATALOG/<date> folder nor a card root (no *_BRP.edf, no DATALOG/)",
        file=str(path),
    )


def _check_flow_file(path: Path) -> None:
    stamp = edf.session_stamp(path)
    if stamp is not None and stamp[1] != "BRP":
        raise DeviceDataError(f"a ResMed {stamp[1]} file holds no flow signal; {FLOW_HINT}", file=str(path))
    if stamp is None and path.name.upper() == "STR.EDF":
        raise DeviceDataError(f"STR.edf is the device's daily summary and holds no flow; {FLOW_HINT}", file=str(path))


def read_recording(path: str | os.PathLike) -> Recording:
    """Read a lab text file, a ResMed BRP file, a DATALOG night folder or a card root.

    Parameters
    ----------
    path : path
        See the module docstring for what each kind of path yields.

    Returns
    -------
    Recording

    Raises
    ------
    RecordingError
        The file cannot be read (``DeviceDataError`` for device data); the
        message names the file and the reason.
    """
    path = Path(path)
    if path.is_dir():
        return _read_night(path).recording
    if not path.exists():
        raise RecordingError("file not found", file=str(path))
    if path.suffix.lower() == ".edf" or edf.is_edf_file(path):
        _check_flow_file(path)
        return edf.read_brp(path)
    check_lab_format(path)
    return read_lab_file(path)


def read_device_data(path: str | os.PathLike) -> edf.DeviceSession | edf.DeviceNight:
    """Read device data with the device's own events and trends.

    A ``*_BRP.edf`` file gives its :class:`~cpap_lib.io.resmed.DeviceSession`; a
    ``DATALOG/<date>`` folder or a one-night card root its
    :class:`~cpap_lib.io.resmed.DeviceNight`.

    Raises
    ------
    DeviceDataError
        ``path`` is not device data (a lab text file, a non-flow EDF file, an
        unrelated folder), or a file is corrupt.
    """
    path = Path(path)
    if path.is_dir():
        return _read_night(path)
    if not path.exists():
        raise DeviceDataError("file not found", file=str(path))
    if not (path.suffix.lower() == ".edf" or edf.is_edf_file(path)):
        raise DeviceDataError(f"not device data (EDF); {FLOW_HINT}", file=str(path))
    _check_flow_file(path)
    return edf.read_session(path)
