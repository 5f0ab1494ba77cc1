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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DeviceDataError, NoDataError
from ...recording import Recording
from ..lab_text import MIN_DURATION_S

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
    "read_oximetry",
    "read_header",
    "EdfHeader",
    "OXIMETRY_COLUMNS",
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
OXIMETRY_COLUMNS = {"SpO2": "spo2_pct", "Pulse": "pulse_bpm"}
"""SAD/SA2 channel (label without its ``.1s`` suffix) -> column name."""
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


@dataclass(frozen=True)
class EdfHeader:
    """What an EDF file's header says, read from its raw bytes (no data read).

    Attributes
    ----------
    start : datetime
        Start of the recording (EDF+ ``Startdate dd-MMM-yyyy`` where given,
        else the legacy ``dd.mm.yy`` field; yy 85-99 -> 19yy, else 20yy).
    announced_records : int
        The header's data-record count (-1: the writer never closed the file).
    records : int
        Complete data records the file holds.
    record_duration_s : float
        Seconds per data record (0 for annotation-only files).
    labels : tuple of str
        Signal labels.
    recording_field : str
        The local recording identification (ResMed: ``SRN=... MID=... VID=...``).
    """

    start: datetime
    announced_records: int
    records: int
    record_duration_s: float
    labels: tuple[str, ...]
    recording_field: str

    @property
    def duration_s(self) -> float:
        """Seconds of data in the file."""
        return self.records * self.record_duration_s

    @property
    def device(self) -> dict[str, str]:
        """Serial number, model and variant from a ResMed recording field."""
        info: dict[str, str] = {}
        keys = {"SRN": "serial_number", "MID": "model_id", "VID": "variant_id"}
        for token in self.recording_field.split():
            key, _, value = token.partition("=")
            if key in keys and value:
                info[keys[key]] = value
        return info


_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}


def _header_start(recording_field: str, raw_date: str, raw_time: str) -> datetime:
    hour, minute, second = (int(x) for x in raw_time.split("."))
    parts = recording_field.split()
    if len(parts) > 1 and parts[0] == "Startdate":
        day, _, rest = parts[1].partition("-")
        month, _, year = rest.partition("-")
        if day.isdigit() and month.upper() in _MONTHS and year.isdigit() and len(year) == 4:
            return datetime(int(year), _MONTHS[month.upper()], int(day), hour, minute, second)
    d, m, y = (int(x) for x in raw_date.split("."))
    return datetime(y + (1900 if y >= 85 else 2000), m, d, hour, minute, second)


