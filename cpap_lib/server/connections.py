"""Limits on HTTP connections, so a slow or huge request cannot hold the server's memory or sockets.

Uvicorn picks httptools when it is installed, and httptools accepts headers of
any size (a 300 MB unfinished header kept 480 MB). The server runs uvicorn's
h11 protocol instead, with:

======================================  =========  ==========================================
limit                                   value      what happens past it
======================================  =========  ==========================================
request line + headers                  64 KiB     the connection answers 431/400 and closes
time to send request line + headers     10 s       the connection is closed (slowloris)
idle keep-alive connection              5 s        closed (uvicorn ``timeout_keep_alive``)
time to send a body                     30 s       408 (:class:`~.middleware.BodySizeLimit`)
body size                               8 MB       413 (``CPAP_MAX_BODY_BYTES``)
time to answer                          10 s       503 (``CPAP_REQUEST_TIMEOUT_S``)
======================================  =========  ==========================================

Examples
--------
>>> options = uvicorn_options()
>>> options["http"].__name__, options["h11_max_incomplete_event_size"], options["timeout_keep_alive"]
('CappedH11Protocol', 65536, 5)
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT_S", "KEEP_ALIVE_S", "MAX_HEADER_BYTES", "CappedH11Protocol", "uvicorn_options"]

MAX_HEADER_BYTES = 64 * 1024
HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5


class CappedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol, closing a connection that takes longer than
    :data:`HEADER_TIMEOUT_S` to send a request's line and headers."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_timer()

    def connection_lost(self, exc) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._header_deadline)

    def _header_deadline(self) -> None:
        self._header_timer = None
        waiting_for_headers = self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)
        if waiting_for_headers and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options() -> dict:
    """Keyword arguments for ``uvicorn.Config`` that apply the limits above."""
    return {
        "http": CappedH11Protocol,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_S,
    }
