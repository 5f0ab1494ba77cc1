"""Voilà's guards (issue 14.1, 14.3, 14.13): the abrupt-drop runaway replayed, Host check, headers.

A real Voilà (through :class:`VoilaServer`, so through the guarded entry point)
renders the explorer; the replay opens its kernel websocket the way the
review did and drops the TCP connection without a close frame. Voilà's
address space is capped (``prlimit``) 2 GB above its size at start, so a
runaway ends the process instead of the machine, and the test is bounded in
time (pytest-timeout) and memory.
"""

from __future__ import annotations

import base64
import json
import os
import re
import resource
import socket
import struct
import time
import uuid

import pytest
import requests

from cpap_lib.dashboard.runtime.voila_app import VoilaServer

CAP_BYTES = 2 * 2**30


def _status_kb(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing for {pid}")


@pytest.fixture(scope="module")
def voila(live_server, tmp_path_factory):
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    with VoilaServer(live_server, log_path=log) as server:
        pid = server.process.pid
        size = _status_kb(pid, "VmSize") * 1024
        resource.prlimit(pid, resource.RLIMIT_AS, (size + CAP_BYTES, size + CAP_BYTES))
        server.log = log
        yield server


def _kernel_of(voila, notebook: str) -> str:
    html = requests.get(voila.page_url(notebook), timeout=120).text
    return re.search(r'"kernelId": "([0-9a-f-]+)"', html).group(1)


def _open_websocket(
    voila, kernel_id: str, *, subprotocol: str | None, origin: str | None = None
) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", voila.port), timeout=10)
    lines = [
        f"GET /api/kernels/{kernel_id}/channels?session_id={uuid.uuid4()} HTTP/1.1",
        f"Host: 127.0.0.1:{voila.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {origin or voila.url}",
    ]
    if subprotocol:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    except TimeoutError:
        answer += b"(no answer within 10 s)\r\n"
    return sock, answer


def _send_text(sock: socket.socket, text: str) -> None:
    """One masked text frame, as a browser sends it."""
    payload, mask = text.encode(), os.urandom(4)
    size = len(payload)
    header = bytes([0x81]) + (bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big"))
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def _read_text_frames(sock: socket.socket, seconds: float) -> list[str]:
    """Text frames the server sends within ``seconds`` (binary frames skipped)."""
    sock.settimeout(0.2)
    data, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data += sock.recv(1 << 20)
        except TimeoutError:
            continue
    texts = []
    while len(data) >= 2:
        opcode, size, start = data[0] & 0x0F, data[1] & 0x7F, 2
        if size == 126:
            size, start = int.from_bytes(data[2:4], "big"), 4
        elif size == 127:
            size, start = int.from_bytes(data[2:10], "big"), 10
        if len(data) < start + size:
            break
        if opcode == 1:
            texts.append(data[start : start + size].decode())
        data = data[start + size :]
    return texts


def _request_every_widget_state(sock: socket.socket, session: str) -> None:
    """What the page's widget manager does on connecting: list the comms, ask each for its state.

    The bqplot marks answer with binary buffers (their numpy arrays).
    """

    def message(msg_type: str, content: dict) -> str:
        header = {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": session,
            "username": "",
            "version": "5.4",
            "date": "",
        }
        return json.dumps(
            {
                "header": header,
                "parent_header": {},
                "metadata": {},
                "content": content,
                "buffers": [],
                "channel": "shell",
            }
        )

    _send_text(sock, message("comm_info_request", {"target_name": "jupyter.widget"}))
    comms = {}
    for text in _read_text_frames(sock, 2.0):
        reply = json.loads(text)
        if reply.get("msg_type") == "comm_info_reply":
            comms = reply["content"]["comms"]
    for comm_id in comms:
        _send_text(sock, message("comm_msg", {"comm_id": comm_id, "data": {"method": "request_state"}}))


def _drop(sock: socket.socket) -> None:
    """Close with a TCP reset: no websocket close frame, no FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _cpu_s(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_an_abrupt_drop_of_the_explorers_kernel_websocket_leaves_voila_steady(voila):
    pid = voila.process.pid
    kernel = _kernel_of(voila, "explorer.ipynb")
    rss_before, cpu_before = _status_kb(pid, "VmRSS"), _cpu_s(pid)
    answers = []
    for subprotocol in (None, "v1.kernel.websocket.jupyter.org"):
        sock, answer = _open_websocket(voila, kernel, subprotocol=subprotocol)
        answers.append(answer.split(b"\r\n", 1)[0])
        if subprotocol is None and b" 101 " in answer:  # before the fix: the legacy protocol was served
            _request_every_widget_state(sock, uuid.uuid4().hex)
        time.sleep(1.0)  # the kernel's widget state (binary bqplot buffers) flows to the socket
        _drop(sock)
    time.sleep(6.0)
    assert voila.process.poll() is None, "Voilà died (it ran into the memory cap)"
    grown_mb = (_status_kb(pid, "VmRSS") - rss_before) / 1024
    busy = (_cpu_s(pid) - cpu_before) / 8.0
    assert grown_mb < 30 and busy < 0.5, f"Voilà grew {grown_mb:.0f} MB, {busy:.0%} CPU after the drop"
    assert requests.get(voila.page_url("monitor.ipynb"), timeout=60).status_code == 200
    assert answers == [b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 101 Switching Protocols"]
    assert "Refused a kernel websocket without the v1.kernel.websocket.jupyter.org subprotocol" in voila.log.read_text()


@pytest.mark.slow
def test_voila_refuses_cross_origin_websockets_and_foreign_hosts_and_sends_security_headers(voila):
    kernel = _kernel_of(voila, "monitor.ipynb")
    sock, answer = _open_websocket(
        voila, kernel, subprotocol="v1.kernel.websocket.jupyter.org", origin="http://evil.example"
    )
    sock.close()
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    for path in ("/", "/voila/render/monitor.ipynb", "/voila/static/voila.js", f"/api/kernels/{kernel}", "/nothing"):
        foreign = requests.get(voila.url + path, headers={"Host": "evil.example"}, timeout=30)
        assert foreign.status_code == 400, path
        assert "does not answer to that Host name" in foreign.text
    for path in ("/voila/render/monitor.ipynb", "/voila/static/voila.js"):
        served = requests.get(voila.url + path, headers={"Host": f"localhost:{voila.port}"}, timeout=60)
        assert served.status_code == 200, path
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'self'" in served.headers["Content-Security-Policy"]


@pytest.mark.slow
def test_voila_refuses_what_a_browser_on_another_site_sends_but_a_link_to_a_page_opens(voila):
    kernel = _kernel_of(voila, "monitor.ipynb")
    page, own = voila.url + "/voila/render/monitor.ipynb", voila.url.rstrip("/")
    link = {
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
        "Referer": "https://wiki.example/ward",
    }
    assert requests.get(page, headers=link, timeout=120).status_code == 200  # a link from the lab's wiki
    refused = [
        ("GET", page, {**link, "Sec-Fetch-Dest": "iframe"}),  # framed by another site
        ("GET", page, {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}),  # fetched by a sibling site
        ("GET", f"{own}/api/kernels/{kernel}", link),  # a navigation, but not to a page
        ("GET", f"{own}/api/kernels/{kernel}", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}),
        ("GET", f"{own}/voila/static/voila.js", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}),
        ("GET", f"{own}/api/kernels/{kernel}", {"Referer": "https://evil.example/"}),  # browsers without Sec-Fetch
        ("POST", f"{own}/voila/api/shutdown/{kernel}", {"Origin": "https://evil.example"}),
        ("POST", page, {**link, "Sec-Fetch-Mode": "navigate"}),  # a cross-site form
    ]
    for method, url, headers in refused:
        answer = requests.request(method, url, headers=headers, timeout=30)
        assert answer.status_code == 403, (method, url, headers, answer.status_code)
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    sock, answer = _open_websocket(voila, kernel, subprotocol="v1.kernel.websocket.jupyter.org")
    sock.close()
    assert answer.startswith(b"HTTP/1.1 101"), answer[:200]  # our own page's websocket still opens
    sock = socket.create_connection(("127.0.0.1", voila.port), timeout=10)
    sock.sendall(
        (
            f"GET /api/kernels/{kernel}/channels HTTP/1.1\r\nHost: 127.0.0.1:{voila.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Protocol: v1.kernel.websocket.jupyter.org\r\nSec-Fetch-Site: cross-site\r\n"
            "Sec-Fetch-Mode: websocket\r\n\r\n"
        ).encode()
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 403")
    sock.close()
    same = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Referer": page}
    assert requests.get(f"{own}/voila/static/voila.js", headers=same, timeout=30).status_code == 200
    assert "Refused a cross-site request" in voila.log.read_text()
