"""ResMed SD-card data (EDF / EDF+) -> recordings, device events and trends.

A ResMed AirSense card holds ``DATALOG/<YYYYMMDD>/`` folders (one per night,
noon to noon) with several files per mask-on session, named
``<YYYYMMDD>_<HHMMSS>_<KIND>.edf``:

=======  ==========================================================
BRP      ``Flow.40ms`` (L/s) and ``Press.40ms`` (cmH2O) at 25 Hz
PLD      0.5 Hz trends: RespRate, TidVol, MinVent, Leak, pressures
SA2      oximetry (pulse, SpO2; may be empty)
EVE/CSL  EDF+D annotations scored by the device (apneas, hypopneas)
=======  ==========================================================

The annotation files of a session start a few seconds before its BRP/PLD files,
so everything is aligned by absolute (wall-clock) time.  The device stamps an
event when it *ends*: the annotation's onset is the moment of scoring and the
event fills the ``duration`` seconds before it (on the reference night both
apneas' flat flow ends within a second of the stamp, and the flow after the
stamp is normal breathing).  :class:`DeviceSession` therefore gives each event
the span ``[onset - duration, onset]`` in ``start_s`` / ``end_s``.  Files are read with
:mod:`edfio`; a truncated or corrupt file raises
:class:`~cpap_lib.errors.DeviceDataError` naming the file and the reason.

Examples
--------
>>> from cpap_lib.io.resmed import event_kind, session_stamp
>>> event_kind("OBSTRUCTIVE APNEA"), event_kind("Hypopnea"), event_kind("Apnea")
('obstructive_apnea', 'hypopnea', 'apnea')
>>> session_stamp("20241018_055256_BRP.edf")
(datetime.datetime(2024, 10, 18, 5, 52, 56), 'BRP')
"""

from __future__ import annotations

import logging
import re
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DeviceDataError
from ...recording import Recording

__all__ = [
    "EVENT_KINDS",
    "TREND_COLUMNS",
    "EVENT_COLUMNS",
    "FLOW_LABEL",
    "PRESSURE_LABEL",
    "event_kind",
    "session_stamp",
    "is_edf_file",
    "read_brp",
    "read_events",
    "read_trends",
]

log = logging.getLogger(__name__)

FLOW_LABEL = "Flow.40ms"
PRESSURE_LABEL = "Press.40ms"
EVENT_KINDS = ("obstructive_apnea", "central_apnea", "apnea", "hypopnea", "arousal", "other")
"""Normalized ``kind`` values of device events."""
_EVENT_LABELS = {
    "obstructive apnea": "obstructive_apnea",
    "obstructive apnoea": "obstructive_apnea",
    "central apnea": "central_apnea",
    "central apnoea": "central_apnea",
    "clear airway": "central_apnea",
    "apnea": "apnea",
    "apnoea": "apnea",
    "unclassified apnea": "apnea",
    "apnea (unclassified)": "apnea",
    "hypopnea": "hypopnea",
    "hypopnoea": "hypopnea",
    "arousal": "arousal",
    "rera": "arousal",
}
_MARKER_LABELS = {"recording starts", "recording ends"}
"""Bookkeeping annotations the device writes into every EVE/CSL file; dropped."""
TREND_COLUMNS = {
    "MaskPress": "mask_pressure_cmh2o",
    "Press": "pressure_cmh2o",
    "EprPress": "epr_pressure_cmh2o",
    "Leak": "leak_lps",
    "RespRate": "resp_rate_bpm",
    "TidVol": "tidal_volume_l",
    "MinVent": "minute_ventilation_lpm",
    "Snore": "snore",
    "FlowLim": "flow_limitation",
    "TgtVent": "target_ventilation_lpm",
    "IERatio": "ie_ratio",
    "Ti": "inspiratory_time_s",
}
"""PLD channel (label without its ``.2s`` period suffix) -> trend column name."""
COMPANION_TOLERANCE_S = 60.0
"""A session's PLD/SA2/EVE/CSL files start at most this far from its BRP file."""
_STAMP = re.compile(r"^(\d{8})_(\d{6})_([A-Za-z0-9]+)\.edf$", re.IGNORECASE)
_SKIP_SIGNALS = {"crc16"}

