"""Voilà with our guards: ``python -m cpap_lib.dashboard.runtime.guarded_voila`` takes Voilà's arguments.

:func:`~cpap_lib.dashboard.runtime.voila_app.voila_command` starts this
instead of ``python -m voila``. It is Voilà itself (same options, same
``voila.json``) with four changes made on its Tornado application:

- **Host check on every handler** (DNS rebinding): a ``Host`` header that is
  neither a loopback address nor listed in ``tornado_settings.local_hostnames``
  is answered 400. jupyter_server's own check covers only its page handlers
  and Voilà turns it off; static files and the kernel API answered any name.
- **Cross-site refusal on every handler** (CSRF, cross-site reads): what a
  browser sends on another site's behalf is answered 403 by the server's own
  rule (:func:`cpap_lib.server.middleware.cross_site_refusal`):
  ``Sec-Fetch-Site: cross-site`` / ``same-site``, or an ``Origin`` / ``Referer``
  of another host, on a POST, a kernel websocket, the kernel API or a static
  file. Only a top-level navigation GET of a page (a Voila notebook or the
  tree) may come from another site: a wiki may link to the monitor. Voila's
  own POST (the kernel shutdown beacon) is not required to be JSON.
- **Security headers on every response**: ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: same-origin`` and, where the handler sets none, a
  ``Content-Security-Policy`` of ``frame-ancestors 'self'`` (pages keep
  jupyter_server's policy, which has the same frame-ancestors).
- **Kernel websockets speak the v1 protocol only.** Voilà 0.5.13 reads the
  header of every binary kernel message in the v1 layout (8-byte offsets)
  to hide ``execute_input``; a client that opens the websocket without the
  ``v1.kernel.websocket.jupyter.org`` subprotocol gets the legacy layout
  (4-byte count), whose first 8 bytes read as an offset count of about
  10^18, and the list of offsets grew by ~45 MB/s at full CPU until the
  process died. The page that sends binary buffers (bqplot arrays: the
  explorer) triggered it at once; the abrupt TCP drop only meant no close
  frame ever stopped it. Our pages always ask for v1, so a websocket without
  it is refused (400), and the header reader is bounded by the message's
  length whatever the protocol.

Examples
--------
>>> legacy = (1).to_bytes(4, "big") + (8).to_bytes(4, "big") + b'{"header": {}}' + b"\\x00" * 64
>>> bounded_v1_header(legacy) is None  # Voilà's own reader runs away on this
True
>>> import json
>>> parts = [b"iopub", json.dumps({"msg_type": "execute_input"}).encode(), b"{}", b"{}", b"{}"]
>>> offsets, position = [], 8 * (len(parts) + 2)
>>> for part in parts:
...     offsets.append(position); position += len(part)
>>> message = b"".join(n.to_bytes(8, "little") for n in [len(parts) + 1, *offsets, position]) + b"".join(parts)
>>> bounded_v1_header(b"\\x01" + message[1:]) is None, bounded_v1_header(message)["msg_type"]
(True, 'execute_input')
"""

from __future__ import annotations

import json
import sys

from tornado import web, websocket
from voila.app import Voila
from voila.handler import BaseVoilaHandler
from voila.tornado import kernel_websocket_handler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

from ...server.middleware import cross_site_refusal
from ...server.settings import LOOPBACK_NAMES, host_allowed

__all__ = ["GuardedVoila", "V1_SUBPROTOCOL", "bounded_v1_header", "guard_application", "main"]

V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
DEFAULT_CSP = "frame-ancestors 'self'"
FOREIGN_HOST = (
    "this server does not answer to that Host name; list its names in voila.json tornado_settings.local_hostnames"
)


def bounded_v1_header(ws_msg: bytes) -> dict | None:
    """The header of a v1 binary kernel message, or None if ``ws_msg`` is not one.

    Same answer as Voilà's reader on well-formed messages; on anything else it
    looks at no more offsets than the message can hold.
    """
    if len(ws_msg) < 8:
        return None
    count = int.from_bytes(ws_msg[:8], "little")
    if not 3 <= count <= len(ws_msg) // 8 - 1:
        return None
    start = int.from_bytes(ws_msg[16:24], "little")
    end = int.from_bytes(ws_msg[24:32], "little")
    if not 8 * (count + 1) <= start <= end <= len(ws_msg):
        return None
    try:
        header = json.loads(ws_msg[start:end].decode("utf-8"))
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


