"""An SD card's root: the device's identity and its ``DATALOG/<date>/`` nights."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DeviceDataError
from .nights import DeviceNight, read_datalog

__all__ = ["DeviceCard", "read_card", "is_card_root"]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceCard:
    """An SD card's root: the device's identity and its nights (read on demand).

    Attributes
    ----------
    root : Path
    identification : dict
        ``product_name``, ``serial_number``, ``product_code`` from
        ``Identification.json`` where present.
    nights : tuple of Path
        The ``DATALOG/<date>/`` folders holding flow data, oldest first.
    """

    root: Path
    identification: dict = field(default_factory=dict)
    nights: tuple[Path, ...] = ()

    def night(self, date: str | None = None) -> DeviceNight:
        """Read one night by its folder name (``"20241017"``); the only/latest night if None."""
        if not self.nights:
            raise DeviceDataError("no DATALOG/<date> folder with flow data", file=str(self.root))
        if date is None:
            return read_datalog(self.nights[-1])
        for folder in self.nights:
            if folder.name == date:
                return read_datalog(folder)
        known = ", ".join(f.name for f in self.nights)
        raise DeviceDataError(f"no night {date!r} on the card (nights: {known})", file=str(self.root))


def _identification(root: Path) -> dict:
    path = root / "Identification.json"
    if not path.is_file():
        return {}
    try:
        product = json.loads(path.read_text())["FlowGenerator"]["IdentificationProfiles"]["Product"]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        log.info("%s: unrecognized identification file", path)
        return {}
    keys = {"ProductName": "product_name", "SerialNumber": "serial_number", "ProductCode": "product_code"}
    return {ours: product[theirs] for theirs, ours in keys.items() if theirs in product}


def is_card_root(path: str | Path) -> bool:
    """True if ``path`` looks like a ResMed card root (has a ``DATALOG`` folder)."""
    return (Path(path) / "DATALOG").is_dir()


def read_card(root: str | Path) -> DeviceCard:
    """Index an SD card's root (``DATALOG/<date>/...``) without reading flow data.

    Raises
    ------
    DeviceDataError
        No ``DATALOG`` folder.
    """
    root = Path(root)
    datalog = root / "DATALOG"
    if not datalog.is_dir():
        raise DeviceDataError("no DATALOG folder: not a ResMed SD card root", file=str(root))
    nights = tuple(
        d for d in sorted(datalog.iterdir()) if d.is_dir() and any(d.glob("*_[Bb][Rr][Pp].[Ee][Dd][Ff]"))
    )
    return DeviceCard(root=root, identification=_identification(root), nights=nights)