EVENT_COLUMNS = ("kind", "label", "onset_s", "duration_s", "start_time", "source")


def event_kind(label: str) -> str:
    """Normalize a device event label to one of :data:`EVENT_KINDS` (case-insensitive).

    Examples
    --------
    >>> event_kind("central apnea"), event_kind("Arousal"), event_kind("CSR")
    ('central_apnea', 'arousal', 'other')
    """
    return _EVENT_LABELS.get(" ".join(label.lower().split()), "other")


def session_stamp(path: str | Path) -> tuple[datetime, str] | None:
    """Start time and kind encoded in a ResMed file name, or None if it is not one.

    Examples
    --------
    >>> session_stamp("20241017_221843_eve.edf")[1]
    'EVE'
    >>> session_stamp("STR.edf") is None
    True
    """
    match = _STAMP.match(Path(path).name)
    if not match:
        return None
    try:
        when = datetime.strptime(match[1] + match[2], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return when, match[3].upper()


def is_edf_file(path: str | Path) -> bool:
    """True if the file starts like an EDF header (version field ``"0       "``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_text("Time [s],a,b")
    >>> is_edf_file(p)
    False
    """
    try:
        with open(path, "rb") as handle:
            return handle.read(8) == b"0       "
    except OSError:
        return False


# ---------------------------------------------------------------- EDF opening


def _open_edf(path: str | Path):
    """Read an EDF file with edfio; raise DeviceDataError for anything wrong with it."""
    import edfio

    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DeviceDataError("file not found", file=name) from None
    except OSError as exc:
        raise DeviceDataError(f"cannot be read ({exc.strerror})", file=name) from None
    if path.is_dir():
        raise DeviceDataError("is a directory, not an EDF file", file=name)
    if size < 256:
        raise DeviceDataError(f"truncated: {size} bytes, shorter than an EDF header (256 bytes)", file=name)
    if not is_edf_file(path):
        raise DeviceDataError("not an EDF file (the header does not start with version '0')", file=name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            edf = edfio.read_edf(path, lazy_load_data=True)
            start = _start_datetime(edf)
        except (ValueError, IndexError, KeyError, UnicodeDecodeError, OverflowError) as exc:
            raise DeviceDataError(f"corrupt EDF header ({exc})", file=name) from None
        except OSError as exc:
            raise DeviceDataError(f"cannot be read ({exc})", file=name) from None
    problems = [str(w.message) for w in caught if "record" in str(w.message)]
    if problems:
        found = re.search(r"indicates (\d+) data records, but file contains (\d+)", " ".join(problems))
        if found:
            reason = (
                f"truncated or corrupt: the header announces {found[1]} data records "
                f"but the file holds {found[2]} complete ones"
            )
        else:
            reason = "truncated or corrupt: " + "; ".join(problems)
        raise DeviceDataError(reason, file=name)
    for w in caught:
        log.info("%s: %s", name, w.message)
    return edf, start


def _start_datetime(edf) -> datetime:
    """The recording start, tolerating anonymized or non-standard EDF+ date fields."""
    import edfio

    try:
        return edf.startdatetime
    except (edfio.AnonymizedDateError, ValueError):
        pass
    # the legacy dd.mm.yy / hh.mm.ss fields (EDF spec: yy 85-99 -> 19yy, else 20yy)
    raw_date = edf._startdate.decode("ascii", "replace")
    raw_time = edf._starttime.decode("ascii", "replace")
    day, month, year = (int(x) for x in raw_date.split("."))
    hour, minute, second = (int(x) for x in raw_time.split("."))
    return datetime(year + (1900 if year >= 85 else 2000), month, day, hour, minute, second)


def _device_info(edf) -> dict[str, str]:
    """Serial number, model and variant from a ResMed recording-identification field."""
    info: dict[str, str] = {}
    keys = {"SRN": "serial_number", "MID": "model_id", "VID": "variant_id"}
    for token in edf.local_recording_identification.split():
        key, _, value = token.partition("=")
        if key in keys and value:
            info[keys[key]] = value
    return info


def _signal(edf, label: str, name: str):
    for sig in edf.signals:
        if sig.label.strip().lower() == label.lower():
            return sig
    labels = ", ".join(s.label for s in edf.signals)
    raise DeviceDataError(f"no {label!r} channel (channels: {labels})", file=name)


# ---------------------------------------------------------------- single files


def read_brp(path: str | Path) -> Recording:
    """Read a ``*_BRP.edf`` file: 25 Hz flow and pressure of one session.

    Parameters
    ----------
    path : path
        The BRP file.

    Returns
    -------
    Recording
        ``flow_lps`` from ``Flow.40ms`` (L/s, positive on inspiration),
        ``pressure_cmh2o`` from ``Press.40ms``, ``time_s`` from 0 at
        ``start_time`` (the EDF header's start), ``source`` the file name and
        ``meta`` with the device's serial number, model and session stamp.

    Raises
    ------
    DeviceDataError
        Missing, truncated or corrupt file, or no flow channel.

    Examples
    --------
    >>> import tempfile, pathlib, datetime, numpy as np, edfio
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "20241018_055256_BRP.edf"
    >>> flow = 0.4 * np.sin(2 * np.pi * np.arange(1500) / 100)
    >>> edfio.Edf([edfio.EdfSignal(flow, 25, label="Flow.40ms", physical_range=(-2, 3)),
    ...            edfio.EdfSignal(np.full(1500, 8.0), 25, label="Press.40ms", physical_range=(0, 40))],
    ...           starttime=datetime.time(5, 52, 56), recording=edfio.Recording(startdate=datetime.date(2024, 10, 18))).write(p)
    >>> rec = read_brp(p)
    >>> rec.fs_hz, rec.samples, str(rec.start_time), rec.source
    (25.0, 1500, '2024-10-18 05:52:56', '20241018_055256_BRP.edf')
    """
    path = Path(path)
    name = str(path)
    edf, start = _open_edf(path)
    flow_sig = _signal(edf, FLOW_LABEL, name)
    fs = float(flow_sig.sampling_frequency)
    if fs <= 0:
        raise DeviceDataError(f"{FLOW_LABEL} has no samples", file=name)
    flow = np.asarray(flow_sig.data, dtype=np.float64)
    if flow.size < 2:
        raise DeviceDataError(f"{FLOW_LABEL} holds {flow.size} samples; too short to hold a breath", file=name)
    pressure = None
    try:
        press_sig = _signal(edf, PRESSURE_LABEL, name)
    except DeviceDataError:
        press_sig = None
    if press_sig is not None and float(press_sig.sampling_frequency) == fs:
        pressure = np.asarray(press_sig.data, dtype=np.float64)
    stamp = session_stamp(path)
    meta: dict[str, Any] = {
        "format": "resmed-edf",
        "file": name,
        "device": _device_info(edf),
        "session": path.stem.rsplit("_", 1)[0] if stamp else path.stem,
        "edf_start_time": start.isoformat(),
        "data_record_duration_s": float(edf.data_record_duration),
    }
    return Recording(
        time_s=np.arange(flow.size, dtype=np.float64) / fs,
        flow_lps=flow,
        fs_hz=fs,
        source=path.name,
        pressure_cmh2o=pressure,
        start_time=start,
        meta=meta,
    )


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": pd.Series(dtype=object),
            "label": pd.Series(dtype=object),
            "onset_s": pd.Series(dtype=np.float64),
            "duration_s": pd.Series(dtype=np.float64),
            "start_time": pd.Series(dtype="datetime64[us]"),
            "source": pd.Series(dtype=object),
        }
    )


