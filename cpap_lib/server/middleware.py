"""Pure ASGI middleware: request body size limit (413) and a structured access log.

The access log is one ``key=value`` line per request (method, path, status,
duration); it never contains bodies or query strings, so no patient name
reaches the logs.
"""

from __future__ import annotations

import json
import logging
import time

__all__ = ["AccessLog", "BodySizeLimit"]

access_logger = logging.getLogger("cpap_lib.server.access")


async def _send_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


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
