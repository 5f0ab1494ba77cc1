"""Pure ASGI middleware: browser guards, request body size limit (413) and a structured access log.

:class:`BrowserGuard` refuses what only a browser on another site sends (old
clients and our own send none of it): a ``Host`` that is not one of ours
(DNS rebinding, 400), ``Sec-Fetch-Site: cross-site`` / ``same-site``, an
``Origin`` or ``Referer`` of another origin (403), and a POST / PUT / PATCH /
DELETE whose body is not declared JSON (415: an HTML form or a ``no-cors``
fetch cannot send ``application/json``).

The access log is one ``key=value`` line per request (method, path, status,
duration); it never contains bodies or query strings, so no patient name
reaches the logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from urllib.parse import urlsplit

import numpy as np

from .rate_limit import SlidingWindow
from .settings import host_allowed

__all__ = [
    "AccessLog",
    "BodySizeLimit",
    "BrowserGuard",
    "FailSafe",
    "SecurityHeaders",
    "WriteQueue",
    "cross_site_refusal",
    "is_page_navigation",
    "log_value",
    "route_of",
]

access_logger = logging.getLogger("cpap_lib.server.access")
error_logger = logging.getLogger("cpap_lib.server")


async def _send_json(send, status: int, detail: str, headers: dict[bytes, bytes | str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    extra = [(k, v.encode() if isinstance(v, str) else v) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
guard_logger = logging.getLogger("cpap_lib.server.guard")


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _netloc_of(url: str) -> str | None:
    """``host[:port]`` of an Origin or Referer (the scheme is left out: a TLS proxy may sit in front)."""
    parts = urlsplit(url)
    return parts.netloc.lower() if parts.scheme and parts.netloc else None


def is_page_navigation(method: str, headers) -> bool:
    """Whether the request is a browser's top-level navigation GET (a link followed, an address typed)."""
    return (
        method in ("GET", "HEAD")
        and headers.get("sec-fetch-mode") == "navigate"
        and headers.get("sec-fetch-dest", "document") == "document"
    )


def cross_site_refusal(
    method: str, headers, *, navigation_ok: bool = False, json_only: bool = True
) -> tuple[int, str, str] | None:
    """Why a request a browser sends on another site's behalf is refused: ``(status, reason, detail)``, or None.

    ``headers`` maps lower-case names to values (a dict, or Tornado's case-blind
    ``HTTPHeaders``). Refused: ``Sec-Fetch-Site: cross-site`` / ``same-site``
    and an ``Origin`` or ``Referer`` of another ``Host`` (403), and with
    ``json_only`` a POST / PUT / PATCH / DELETE whose body is not declared JSON
    (415). With ``navigation_ok`` a top-level navigation GET
    (:func:`is_page_navigation`) may come from another site (a link to a page).
    The Host check itself is the caller's (names differ per server).

    >>> cross_site_refusal("GET", {"sec-fetch-site": "cross-site", "host": "lab:8000"})[:2]
    (403, 'cross_site')
    >>> link = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "referer": "https://wiki.example/"}
    >>> cross_site_refusal("GET", link, navigation_ok=True) is None, cross_site_refusal("GET", link)[1]
    (True, 'cross_site')
    >>> cross_site_refusal("POST", {"host": "lab:8000", "origin": "http://lab:8000", "content-type": "text/plain"})[1]
    'not_json'
    """
    if navigation_ok and is_page_navigation(method, headers):
        return None
    site = (headers.get("sec-fetch-site") or "").lower()
    if site in ("cross-site", "same-site"):
        return 403, "cross_site", "cross-site requests are refused; use the dashboards or an API client"
    host = headers.get("host")
    own = host.strip().lower() if host else None
    for header in ("origin", "referer"):
        value = headers.get(header)
        if value is not None and _netloc_of(value) != own:
            return 403, "foreign_" + header, "requests from another origin are refused"
    if json_only and method in _UNSAFE_METHODS and not _is_json(headers.get("content-type")):
        return 415, "not_json", "send the request body as JSON (Content-Type: application/json)"
    return None


