"""Slow or huge requests (issue 14.9): header size and time caps, keep-alive timeout, body time cap."""

from __future__ import annotations

import socket
import time

import pytest

from cpap_lib.server.connections import HEADER_TIMEOUT_S, KEEP_ALIVE_S
from cpap_lib.server.process import start_server


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _closed_after(sock: socket.socket, limit_s: float) -> float | None:
    """Seconds until the server closes ``sock`` (None if still open after ``limit_s``)."""
    start = time.monotonic()
    sock.settimeout(limit_s)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conn")
    with start_server(f"sqlite:///{folder / 'c.db'}", log_path=folder / "server.log") as server:
        yield server


@pytest.mark.slow
def test_a_huge_unfinished_header_is_cut_off_without_holding_memory(plain_server):
    before = _rss_mb(plain_server.process.pid)
    sock = socket.create_connection((plain_server.host, plain_server.port), timeout=10)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
    sent = 0
    try:
        for _ in range(300):  # up to 300 MB, as the review sent
            sock.sendall(b"a" * 2**20)
            sent += 1
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.close()
    assert sent < 300, "the server kept reading an unfinished 300 MB header"
    assert _rss_mb(plain_server.process.pid) - before < 20


@pytest.mark.slow
def test_slow_headers_and_idle_keep_alive_connections_are_closed(plain_server):
    slow = socket.create_connection((plain_server.host, plain_server.port))
    slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
    idle = socket.create_connection((plain_server.host, plain_server.port))
    idle.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert idle.recv(65536).startswith(b"HTTP/1.1 200")
    idle_s = _closed_after(idle, 30)
    slow_s = _closed_after(slow, 30)
    assert idle_s is not None and idle_s < KEEP_ALIVE_S + 2
    assert slow_s is not None and slow_s < HEADER_TIMEOUT_S + 2 - idle_s


@pytest.mark.slow
def test_a_body_that_never_arrives_is_408(plain_server):
    sock = socket.create_connection((plain_server.host, plain_server.port), timeout=60)
    sock.sendall(
        b"POST /api/v1/rooms/3/measurements HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"mrn": '
    )
    answer = b""
    while not answer.endswith(b"}"):
        answer += sock.recv(65536)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408") and b"request body not received within 30 s" in answer
