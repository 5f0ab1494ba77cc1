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

import json
import logging
import time
from urllib.parse import urlsplit

from .settings import host_allowed

__all__ = ["AccessLog", "BodySizeLimit", "BrowserGuard"]

access_logger = logging.getLogger("cpap_lib.server.access")


async def _send_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
guard_logger = logging.getLogger("cpap_lib.server.guard")


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


def _netloc_of(url: str) -> str | None:
    """``host[:port]`` of an Origin or Referer (the scheme is left out: a TLS proxy may sit in front)."""
    parts = urlsplit(url)
    return parts.netloc.lower() if parts.scheme and parts.netloc else None


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
        headers = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        host = headers.get(b"host")
        if host is not None and not host_allowed(host.decode("latin-1"), self.allowed_hosts):
            return 400, "unknown_host", ("this server does not answer to that Host name; "
                                         "list the server's names in CPAP_ALLOWED_HOSTS")
        site = headers.get(b"sec-fetch-site", b"").lower()
        if site in (b"cross-site", b"same-site"):
            return 403, "cross_site", "cross-site requests are refused; use the dashboards or an API client"
        own = host.decode("latin-1").strip().lower() if host else None
        for header in (b"origin", b"referer"):
            value = headers.get(header)
            if value is not None and _netloc_of(value.decode("latin-1")) != own:
                return 403, "foreign_" + header.decode(), "requests from another origin are refused"
        if scope["method"] in _UNSAFE_METHODS and not _is_json(headers.get(b"content-type")):
            return 415, "not_json", "send the request body as JSON (Content-Type: application/json)"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self._refusal(scope)
        if refusal is None:
            return await self.app(scope, receive, send)
        status, reason, detail = refusal
        guard_logger.warning("event=request_refused reason=%s method=%s status=%d", reason, scope["method"], status)
        return await _send_json(send, status, detail)


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
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await _send_json(send, 413, too_large)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


class AccessLog:
    """Log ``method path status duration_ms`` for every HTTP request."""

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
                "method=%s path=%s status=%d duration_ms=%.2f",
                scope["method"], scope["path"], status, (time.perf_counter() - start) * 1000,
            )