def read_header(path: str | Path) -> EdfHeader:
    """Read an EDF file's header; raise DeviceDataError for anything wrong with it.

    Cheap (reads the header bytes only): a whole card is indexed with it.

    Raises
    ------
    DeviceDataError
        Missing, not EDF, corrupt header, or fewer data records than announced.

    Examples
    --------
    >>> import tempfile, pathlib, datetime, numpy as np, edfio
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "20241018_055256_BRP.edf"
    >>> edfio.Edf([edfio.EdfSignal(np.zeros(3000), 25, label="Flow.40ms", physical_range=(-2, 3))],
    ...           starttime=datetime.time(5, 52, 56), recording=edfio.Recording(startdate=datetime.date(2024, 10, 18))).write(p)
    >>> h = read_header(p)
    >>> str(h.start), h.records, h.duration_s, h.labels
    ('2024-10-18 05:52:56', 120, 120.0, ('Flow.40ms',))
    """
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise DeviceDataError("is a directory, not an EDF file", file=name)
        with open(path, "rb") as handle:
            head = handle.read(256)
            if len(head) < 256:
                raise DeviceDataError(f"truncated: {size} bytes, shorter than an EDF header (256 bytes)", file=name)
            if head[:8] != b"0       ":
                raise DeviceDataError("not an EDF file (the header does not start with version '0')", file=name)
            fields = head.decode("ascii")
            ns = int(fields[252:256])
            signals = handle.read(256 * ns).decode("latin-1")
    except DeviceDataError:
        raise
    except FileNotFoundError:
        raise DeviceDataError("file not found", file=name) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise DeviceDataError(f"corrupt EDF header ({exc})", file=name) from None
    except OSError as exc:
        raise DeviceDataError(f"cannot be read ({exc.strerror})", file=name) from None
    try:
        if ns < 0 or len(signals) < 256 * ns:
            raise ValueError(f"{ns} signals announced, header cut short")
        recording_field = fields[88:168].strip()
        start = _header_start(recording_field, fields[168:176], fields[176:184])
        announced = int(fields[236:244])
        record_s = float(fields[244:252])
        labels = tuple(signals[16 * i : 16 * (i + 1)].strip() for i in range(ns))
        offset = 216 * ns
        per_record = sum(int(signals[offset + 8 * i : offset + 8 * (i + 1)]) for i in range(ns))
    except ValueError as exc:
        raise DeviceDataError(f"corrupt EDF header ({exc})", file=name) from None
    data_bytes = max(size - 256 * (ns + 1), 0)
    records = data_bytes // (2 * per_record) if per_record > 0 else 0
    if announced >= 0 and records < announced:
        raise DeviceDataError(
            f"truncated or corrupt: the header announces {announced} data records "
            f"but the file holds {records} complete ones",
            file=name,
        )
    if announced >= 0:
        records = announced
    return EdfHeader(start, announced, records, record_s, labels, recording_field)