class BrowserGuard:
    """Refuse foreign ``Host`` headers and requests a browser sends on another site's behalf.

    Parameters
    ----------
    allowed_hosts : frozenset of str
        Names of this server (see :func:`cpap_lib.server.settings.host_allowed`).
    """

    def __init__(self, app, allowed_hosts: frozenset[str]):
        self.app = app
        self.allowed_hosts = allowed_hosts

    def _refusal(self, scope) -> tuple[int, str, str] | None:
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        host = headers.get("host")
        if host is not None and not host_allowed(host, self.allowed_hosts):
            return (
                400,
                "unknown_host",
                ("this server does not answer to that Host name; list the server's names in CPAP_ALLOWED_HOSTS"),
            )
        return cross_site_refusal(scope["method"], headers)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self._refusal(scope)
        if refusal is None:
            return await self.app(scope, receive, send)
        status, reason, detail = refusal
        guard_logger.warning("event=request_refused reason=%s method=%s status=%d", reason, scope["method"], status)
        return await _send_json(send, status, detail)


BODY_TIMEOUT_S = 30.0
"""Longest time a client may take to send a request body (408 after)."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted in a body (ours is at most 4)."""


def _too_deep(body: bytes) -> bool:
    """Whether ``body`` nests JSON brackets deeper than :data:`MAX_JSON_DEPTH` (which would exhaust the parser's stack).

    A cheap upper bound first (brackets inside strings count too), a real parse only when it is exceeded.

    >>> _too_deep(b"[" * 100_000), _too_deep(b'{"name": "[[[[", "trace": [[1, 2]]}')
    (True, False)
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    codes = np.frombuffer(body, dtype=np.uint8)
    step = (codes == ord("[")).astype(np.int32) + (codes == ord("{")) - (codes == ord("]")) - (codes == ord("}"))
    if np.cumsum(step).max(initial=0) <= MAX_JSON_DEPTH:
        return False
    try:
        _depth_of(json.loads(body))
    except RecursionError:
        return True
    except ValueError:  # not JSON at all: the route says so
        return False
    return False


def _depth_of(value, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise RecursionError
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _depth_of(child, depth + 1)


class BodySizeLimit:
    """Answer 413 when a body is larger than ``max_bytes`` (by Content-Length or as streamed).

    The body is read (up to the limit) before the app sees the request, so a
    too-large upload is refused before any of it is processed or stored.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        too_large = f"request body larger than {self.max_bytes} bytes"
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await _send_json(send, 400, "invalid Content-Length header")
                if declared > self.max_bytes:
                    return await _send_json(send, 413, too_large)
        chunks, size, more = [], 0, True
        deadline = time.monotonic() + BODY_TIMEOUT_S
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return await _send_json(send, 408, f"request body not received within {BODY_TIMEOUT_S:g} s")
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await _send_json(send, 413, too_large)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if _too_deep(body):
            return await _send_json(send, 400, f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


_PLAIN = re.compile(r"[A-Za-z0-9_./{}:@-]{1,200}")


def log_value(value: str) -> str:
    """``value`` as one token of a ``key=value`` log line: as is when plain, else JSON-quoted.

    A newline or a space in a client's value can then never forge another line or key.

    >>> log_value("/api/v1/rooms/{room}"), log_value("x\\nlevel=ERROR forged")
    ('/api/v1/rooms/{room}', '"x\\\\nlevel=ERROR forged"')
    """
    return value if _PLAIN.fullmatch(value) else json.dumps(value[:200])


def route_of(scope) -> str:
    """The matched route's template (``/api/v1/rooms/{room}``), never the values in the path."""
    route = scope.get("route")
    return getattr(route, "path", None) or "-"


class FailSafe:
    """Every request ends within ``deadline_s`` and never in a traceback.

    - A request still without a response after ``deadline_s`` (a hung
      database) is answered 503 with a sentence; its handler is left to finish
      and whatever it sends later is dropped.
    - An exception no handler turned into a response is answered 500 with a
      sentence and logged as one line (class and route template: the text of an
      exception may quote stored values).

    The handler runs in the request's own task; the deadline is a timer on the
    event loop that, when it fires before the response started, sends the 503
    from a task of its own (a task and a wait per request cost more than the
    bedside poll itself).
    """

    def __init__(self, app, deadline_s: float, status=None):
        self.app = app
        self.deadline_s = deadline_s
        self.status = status
        self._late_answers: set[asyncio.Task] = set()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = abandoned = False

        async def guarded_send(message):
            nonlocal started
            if abandoned:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        def deadline_passed():
            nonlocal abandoned
            if started:
                return
            abandoned = True
            answer = asyncio.ensure_future(self._answer_late(scope, send))
            self._late_answers.add(answer)  # a reference until it is done
            answer.add_done_callback(self._late_answers.discard)

        timer = asyncio.get_running_loop().call_later(self.deadline_s, deadline_passed)
        try:
            await self.app(scope, receive, guarded_send)
        except Exception as exc:  # the last line of defence: a sentence, one log line, no traceback
            error_logger.error(
                "event=unhandled_error route=%s error=%s", log_value(route_of(scope)), type(exc).__name__
            )
            try:
                await _send_json(guarded_send, 500, "internal error; the server logged it")
            except Exception:  # the response had started: nothing more to say
                pass
        finally:
            timer.cancel()

    async def _answer_late(self, scope, send) -> None:
        if self.status is not None:
            self.status.failed(TimeoutError())
        error_logger.warning(
            "event=request_deadline route=%s deadline_s=%g", log_value(route_of(scope)), self.deadline_s
        )
        try:
            await _send_json(
                send,
                503,
                f"the server could not answer within {self.deadline_s:g} s (database not responding); "
                "try again shortly",
            )
        except Exception:  # the client went away meanwhile
            pass


class WriteQueue:
    """Writes wait their turn on the event loop, so reads always find a free thread.

    At most ``concurrent`` writing requests (POST / PUT / PATCH / DELETE) run
    at once; up to ``waiting`` more wait for a turn without holding a thread;
    beyond that the answer is 503 at once. With ``per_minute`` set, each bearer
    token may start that many writes per minute (429 after, with Retry-After).
    """

    def __init__(self, app, concurrent: int = 4, waiting: int = 64, per_minute: int | None = None):
        self.app = app
        self.turns = asyncio.Semaphore(concurrent)
        self.waiting_limit = waiting
        self.waiting = 0
        self.per_minute = per_minute
        self.quota = SlidingWindow(per_minute, 60.0) if per_minute is not None else None

    def _over_quota(self, scope) -> float | None:
        """Seconds until this token may write again, or None (this write counted)."""
        token = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if self.quota is None or token is None:
            return None
        return self.quota.take(hashlib.sha256(token).digest())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in _UNSAFE_METHODS:
            return await self.app(scope, receive, send)
        wait = self._over_quota(scope)
        if wait is not None:
            return await _send_json(
                send,
                429,
                f"more than {self.per_minute} writes a minute with this token; try again in {wait:.0f} s",
                {b"retry-after": str(int(wait) + 1)},
            )
        if self.waiting >= self.waiting_limit:
            return await _send_json(send, 503, "too many writes waiting; try again shortly", {b"retry-after": b"1"})
        self.waiting += 1
        try:
            await self.turns.acquire()
        finally:
            self.waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.turns.release()


API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)


class SecurityHeaders:
    """``nosniff``, ``Referrer-Policy: no-referrer`` and a Content-Security-Policy on every answer.

    API answers get :data:`API_CSP` (nothing may load, nothing may frame them);
    the ``/docs`` page and its local assets get :data:`DOCS_CSP`.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        csp = (DOCS_CSP if scope["path"] == "/docs" or scope["path"].startswith("/docs-assets/") else API_CSP).encode()

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"no-referrer"),
                        (b"content-security-policy", csp),
                    ],
                }
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessLog:
    """Log ``method route status duration_ms`` for every HTTP request.

    ``route`` is the matched route's template (``/api/v1/patients/{mrn}``), so
    no MRN or other value from the path reaches the log; values are escaped
    (:func:`log_value`).
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not access_logger.isEnabledFor(logging.INFO):
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_and_record(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            access_logger.info(
                "method=%s route=%s status=%d duration_ms=%.2f",
                log_value(scope["method"]),
                log_value(route_of(scope)),
                status,
                (time.perf_counter() - start) * 1000,
            )
