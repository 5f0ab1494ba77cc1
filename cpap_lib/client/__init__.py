"""API client for the sleep-lab server (``requests``-based).

:class:`CpapClient` is a context manager with a ``base_url``, an optional
bearer token and a timeout that is always sent. Methods return typed
dataclasses, never a raw response, and raise the :mod:`cpap_lib.errors`
``ApiError`` tree so a dashboard can show a sentence::

    ApiError
    ├── NotFoundError           404 (``room 12 not found``)
    ├── ValidationError         400 / 413 / 422 (field and reason from the server)
    ├── UnauthorizedError       401
    │   └── ForbiddenError      403
    └── ServerUnavailableError  connection refused, timeout, 5xx

Idempotent reads (GET) and uploads are retried ``retries`` times on connection
errors, timeouts and 502/503/504; an upload carries an ``Idempotency-Key``, so
a re-send the server already stored is not stored again. Other writes are
never retried.

Examples
--------
>>> client = CpapClient("http://127.0.0.1:8000/", token="t0k")
>>> client.base_url
'http://127.0.0.1:8000'
>>> client.command_pressure(12, 30)
Traceback (most recent call last):
...
cpap_lib.errors.ParameterError: cmh2o: must be an integer from 4 to 25 cmH2O, got 30
>>> client.close()
>>> error_for(404, {"detail": "room 12 not found"}, "http://x/api/v1/rooms/12")
NotFoundError('room 12 not found')
>>> str(error_for(422, {"detail": [{"loc": ["body", "cmh2o"], "msg": "Input should be less than or equal to 25"}]}, "u"))
'cmh2o: Input should be less than or equal to 25'
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any, Self

import numpy as np
import requests

from ..errors import (
    ApiError,
    ForbiddenError,
    NotFoundError,
    ParameterError,
    ServerUnavailableError,
    UnauthorizedError,
    ValidationError,
)
from ..jsonable import jsonable
from ..limits import PRESSURE_MAX_CMH2O, PRESSURE_MIN_CMH2O
from ..server.schemas import (  # the night's answers are the server's own models: no hand-made copies
    AcknowledgementPublic,
    AlarmBoardPublic,
    AlarmRulesPublic,
    NightTimeline,
    NotePublic,
    RoomPatient,
)
from .models import (
    Admission,
    Health,
    Measurement,
    MeasurementSummary,
    Patient,
    PressureCommand,
    PressurePoll,
    Room,
    UploadReceipt,
    WardRoom,
    WardState,
)

__all__ = [
    "PRESSURE_MAX_CMH2O",
    "PRESSURE_MIN_CMH2O",
    "Admission",
    "CpapClient",
    "Health",
    "Measurement",
    "MeasurementSummary",
    "Patient",
    "PressureCommand",
    "PressurePoll",
    "Room",
    "UploadReceipt",
    "WardRoom",
    "WardState",
    "error_for",
]

_RETRY_STATUSES = (502, 503, 504)


def _detail_message(body: Any, fallback: str) -> str:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail:
        parts = []
        for error in detail:
            loc = [str(p) for p in error.get("loc", []) if p not in ("body", "query", "path")]
            parts.append(f"{'.'.join(loc) or 'request'}: {error.get('msg', 'invalid')}")
        return "; ".join(parts)
    return fallback  # a body that is not our server's JSON (a proxy's page) is not shown to people


def error_for(status: int, body: Any, url: str) -> ApiError:
    """The :class:`~cpap_lib.errors.ApiError` for an error response (``body``: parsed JSON or text)."""
    message = _detail_message(body, f"HTTP {status}")
    cls: type[ApiError]
    if status == 404:
        cls = NotFoundError
    elif status in (400, 413, 422):
        cls = ValidationError
    elif status == 401:
        cls = UnauthorizedError
    elif status == 403:
        cls = ForbiddenError
    elif status >= 500:
        cls, message = ServerUnavailableError, f"server error {status}: {message}"
    else:
        cls = ApiError
    return cls(message, url=url, status=status)


def _check_pressure(cmh2o: Any) -> int:
    if (
        isinstance(cmh2o, bool)
        or not isinstance(cmh2o, (int, np.integer))
        or not (PRESSURE_MIN_CMH2O <= cmh2o <= PRESSURE_MAX_CMH2O)
    ):
        raise ParameterError(
            "cmh2o", f"must be an integer from {PRESSURE_MIN_CMH2O} to {PRESSURE_MAX_CMH2O} cmH2O, got {cmh2o!r}"
        )
    return int(cmh2o)


def _check_room(room: Any) -> int:
    if isinstance(room, bool) or not isinstance(room, (int, np.integer)) or room < 1:
        raise ParameterError("room", f"must be a positive integer, got {room!r}")
    return int(room)


class CpapClient:
    """Client of the sleep-lab REST API.

    Parameters
    ----------
    base_url : str
        E.g. ``"http://127.0.0.1:8000"``.
    token : str, optional
        Bearer token (device or staff role) sent with every request.
    timeout : float
        Seconds for connecting and for each read; always sent.
    session : requests.Session, optional
        Injected session (not closed by :meth:`close`); default: an own one.
    retries : int
        Extra attempts for GET requests after connection errors, timeouts and 502/503/504.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        retries: int = 2,
    ):
        if timeout <= 0:
            raise ParameterError("timeout", f"must be positive, got {timeout}")
        if retries < 0:
            raise ParameterError("retries", f"must be 0 or more, got {retries}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()

    # -- plumbing -------------------------------------------------------
    def close(self) -> None:
        """Close the session if the client created it."""
        if self._own_session:
            self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CpapClient({self.base_url!r}, token={'***' if self.token else None}, timeout={self.timeout})"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        url = self.base_url + path
        headers = {"Accept": "application/json", **(headers or {})}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(jsonable(body), allow_nan=False).encode()
        attempts = 1 + (self.retries if method == "GET" or "Idempotency-Key" in headers else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self.session.request(
                    method, url, params=params, data=data, headers=headers, timeout=self.timeout
                )
            except requests.Timeout:
                if last:
                    raise ServerUnavailableError(
                        f"no answer from {self.base_url} within {self.timeout} s", url=url
                    ) from None
            except requests.ConnectionError:
                if last:
                    raise ServerUnavailableError(f"cannot connect to {self.base_url}", url=url) from None
            else:
                if response.status_code not in _RETRY_STATUSES or last:
                    return self._decode(response, url)
            time.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _parse(self, build: Any, method: str, path: str, **kwargs: Any) -> Any:
        """``build(json)`` of the answer; an answer of another shape is an :class:`ApiError` saying so."""
        data = self._request(method, path, **kwargs)
        try:
            return build(data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # pydantic's error is a ValueError
            raise ApiError(
                f"the server's answer to {method} {path} is not what this client understands "
                f"({type(exc).__name__}); is {self.base_url} a Sleep Lab Monitor server of this version?",
                url=self.base_url + path,
                status=200,
            ) from None

    @staticmethod
    def _decode(response: requests.Response, url: str) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise error_for(response.status_code, body, url)
        return body

    # -- reads ----------------------------------------------------------
    def health(self) -> Health:
        """``GET /health``."""
        return self._parse(lambda data: Health(**data), "GET", "/health")

    def rooms(self) -> list[Room]:
        """Every room's latest state."""
        return self._parse(lambda rows: [Room.from_json(r) for r in rows], "GET", "/api/v1/rooms")

    def ward(self) -> WardState:
        """The whole ward in one request."""
        return self._parse(WardState.from_json, "GET", "/api/v1/ward")

    def room(self, room: int) -> Room:
        """One room's latest state (NotFoundError for an unknown room)."""
        return self._parse(Room.from_json, "GET", f"/api/v1/rooms/{_check_room(room)}")

    def measurements(self, room: int, mrn: str | None = None) -> list[MeasurementSummary]:
        """Measurement ids and times (oldest first) of the room's current patient, or of ``mrn``."""
        params = {"mrn": mrn} if mrn is not None else None
        return self._parse(
            lambda rows: [MeasurementSummary.from_json(r) for r in rows],
            "GET",
            f"/api/v1/rooms/{_check_room(room)}/measurements",
            params=params,
        )

    def measurement(self, measurement_id: int) -> Measurement:
        """One measurement with flow trace and image."""
        return self._parse(Measurement.from_json, "GET", f"/api/v1/measurements/{int(measurement_id)}")

    def patients(self) -> list[Patient]:
        """Every patient with their stays."""
        return self._parse(lambda rows: [Patient.from_json(p) for p in rows], "GET", "/api/v1/patients")

    def patient(self, mrn: str) -> Patient:
        """One patient with their stays."""
        return self._parse(Patient.from_json, "GET", f"/api/v1/patients/{requests.utils.quote(str(mrn), safe='')}")

    def poll_pressure(self, room: int) -> PressurePoll:
        """The room's latest commanded pressure (what a bedside station polls)."""
        return self._parse(PressurePoll.from_json, "GET", f"/api/v1/rooms/{_check_room(room)}/pressure")

    pending_pressure = poll_pressure

    # -- the night: alarm board, timeline, notes ------------------------
    def alarm_board(self) -> AlarmBoardPublic:
        """Every room with its alarm state, sorted for a nurse (``GET /api/v1/alarms``; times UTC)."""
        return self._parse(AlarmBoardPublic.model_validate, "GET", "/api/v1/alarms")

    def alarm_rules(self) -> AlarmRulesPublic:
        """The thresholds the server's alarm rules use."""
        return self._parse(AlarmRulesPublic.model_validate, "GET", "/api/v1/alarms/rules")

    def room_patient(self, room: int) -> RoomPatient:
        """Who is admitted to the room now (device or staff; ``mrn`` None when nobody)."""
        return self._parse(RoomPatient.model_validate, "GET", f"/api/v1/rooms/{_check_room(room)}/patient")

    def timeline(self, room: int) -> NightTimeline:
        """The current patient's night: pressure commands, uploads, notes, acknowledgements (oldest first)."""
        return self._parse(NightTimeline.model_validate, "GET", f"/api/v1/rooms/{_check_room(room)}/timeline")

    def notes(self, room: int) -> list[NotePublic]:
        """Technician notes on the current patient's night, oldest first."""
        return self._parse(
            lambda rows: [NotePublic.model_validate(r) for r in rows], "GET", f"/api/v1/rooms/{_check_room(room)}/notes"
        )

    def add_note(self, room: int, text: str, by: str | None = None) -> NotePublic:
        """Add a note to the room's night (staff; the server records when, the token's name and ``by``)."""
        return self._parse(
            NotePublic.model_validate,
            "POST",
            f"/api/v1/rooms/{_check_room(room)}/notes",
            body={"text": str(text), "by": by or None},
        )

    def acknowledge_alarm(self, room: int, note: str | None = None, by: str | None = None) -> AcknowledgementPublic:
        """Acknowledge the room's current alarm, with an optional note and the person's name (staff)."""
        return self._parse(
            AcknowledgementPublic.model_validate,
            "POST",
            f"/api/v1/rooms/{_check_room(room)}/alarm/acknowledgements",
            body={"note": note or None, "by": by or None},
        )

    # -- writes ---------------------------------------------------------
    def admit(self, room: int, mrn: str, name: str | None = None) -> UploadReceipt:
        """Make ``mrn`` the room's patient (a new MRN starts a new admission)."""
        body = {"mrn": str(mrn), "name": name}
        return self._parse(UploadReceipt.from_json, "PUT", f"/api/v1/rooms/{_check_room(room)}/patient", body=body)

    def upload_measurement(
        self,
        room: int,
        mrn: str,
        *,
        name: str | None = None,
        cpap_pressure: float | None = None,
        analysis: Any = None,
        flow_trace: Any = None,
        flow_png: bytes | None = None,
        trace_points: int = 2000,
    ) -> UploadReceipt:
        """Upload one measurement (the server stamps the time of receipt).

        Parameters
        ----------
        room : int
        mrn : str
        name : str, optional
            Replaces the stored name.
        cpap_pressure : float, optional
            The pressure the device runs at, cmH2O.
        analysis : dict or Analysis, optional
            ``Analysis.to_dict()``-shaped metrics, or an object with ``to_dict()``
            (and ``flow_trace(max_points)``, used when ``flow_trace`` is not given).
        flow_trace : (time_s, flow_lps) or dict, optional
            At most 5000 points (the server keeps at most 2000).
        flow_png : bytes, optional
            A PNG image of the flow.
        trace_points : int
            Points asked from ``analysis.flow_trace`` when it provides the trace.
        """
        body: dict[str, Any] = {"mrn": str(mrn), "name": name, "cpap_pressure_cmh2o": cpap_pressure}
        if analysis is not None:
            if hasattr(analysis, "to_dict"):
                if flow_trace is None and hasattr(analysis, "flow_trace"):
                    flow_trace = analysis.flow_trace(max_points=trace_points)
                analysis = analysis.to_dict()
            body["analysis"] = analysis
        if flow_trace is not None:
            if isinstance(flow_trace, dict):
                time_s, flow_lps = flow_trace["time_s"], flow_trace["flow_lps"]
            else:
                time_s, flow_lps = flow_trace
            try:
                body["flow_trace"] = {
                    "time_s": np.asarray(time_s, dtype=np.float64),
                    "flow_lps": np.asarray(flow_lps, dtype=np.float64),
                }
            except (TypeError, ValueError) as exc:
                raise ParameterError("flow_trace", f"time_s and flow_lps must be numbers: {exc}") from None
        if flow_png is not None:
            body["flow_image_png_base64"] = base64.b64encode(flow_png).decode("ascii")
        path = f"/api/v1/rooms/{_check_room(room)}/measurements"
        # One key for this upload and its re-sends: the server stores it once however often it arrives.
        return self._parse(
            UploadReceipt.from_json, "POST", path, body=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )

    def command_pressure(self, room: int, cmh2o: int) -> PressureCommand:
        """Command a new CPAP pressure (integer 4-25 cmH2O, checked before sending)."""
        body = {"cmh2o": _check_pressure(cmh2o)}
        path = f"/api/v1/rooms/{_check_room(room)}/pressure-commands"
        return self._parse(PressureCommand.from_json, "POST", path, body=body)
