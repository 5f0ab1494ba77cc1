"""Simulated bedside devices for the demo: each streams measurements and obeys commands.

A :class:`SimulatedDevice` is a thread standing in for one room's CPAP
device: every ``interval_s`` seconds it asks the server for a commanded
pressure (and switches to it), simulates a short recording at its pressure
(:func:`cpap_lib.sim.simulate_recording`; the lower the pressure, the
more apneas), analyzes it and uploads the measurement with its flow trace.
A :class:`DeviceFleet` runs several.

Examples
--------
>>> from cpap_lib.sim.devices import apneas_for_pressure, demo_patients
>>> [apneas_for_pressure(p) for p in (4, 8, 11, 14, 20)]
[3, 2, 1, 0, 0]
>>> demo_patients(2)[0].room, demo_patients(2)[1].mrn
(101, 'DEMO-102')
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CpapError, NotFoundError, ParameterError

__all__ = ["DevicePatient", "SimulatedDevice", "DeviceFleet", "apneas_for_pressure", "demo_patients"]

log = logging.getLogger(__name__)

RECORDING_MINUTES = 5.0
"""Length of each simulated recording (room for up to 3 apneas)."""
TRACE_POINTS = 2000

_NAMES = (
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Frances Allen",
    "John Backus",
    "Margaret Hamilton",
    "Dennis Ritchie",
)


@dataclass(frozen=True)
class DevicePatient:
    """Who a simulated device is attached to."""

    room: int
    mrn: str
    name: str
    pressure_cmh2o: int = 8
    rate_bpm: float = 15.0


def demo_patients(count: int, *, first_room: int = 101) -> list[DevicePatient]:
    """``count`` demo patients in rooms ``first_room``, ``first_room + 1``, ...

    Starting pressures and breath rates differ, so the ward has some rooms
    with 2 or more apneas (red) and some without.
    """
    if not 1 <= count <= 200:
        raise ParameterError("count", f"must be from 1 to 200 devices, got {count}")
    return [
        DevicePatient(
            room=first_room + i,
            mrn=f"DEMO-{first_room + i}",
            name=_NAMES[i % len(_NAMES)] + ("" if i < len(_NAMES) else f" {i // len(_NAMES) + 1}"),
            pressure_cmh2o=(6, 8, 10, 12, 14)[i % 5],
            rate_bpm=(14.0, 16.0, 12.0, 18.0, 15.0)[i % 5],
        )
        for i in range(count)
    ]


def apneas_for_pressure(pressure_cmh2o: float) -> int:
    """Apneas in a simulated 5-minute recording at ``pressure_cmh2o`` (0 to 3).

    Too little pressure lets the airway close: 14 cmH2O and above gives none.
    """
    return int(np.clip(round((14 - float(pressure_cmh2o)) / 3), 0, 3))


class SimulatedDevice:
    """One room's CPAP device stand-in, uploading every ``interval_s`` seconds.

    Parameters
    ----------
    client : CpapClient
        The API client (device token if the server needs one).
    patient : DevicePatient
        Room, MRN, name, starting pressure and breath rate.
    interval_s : float
        Seconds between uploads.
    seed : int
        Seed of the first recording; each next one uses the next seed.

    Attributes
    ----------
    pressure_cmh2o : int
        The pressure the device runs at (commands change it).
    uploads : int
        Measurements uploaded so far.
    last_error : str or None
        Why the latest step failed (the device retries at the next interval).
    """

    def __init__(self, client: Any, patient: DevicePatient, *, interval_s: float = 5.0, seed: int = 0):
        if interval_s <= 0:
            raise ParameterError("interval_s", f"must be positive, got {interval_s}")
        self.client = client
        self.patient = patient
        self.interval_s = float(interval_s)
        self.pressure_cmh2o = int(patient.pressure_cmh2o)
        self.uploads = 0
        self.last_error: str | None = None
        self._seed = int(seed)
        self._command_id: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> Any:
        """Obey a new pressure command, then simulate, analyze and upload one recording."""
        from ..analysis import analyze
        from .simulator import simulate_recording

        try:
            poll = self.client.poll_pressure(self.patient.room)
        except NotFoundError:  # the room exists from the first upload on
            poll = None
        if (
            poll is not None
            and poll.command_id is not None
            and poll.command_id != self._command_id
            and poll.cmh2o is not None
        ):
            self._command_id = poll.command_id
            self.pressure_cmh2o = int(poll.cmh2o)
            log.info("room %s: pressure commanded to %s cmH2O", self.patient.room, poll.cmh2o)
        self._seed += 1
        sim = simulate_recording(
            seed=self._seed,
            minutes=RECORDING_MINUTES,
            rate_bpm=self.patient.rate_bpm,
            apneas=apneas_for_pressure(self.pressure_cmh2o),
            pressure_cmh2o=float(self.pressure_cmh2o),
        )
        analysis = analyze(sim.recording())
        receipt = self.client.upload_measurement(
            self.patient.room,
            self.patient.mrn,
            name=self.patient.name,
            cpap_pressure=self.pressure_cmh2o,
            analysis=analysis.to_dict(),
            flow_trace=analysis.flow_trace(TRACE_POINTS),
        )
        self.uploads += 1
        return receipt

    def start(self) -> SimulatedDevice:
        """Run :meth:`step` every ``interval_s`` seconds in a daemon thread."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"device-room-{self.patient.room}", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
                self.last_error = None
            except CpapError as exc:  # server restarting, refused upload: log and try again later
                self.last_error = str(exc)
                log.warning("room %s: %s", self.patient.room, exc)
            self._stop.wait(self.interval_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the current step."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)


class DeviceFleet:
    """Several :class:`SimulatedDevice`, started with staggered first uploads.

    Parameters
    ----------
    client_factory : callable
        Returns a new API client (one per device: sessions are not shared between threads).
    patients : list of DevicePatient
    interval_s : float
        Seconds between uploads of each device.
    """

    def __init__(self, client_factory: Any, patients: list[DevicePatient], *, interval_s: float = 5.0):
        self.devices = [
            SimulatedDevice(client_factory(), p, interval_s=interval_s, seed=1000 * (i + 1))
            for i, p in enumerate(patients)
        ]
        self._stagger_s = interval_s / max(len(self.devices), 1)
        self._stop = threading.Event()

    def start(self) -> DeviceFleet:
        """Start every device, spreading their uploads over one interval."""
        for device in self.devices:
            device.start()
            if self._stop.wait(min(self._stagger_s, 1.0)):
                break
        return self

    def stop(self) -> None:
        """Stop every device."""
        self._stop.set()
        for device in self.devices:
            device._stop.set()
        for device in self.devices:
            device.stop()

    def __enter__(self) -> DeviceFleet:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
