"""An SD card's root: the device's identity, its daily summary and its nights.

:func:`read_card` only indexes the card (file names and EDF headers, no
data), so a card of 100+ nights opens in well under a second; each night's
data is read when asked for (:meth:`DeviceCard.night`,
:meth:`DeviceCard.read_nights`).  Nights are the device's sleep days
(:func:`~.nights.sleep_day`, noon to noon, as ``STR.edf`` and OSCAR count
them), computed from each session's EDF header start; the ``DATALOG/<date>``
folder names are not trusted for the date (on the shared AirSense 10 card
they are a year off the headers and STR.edf).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from ...errors import DeviceDataError
from .files import read_header, session_stamp
from .nights import DeviceNight, read_night, sleep_day
from .sessions import SessionFiles, annotation_files, find_sessions, read_annotations
from .summary import read_summary

__all__ = ["DeviceCard", "NightIndex", "OVERVIEW_COLUMNS", "RESPIRATORY_KINDS", "read_card", "is_card_root"]

log = logging.getLogger(__name__)

RESPIRATORY_KINDS = ("obstructive_apnea", "central_apnea", "apnea", "hypopnea")
"""Device event kinds an AHI counts: apneas of every kind and hypopneas (not arousals, not CSR)."""
OVERVIEW_COLUMNS = ("day", "folder", "sessions", "flow_h", "device_ahi", "device_ahi_source")
"""Columns of :meth:`DeviceCard.overview`."""


@dataclass(frozen=True)
class NightIndex:
    """One night on a card, before its data are read.

    Attributes
    ----------
    day : date
        The sleep day.
    folder : Path
        Its ``DATALOG/<date>`` folder (the first, if it spans two).
    sessions : tuple of SessionFiles
        Its sessions (every ``*_BRP.edf``, aborted ones too), in time order.
    annotations : tuple of Path
        The EVE/CSL files whose annotations belong to the night.
    flow_s : float
        Seconds of flow announced by the BRP headers.
    """

    day: date
    folder: Path
    sessions: tuple[SessionFiles, ...]
    annotations: tuple[Path, ...]
    flow_s: float = 0.0

    @property
    def name(self) -> str:
        """The folder's name (``"20241017"``)."""
        return self.folder.name


@dataclass(frozen=True)
class DeviceCard:
    """An SD card's root: the device's identity and its nights (read on demand).

    Attributes
    ----------
    root : Path
    identification : dict
        ``product_name``, ``serial_number``, ``product_code`` from
        ``Identification.json`` (AirSense 11) or ``Identification.tgt``
        (AirSense 10 / AirCurve 10) where present.
    nights : tuple of NightIndex
        The nights holding a ``*_BRP.edf`` file, oldest first.
    """

    root: Path
    identification: dict = field(default_factory=dict)
    nights: tuple[NightIndex, ...] = ()

    @property
    def summary_path(self) -> Path:
        return self.root / "STR.edf"

    def summary(self) -> pd.DataFrame | None:
        """The device's daily summary (:func:`~.summary.read_summary`), None without STR.edf."""
        if not self.summary_path.is_file():
            return None
        return read_summary(self.summary_path)

    def overview(self) -> pd.DataFrame:
        """One row per night, oldest first, from the index, STR.edf and the EVE/CSL files (no flow is read).

        What a night picker shows before anything is opened. It reads STR.edf
        once, and the (small) annotation files only of the nights STR.edf does
        not hold: a card with its STR.edf costs one file, a 30-night card
        without one about 0.06 s a night (1.8 s, measured at load 9).

        Returns
        -------
        DataFrame
            Columns :data:`OVERVIEW_COLUMNS`: ``day`` (ISO sleep day),
            ``folder`` (the ``DATALOG/<date>`` name), ``sessions`` (BRP files,
            aborted ones too), ``flow_h`` (hours of flow the BRP headers
            announce), ``device_ahi`` and ``device_ahi_source``:

            - ``"STR.edf"``: the AHI the device wrote for the day in STR.edf
              (its apneas and hypopneas per hour of mask-on time, the figure
              the device and OSCAR show);
            - ``"EVE"``: where STR.edf does not hold the day, the device's
              events of :data:`RESPIRATORY_KINDS` in the night's EVE/CSL files
              (duplicates across files counted once) per hour of flow;
            - ``""``: unknown (``device_ahi`` NaN): no summary for the day and
              no event file, an event file that cannot be read, or no flow.

        Examples
        --------
        >>> from cpap_lib.paths import REPO_ROOT
        >>> card = read_card(REPO_ROOT.parent / "shared" / "reference_data" / "resmed_airsense11")
        >>> card.overview().round(2).to_dict("records")
        [{'day': '2024-10-17', 'folder': '20241017', 'sessions': 4, 'flow_h': 8.92, 'device_ahi': 0.3, 'device_ahi_source': 'STR.edf'}]
        """
        try:
            summary = self.summary()
        except DeviceDataError as exc:  # the summary is an extra, never a reason to fail the card
            log.info("%s: %s", self.summary_path, exc)
            summary = None
        rows = []
        for index in self.nights:
            flow_h = index.flow_s / 3600.0
            ahi, source = float("nan"), ""
            str_ahi = summary["ahi"].get(index.day) if summary is not None and "ahi" in summary else None
            if str_ahi is not None and str_ahi == str_ahi:
                ahi, source = float(str_ahi), "STR.edf"
            elif index.annotations and flow_h > 0:
                events, notes = read_annotations(index.annotations)
                if not any("cannot be read" in note for note in notes):
                    ahi, source = float(events["kind"].isin(RESPIRATORY_KINDS).sum()) / flow_h, "EVE"
            rows.append((index.day.isoformat(), index.name, len(index.sessions), flow_h, ahi, source))
        return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))

    def find(self, night: str | date | None = None) -> NightIndex:
        """The night for ``night``: an ISO day (``"2024-10-17"``), a date, a folder name
        (``"20241017"``) or None (the latest)."""
        if not self.nights:
            raise DeviceDataError("no DATALOG/<date> folder with flow data", file=str(self.root))
        if night is None:
            return self.nights[-1]
        key = night.isoformat() if isinstance(night, date) else str(night).strip()
        for index in self.nights:
            if key in (index.day.isoformat(), index.name):
                return index
        known = ", ".join(n.day.isoformat() for n in self.nights)
        raise DeviceDataError(f"no night {key!r} on the card (nights: {known})", file=str(self.root))

    def read(self, index: NightIndex) -> DeviceNight:
        """Read one indexed night's data (with its STR.edf summary)."""
        return read_night(
            index.sessions,
            index.annotations,
            folder=index.folder,
            source=index.day.isoformat(),
            summary_path=self.summary_path,
        )

    def night(self, night: str | date | None = None) -> DeviceNight:
        """Read one night (see :meth:`find` for ``night``); the latest if None."""
        return self.read(self.find(night))

    def read_nights(self) -> Iterator[tuple[NightIndex, DeviceNight | DeviceDataError]]:
        """Every night in order, read one at a time: ``(index, night)``, or ``(index, error)``
        for a night that cannot be read (every session aborted); never raises for one night."""
        for index in self.nights:
            try:
                yield index, self.read(index)
            except DeviceDataError as exc:
                yield index, exc


