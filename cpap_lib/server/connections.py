"""Limits on HTTP connections, so a slow or huge request cannot hold the server's memory or sockets.

The server runs uvicorn's httptools protocol (a C parser: uvicorn's pure-Python
h11 protocol costs about 200 us more a request, as much as the bedside poll
itself). httptools accepts headers of any size (a 300 MB unfinished header kept
480 MB), so :class:`CappedHttpToolsProtocol` counts them:

======================================  =========  ==========================================
limit                                   value      what happens past it
======================================  =========  ==========================================
request line + headers                  64 KiB     431, and the connection closes
time to send request line + headers     10 s       the connection is closed (slowloris)
idle keep-alive connection              5 s        closed (uvicorn ``timeout_keep_alive``)
time to send a body                     30 s       408 (:class:`~.middleware.BodySizeLimit`)
body size                               8 MB       413 (``CPAP_MAX_BODY_BYTES``)
time to answer                          10 s       503 (``CPAP_REQUEST_TIMEOUT_S``)
======================================  =========  ==========================================

Examples
--------
>>> options = uvicorn_options()
>>> options["http"].__name__, options["timeout_keep_alive"]
('CappedHttpToolsProtocol', 5)
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HEADER_TIMEOUT_S", "KEEP_ALIVE_S", "MAX_HEADER_BYTES", "CappedHttpToolsProtocol", "uvicorn_options"]

MAX_HEADER_BYTES = 64 * 1024
HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 36\r\nconnection: close\r\n\r\nrequest line and headers over 64 KiB"
)


class CappedHttpToolsProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol with a cap on the request line and headers.

    - More than :data:`MAX_HEADER_BYTES` of request line and headers is
      answered 431 and the connection closed: a head still unfinished after a
      read is counted by the bytes received (so memory stays bounded whatever
      the client sends), a finished one by its line and fields.
    - A connection that takes longer than :data:`HEADER_TIMEOUT_S` to send a
      request's line and headers is closed.
    """

    _header_timer: asyncio.TimerHandle | None = None
    _in_head = True
    _head_bytes = 0
    _field_bytes = 0

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._field_bytes = True, 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._field_bytes = len(self.url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._field_bytes += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._field_bytes > MAX_HEADER_BYTES:
            self._refuse_head()
            return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self.transport.is_closing():
            return
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0  # the next request's head starts here

    def on_body(self, body: bytes) -> None:
        if not self.transport.is_closing():
            super().on_body(body)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_timer()

    def connection_lost(self, exc) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _refuse_head(self) -> None:
        self.transport.write(_TOO_LARGE)
        self.transport.close()

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._header_deadline)

    def _header_deadline(self) -> None:
        self._header_timer = None
        waiting_for_headers = self._in_head and (self.cycle is None or self.cycle.response_complete)
        if waiting_for_headers and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options() -> dict:
    """Keyword arguments for ``uvicorn.Config`` that apply the limits above."""
    return {"http": CappedHttpToolsProtocol, "timeout_keep_alive": KEEP_ALIVE_S}