def read_events(path: str | Path) -> pd.DataFrame:
    """Read the device's own scoring from a ``*_EVE.edf`` or ``*_CSL.edf`` file.

    Returns
    -------
    DataFrame
        One row per event, in time order: ``kind`` (one of
        :data:`EVENT_KINDS`, from the label matched case-insensitively),
        ``label`` (the device's text), ``onset_s`` and ``duration_s`` (seconds,
        relative to this annotation file's own start), the absolute time of
        the annotation ``start_time`` (file start + onset), and ``source``
        (file name).  Values are as the device wrote them (it stamps an event
        when the event ends; see the module docstring).  The bookkeeping
        annotation "Recording starts" is dropped.

    Examples
    --------
    >>> import tempfile, pathlib, datetime, edfio
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "20241018_055249_EVE.edf"
    >>> edf = edfio.Edf([], annotations=[edfio.EdfAnnotation(0, 0, "Recording starts"),
    ...     edfio.EdfAnnotation(3704, 10, "Obstructive Apnea")],
    ...     starttime=datetime.time(5, 52, 49), recording=edfio.Recording(startdate=datetime.date(2024, 10, 18)))
    >>> edf.write(p)
    >>> ev = read_events(p)
    >>> ev[["kind", "onset_s", "duration_s"]].to_dict("records")
    [{'kind': 'obstructive_apnea', 'onset_s': 3704.0, 'duration_s': 10.0}]
    >>> str(ev.start_time[0])
    '2024-10-18 06:54:33'
    """
    path = Path(path)
    edf, start = _open_edf(path)
    rows = [
        (event_kind(a.text), a.text.strip(), float(a.onset), float(a.duration or 0.0))
        for a in edf.annotations
        if " ".join(a.text.lower().split()) not in _MARKER_LABELS
    ]
    if not rows:
        return _empty_events()
    frame = pd.DataFrame(rows, columns=["kind", "label", "onset_s", "duration_s"])
    base = pd.Timestamp(start)
    frame["start_time"] = (base + pd.to_timedelta(frame["onset_s"], unit="s")).astype("datetime64[us]")
    frame["source"] = path.name
    return frame.sort_values("onset_s", kind="stable").reset_index(drop=True)