class SafeKernelWebsocketHandler(VoilaKernelWebsocketHandler):
    """Voilà's kernel websocket, refused (400) to clients that do not ask for the v1 protocol."""

    async def get(self, *args, **kwargs):
        offered = {p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")}
        if V1_SUBPROTOCOL not in offered:
            self.log.warning("Refused a kernel websocket without the %s subprotocol", V1_SUBPROTOCOL)
            raise web.HTTPError(400, f"kernel websockets need the {V1_SUBPROTOCOL} subprotocol")
        return await super().get(*args, **kwargs)


class _ForeignHostHandler(web.RequestHandler):
    """Answers 400 to any method: the request named a host this server is not."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def prepare(self) -> None:
        self.set_status(400)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(FOREIGN_HOST)


class _CrossSiteHandler(web.RequestHandler):
    """Answers 403 to any method: a browser sent the request on another site's behalf."""

    SUPPORTED_METHODS = _ForeignHostHandler.SUPPORTED_METHODS

    def initialize(self, refusal: str = "") -> None:
        self.refusal = refusal

    def prepare(self) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(self.refusal)


_with_headers_cache: dict[type[web.RequestHandler], type[web.RequestHandler]] = {}


def _with_security_headers(handler_class: type[web.RequestHandler]) -> type[web.RequestHandler]:
    """``handler_class`` extended to send :data:`SECURITY_HEADERS` (websocket handlers unchanged)."""
    if issubclass(handler_class, websocket.WebSocketHandler):
        return handler_class
    wrapped = _with_headers_cache.get(handler_class)
    if wrapped is None:

        def set_default_headers(self) -> None:
            handler_class.set_default_headers(self)
            for name, value in SECURITY_HEADERS.items():
                self.set_header(name, value)
            if "Content-Security-Policy" not in self._headers:
                self.set_header("Content-Security-Policy", DEFAULT_CSP)

        wrapped = type(handler_class.__name__, (handler_class,), {"set_default_headers": set_default_headers})
        _with_headers_cache[handler_class] = wrapped
    return wrapped


def guard_application(app: web.Application, log) -> None:
    """Put the Host check, the cross-site refusal and the security headers in front of every handler of ``app``."""
    allowed = LOOPBACK_NAMES | {name.lower() for name in app.settings.get("local_hostnames", ())}
    find_handler = app.find_handler

    def guarded_find_handler(request, **kwargs):
        if not host_allowed(request.host or "", allowed):
            log.warning("Refused a request for a foreign Host name")
            return app.get_handler_delegate(request, _with_security_headers(_ForeignHostHandler))
        delegate = find_handler(request, **kwargs)
        page = issubclass(delegate.handler_class, BaseVoilaHandler)
        refusal = cross_site_refusal(request.method or "", request.headers, navigation_ok=page, json_only=False)
        if refusal is not None:
            log.warning("Refused a cross-site request (%s) for %s", refusal[1], request.path)
            return app.get_handler_delegate(request, _with_security_headers(_CrossSiteHandler), {"refusal": refusal[2]})
        delegate.handler_class = _with_security_headers(delegate.handler_class)
        return delegate

    app.find_handler = guarded_find_handler  # type: ignore[method-assign]  # this instance's router, wrapped on purpose


class GuardedVoila(Voila):
    """Voilà with :func:`guard_application` and :class:`SafeKernelWebsocketHandler`."""

    name = "voila"

    def init_handlers(self) -> list:
        return [
            (pattern, SafeKernelWebsocketHandler, *rest)
            if handler is VoilaKernelWebsocketHandler
            else (pattern, handler, *rest)
            for pattern, handler, *rest in super().init_handlers()
        ]

    def listen(self) -> None:
        guard_application(self.app, self.log)
        super().listen()


kernel_websocket_handler.read_header_from_binary_message = bounded_v1_header
"""Voilà's unbounded reader, replaced in this process (see the module docstring)."""


def main(argv: list[str] | None = None) -> None:
    """Run Voilà with the guards (``argv`` as for ``voila``)."""
    GuardedVoila.launch_instance(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
