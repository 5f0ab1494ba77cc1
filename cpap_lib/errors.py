"""The one exception tree of ``cpap_lib``.

Every error the library raises on purpose is a :class:`CpapError`, so callers
(the CLI, the server, the dashboards) can catch one class and show its message
as a sentence instead of a traceback::

    CpapError
    ├── RecordingError          a file cannot be read or analyzed (names file, reason, line)
    │   └── DeviceDataError     ResMed EDF data missing, truncated or corrupt
    │       └── NoDataError     a device file with a header but no data (an aborted session)
    ├── ParameterError          an argument is out of range or unknown (names it); also a ValueError
    ├── ReportError             a batch report could not be produced
    ├── SchemaError             the database's schema is not one this code can use (newer, foreign)
    └── ApiError                the REST API answered with an error or not at all
        ├── NotFoundError           404: unknown room, patient or measurement
        ├── ValidationError         422 / 413 / 400: the server's message says which field and why
        ├── UnauthorizedError       401: no or unknown token
        │   └── ForbiddenError      403: token of the wrong role
        └── ServerUnavailableError  connection refused, timeout, 5xx

Examples
--------
>>> from cpap_lib.errors import RecordingError, CpapError
>>> err = RecordingError("no valid rows", file="night.txt")
>>> str(err)
'night.txt: no valid rows'
>>> isinstance(err, CpapError)
True
>>> str(RecordingError("empty field", file="a.txt", line=12))
'a.txt, line 12: empty field'
"""

from __future__ import annotations

__all__ = [
    "CpapError",
    "RecordingError",
    "DeviceDataError",
    "NoDataError",
    "ParameterError",
    "ReportError",
    "SchemaError",
    "ApiError",
    "NotFoundError",
    "ValidationError",
    "UnauthorizedError",
    "ForbiddenError",
    "ServerUnavailableError",
]


class CpapError(Exception):
    """Base class of every error ``cpap_lib`` raises on purpose."""


class RecordingError(CpapError, ValueError):
    """A recording cannot be read or analyzed.

    Parameters
    ----------
    reason : str
        What is wrong, as a sentence fragment (``"no valid rows"``).
    file : str, optional
        The file's name or path (``"<stream>"`` for file-like objects).
    line : int, optional
        The 1-based physical line number in the file, where one applies.
    """

    def __init__(self, reason: str, *, file: str | None = None, line: int | None = None):
        self.reason = reason
        self.file = file
        self.line = line
        where = file or "<recording>"
        if line is not None:
            where = f"{where}, line {line}"
        super().__init__(f"{where}: {reason}")


class DeviceDataError(RecordingError):
    """ResMed (EDF) device data are missing, truncated or corrupt."""


class NoDataError(DeviceDataError):
    """A device file has a header but no data to use: 0 (or -1 and none written) data records,
    or less than a breath.  Readers of a night or card skip such sessions with a note."""


class ParameterError(CpapError, ValueError):
    """An argument is unknown or outside its allowed range.

    Parameters
    ----------
    name : str
        The argument's name.
    message : str
        What is wrong and what is allowed; kept as ``.message`` (``str(err)``
        is ``"name: message"``), for a form that shows it beside the field.

    Examples
    --------
    >>> err = ParameterError("pressure", "must be from 4 to 25 cmH2O")
    >>> str(err), err.name, err.message
    ('pressure: must be from 4 to 25 cmH2O', 'pressure', 'must be from 4 to 25 cmH2O')
    """

    def __init__(self, name: str, message: str):
        self.name = name
        self.message = message
        super().__init__(f"{name}: {message}")


class ReportError(CpapError):
    """A batch report could not be produced."""


class SchemaError(CpapError):
    """The database's schema cannot be used: newer than this code, or not made by cpap_lib."""


class ApiError(CpapError):
    """The REST API answered with an error, or did not answer.

    Parameters
    ----------
    message : str
        The server's own message where it gave one.
    url : str, optional
        The request's URL.
    status : int, optional
        The HTTP status code, where there was a response.
    """

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        self.message = message
        self.url = url
        self.status = status
        super().__init__(message)


class NotFoundError(ApiError):
    """404: the room, patient or measurement does not exist."""


class ValidationError(ApiError):
    """The server refused the request's content (400, 413, 422)."""


class UnauthorizedError(ApiError):
    """401: no token, or a token the server does not know."""


class ForbiddenError(UnauthorizedError):
    """403: the token's role may not do this."""


class ServerUnavailableError(ApiError):
    """The server could not be reached, timed out, or failed (5xx)."""
