"""uvicorn's limits are set explicitly by ``kpigraph serve`` and hold (issue #12, item 4): a
request head past 64 KiB is refused before the app, a large one within it is answered."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from cli.serve import SERVER_LIMITS
from tests.api.test_damaged_db import free_port, kpigraph
from tests.helpers import DEMO, ROOT


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    db = tmp_path_factory.mktemp("limits") / "g.sqlite"
    assert kpigraph("load", DEMO, "--db", db).returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--db", str(db), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def raw(host: str, port: int, head: bytes) -> bytes:
    """Send ``head``; what came back (``b"RESET"`` when the server cut the connection while
    it was still being sent: refused without an answer we could read)."""
    chunks = []
    with socket.create_connection((host, port), timeout=10) as s:
        try:
            s.sendall(head)
            while data := s.recv(65536):
                chunks.append(data)
        except ConnectionResetError:
            return b"".join(chunks) or b"RESET"
    return b"".join(chunks)


def test_request_head_over_the_limit_is_refused(server: tuple[str, int]) -> None:
    host, port = server
    limit = SERVER_LIMITS["h11_max_incomplete_event_size"]
    big = b"x" * (4 * limit)  # a head arriving in pieces, past the limit before it ends
    answer = raw(
        host, port, b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + big + b"\r\n\r\n"
    )
    assert answer.startswith((b"HTTP/1.1 400", b"RESET")), answer[:200]


def test_request_head_within_the_limit_is_answered(server: tuple[str, int]) -> None:
    host, port = server
    header = b"y" * (SERVER_LIMITS["h11_max_incomplete_event_size"] // 2)
    answer = raw(
        host,
        port,
        b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Big: "
        + header
        + b"\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b"server: uvicorn" not in answer.lower()