def _open_edf(path: str | Path):
    """Read an EDF file with edfio; raise DeviceDataError for anything wrong with it.

    A header with no data records (0, or -1 and nothing written: an aborted
    session) raises :class:`~cpap_lib.errors.NoDataError`.  A file announcing
    -1 records (never closed) with data in it is read as far as it goes.
    """
    import edfio

    header = read_header(path)
    name = str(path)
    if header.records == 0:
        never_closed = " (-1 announced: the file was never closed)" if header.announced_records < 0 else ""
        raise NoDataError(f"holds no data: a header and 0 data records{never_closed}", file=name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # record-count mismatches are checked above
        try:
            edf = edfio.read_edf(path, lazy_load_data=True)
        except (ValueError, IndexError, KeyError, UnicodeDecodeError, OverflowError) as exc:
            raise DeviceDataError(f"corrupt EDF file ({exc})", file=name) from None
        except OSError as exc:
            raise DeviceDataError(f"cannot be read ({exc})", file=name) from None
    if header.announced_records < 0:
        log.info("%s: never closed (-1 data records announced); %d complete records read", name, header.records)
    return edf, header


def _signal(edf, label: str, name: str, header: EdfHeader | None = None):
    for sig in edf.signals:
        if sig.label.strip().lower() == label.lower():
            return sig
    labels = ", ".join(s.label for s in edf.signals)
    if header is not None and not header.device:
        raise DeviceDataError(
            f"not a ResMed EDF file (expected a ResMed *_BRP.edf: a recording field with SRN=<serial> and a "
            f"{label!r} channel; this file's channels: {labels or 'none'})",
            file=name,
        )
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
    NoDataError
        A header without data (an aborted session), or less flow than a
        breath (:data:`~cpap_lib.io.lab_text.MIN_DURATION_S`, the lab reader's limit too).
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
    edf, header = _open_edf(path)
    start = header.start
    flow_sig = _signal(edf, FLOW_LABEL, name, header)
    fs = float(flow_sig.sampling_frequency)
    if fs <= 0:
        raise DeviceDataError(f"{FLOW_LABEL} has no samples", file=name)
    flow = np.asarray(flow_sig.data, dtype=np.float64)
    if flow.size / fs < MIN_DURATION_S:
        raise NoDataError(
            f"holds {flow.size / fs:g} s of flow; too short to hold a breath (at least {MIN_DURATION_S:g} s)", file=name
        )
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
        "device": header.device,
        "session": path.stem.rsplit("_", 1)[0] if stamp else path.stem,
        "edf_start_time": start.isoformat(),
        "data_record_duration_s": header.record_duration_s,
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
    return _EMPTY_EVENTS.copy()


_EMPTY_EVENTS = pd.DataFrame(
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
    edf, header = _open_edf(path)
    start = header.start
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
    return _read_channels(path, TREND_COLUMNS)


def read_oximetry(path: str | Path) -> pd.DataFrame:
    """Read the oximeter's 1 Hz channels from a ``*_SAD.edf`` (AirSense 10) or ``*_SA2.edf`` (AirSense 11).

    Returns
    -------
    DataFrame
        ``time_s``, ``time`` and ``spo2_pct`` (%), ``pulse_bpm`` (beats/min):
        NaN where the device marked the sample invalid (it writes -1, below
        the channel's physical minimum, when no oximeter is connected or it
        lost contact; 0 and below are never valid SpO2 or pulse either).
        Without an oximeter every value is NaN.

    Examples
    --------
    >>> import tempfile, pathlib, datetime, numpy as np, edfio
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "20241018_055256_SA2.edf"
    >>> spo2 = np.r_[np.full(30, 96.0), np.full(30, -1.0)]
    >>> edfio.Edf([edfio.EdfSignal(spo2, 1, label="SpO2.1s", physical_dimension="%",
    ...                          physical_range=(-1, 100), digital_range=(-1, 100))],
    ...           starttime=datetime.time(5, 52, 56), recording=edfio.Recording(startdate=datetime.date(2024, 10, 18))).write(p)
    >>> ox = read_oximetry(p)
    >>> float(ox.spo2_pct.iloc[0]), bool(np.isnan(ox.spo2_pct.iloc[-1])), ox.attrs["units"]["spo2_pct"]
    (96.0, True, '%')
    """
    return _read_channels(path, OXIMETRY_COLUMNS, below_min_invalid=True)


def _read_channels(path: str | Path, names: dict[str, str], *, below_min_invalid: bool = False) -> pd.DataFrame:
    """The file's channels at its common rate as a frame (``time_s``, ``time``, one column each).

    ``attrs``: ``start_time``, ``source`` and ``units`` (column -> the EDF
    physical dimension).  Channels at another rate (the CRC) are skipped.
    """
    path = Path(path)
    edf, header = _open_edf(path)
    start = header.start
    columns: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    fs_used: float | None = None
    for sig in edf.signals:
        label = sig.label.strip()
        if label.lower() in _SKIP_SIGNALS or sig.sampling_frequency <= 0:
            continue
        fs = float(sig.sampling_frequency)
        if fs_used is None:
            fs_used = fs
        elif fs != fs_used:
            log.info("%s: %s at %g Hz skipped (channels at %g Hz)", path, label, fs, fs_used)
            continue
        base = label.rsplit(".", 1)[0] if "." in label else label
        key = names.get(base, base)
        values = np.asarray(sig.data, dtype=np.float64)
        if below_min_invalid:
            values = np.where((values < float(sig.physical_min)) | (values <= 0), np.nan, values)
        columns[key] = values
        units[key] = sig.physical_dimension.strip()
    if fs_used is None:
        raise DeviceDataError("no data channels", file=str(path))
    n = min(len(v) for v in columns.values())
    time_s = np.arange(n, dtype=np.float64) / fs_used
    times = np.datetime64(start, "us") + (time_s * 1e6).astype("timedelta64[us]")
    frame = pd.DataFrame({"time_s": time_s, "time": times, **{key: values[:n] for key, values in columns.items()}})
    frame.attrs["start_time"] = start
    frame.attrs["source"] = path.name
    frame.attrs["units"] = units
    return frame