def _identification(root: Path) -> dict:
    json_path, tgt_path = root / "Identification.json", root / "Identification.tgt"
    if json_path.is_file():
        try:
            product = json.loads(json_path.read_text())["FlowGenerator"]["IdentificationProfiles"]["Product"]
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
            log.info("%s: unrecognized identification file", json_path)
            return {}
        keys = {"ProductName": "product_name", "SerialNumber": "serial_number", "ProductCode": "product_code"}
        return {ours: product[theirs] for theirs, ours in keys.items() if theirs in product}
    if tgt_path.is_file():
        fields = {}
        for line in tgt_path.read_text(errors="replace").splitlines():
            key, _, value = line.strip().partition(" ")
            if key.startswith("#") and value:
                fields[key[1:]] = value.strip()
        keys = {"PNA": "product_name", "SRN": "serial_number", "PCD": "product_code"}
        out = {ours: fields[theirs] for theirs, ours in keys.items() if theirs in fields}
        if "product_name" in out:
            out["product_name"] = out["product_name"].replace("_", " ")
        return out
    return {}


def is_card_root(path: str | Path) -> bool:
    """True if ``path`` looks like a ResMed card root (has a ``DATALOG`` folder)."""
    return (Path(path) / "DATALOG").is_dir()


def _session_day(files: SessionFiles) -> tuple[date, float]:
    """Sleep day (from the BRP header's start; the name stamp if the header is unreadable) and flow seconds."""
    try:
        header = read_header(files.brp)
        return sleep_day(header.start), max(header.duration_s, 0.0)  # an aborted file announces -1 records
    except DeviceDataError:
        return sleep_day(files.start_time), 0.0


def read_card(root: str | Path) -> DeviceCard:
    """Index an SD card's root (``DATALOG/<date>/...``) without reading flow data.

    Sessions are grouped into nights by sleep day; each EVE/CSL file goes to
    the night of the session nearest to it in its folder.

    Raises
    ------
    DeviceDataError
        No ``DATALOG`` folder.
    """
    root = Path(root)
    datalog = root / "DATALOG"
    if not datalog.is_dir():
        raise DeviceDataError("no DATALOG folder: not a ResMed SD card root", file=str(root))
    groups: dict[date, dict] = {}
    for folder in sorted(d for d in datalog.iterdir() if d.is_dir()):
        sessions = find_sessions(folder)
        if not sessions:
            continue
        days = [_session_day(s) for s in sessions]
        for s, (day, flow_s) in zip(sessions, days):
            g = groups.setdefault(day, {"folder": folder, "sessions": [], "annotations": [], "flow_s": 0.0})
            if any(other.brp.name == s.brp.name for other in g["sessions"]):
                continue  # the same session copied into two folders
            g["sessions"].append(s)
            g["flow_s"] += flow_s
        for path in annotation_files(folder):
            when = session_stamp(path)[0]
            nearest = min(range(len(sessions)), key=lambda i: abs((sessions[i].start_time - when).total_seconds()))
            annotations = groups[days[nearest][0]]["annotations"]
            if all(other.name != path.name for other in annotations):
                annotations.append(path)
    nights = tuple(
        NightIndex(day, g["folder"], tuple(g["sessions"]), tuple(g["annotations"]), g["flow_s"])
        for day, g in sorted(groups.items())
    )
    return DeviceCard(root=root, identification=_identification(root), nights=nights)