def read_trends(path: str | Path) -> pd.DataFrame:
    """Read the device's 0.5 Hz trend channels from a ``*_PLD.edf`` file.

    Returns
    -------
    DataFrame
        ``time_s`` (seconds from this file's start), ``time`` (absolute), and
        one column per channel named by :data:`TREND_COLUMNS`
        (``resp_rate_bpm``, ``tidal_volume_l``, ``minute_ventilation_lpm``,
        ``leak_lps``, ``mask_pressure_cmh2o``, ``pressure_cmh2o``,
        ``epr_pressure_cmh2o``, ``snore``, ``flow_limitation``); unknown
        channels keep their label.  The device writes 0 for rate and volume
        while it has no breath to measure.  ``attrs["start_time"]`` is the
        file's start.

    Examples
    --------
    >>> import tempfile, pathlib, datetime, numpy as np, edfio
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "20241018_055256_PLD.edf"
    >>> edfio.Edf([edfio.EdfSignal(np.full(30, 15.0), 0.5, label="RespRate.2s", physical_range=(0, 90))],
    ...           starttime=datetime.time(5, 52, 56), recording=edfio.Recording(startdate=datetime.date(2024, 10, 18))).write(p)
    >>> tr = read_trends(p)
    >>> list(tr.columns), float(tr.time_s.iloc[1]), round(float(tr.resp_rate_bpm.iloc[0]), 2)
    (['time_s', 'time', 'resp_rate_bpm'], 2.0, 15.0)
    """
    path = Path(path)
    edf, start = _open_edf(path)
    columns: dict[str, np.ndarray] = {}
    fs_used: float | None = None
    for sig in edf.signals:
        label = sig.label.strip()
        if label.lower() in _SKIP_SIGNALS or sig.sampling_frequency <= 0:
            continue
        fs = float(sig.sampling_frequency)
        if fs_used is None:
            fs_used = fs
        elif fs != fs_used:
            log.info("%s: %s at %g Hz skipped (trends at %g Hz)", path, label, fs, fs_used)
            continue
        base = label.rsplit(".", 1)[0] if "." in label else label
        columns[TREND_COLUMNS.get(base, base)] = np.asarray(sig.data, dtype=np.float64)
    if fs_used is None:
        raise DeviceDataError("no trend channels", file=str(path))
    n = min(len(v) for v in columns.values())
    time_s = np.arange(n, dtype=np.float64) / fs_used
    frame = pd.DataFrame({"time_s": time_s})
    frame["time"] = (pd.Timestamp(start) + pd.to_timedelta(time_s, unit="s")).astype("datetime64[us]")
    for key, values in columns.items():
        frame[key] = values[:n]
    frame.attrs["start_time"] = start
    frame.attrs["source"] = path.name
    return frame
