"""A webhook receiver that drips its answer must not hold a delivery, and two server processes
must not both send one notification.

Before the fix, the delivery's timeout bounded each read only: a receiver sending one byte of
its answer every quarter second held ``Deliverer.send`` for as long as it liked. The outbox
lease was taken once for a whole batch (``4 × timeout + 5`` seconds): when it ran out, the other
server process claimed the same items and sent them again — the receiver got every
notification twice, and both processes recorded it delivered. Now a send ends by its deadline
(``DEADLINE_TIMEOUTS × timeout``) and every item is claimed on its own, its lease taken right
before it is sent. Real sockets; the two processes are two stores (and ledgers) on one file.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from governance.notify import Deliverer
from governance.webhook_send import DEADLINE_TIMEOUTS
from graph_schema.governance import OutboxStatus
from store.embedded import EmbeddedStore
from store.ledger import ledger_for
from tests.governance_helpers import free_port
from tests.security.test_webhooks import allow, queue

pytestmark = pytest.mark.usefixtures("english")

TIMEOUT = 1.0
DRIP_SECONDS = 14.0


@contextlib.contextmanager
def dripping() -> Iterator[tuple[int, list[str]]]:
    """A receiver that reads each request, then answers ``200`` one header byte every 0.25 s
    for :data:`DRIP_SECONDS` (each read of the sender gets a byte well within its timeout)."""
    port, hits, stop = free_port(), [], threading.Event()
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(0.2)

    def answer(conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            hits.append(data.split(b"\r\n", 1)[0].decode())
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                ends = time.monotonic() + DRIP_SECONDS
                while time.monotonic() < ends and not stop.is_set():
                    conn.sendall(b"x")
                    time.sleep(0.25)
                conn.sendall(b"\r\nContent-Length: 2\r\n\r\n{}")
            except OSError:
                return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port, hits
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


def test_a_dripping_receiver_gets_each_notification_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store.sqlite"
    first, second = EmbeddedStore(db), EmbeddedStore(db)
    try:
        ledger_a, ledger_b = ledger_for(first), ledger_for(second)
        with dripping() as (port, hits):
            allow(monkeypatch, port)
            queue(ledger_a, [f"http://127.0.0.1:{port}/hook/{i}" for i in range(3)])
            a = Deliverer(ledger_a, base=60.0, timeout=TIMEOUT)
            b = Deliverer(ledger_b, base=60.0, timeout=TIMEOUT)
            started = time.monotonic()
            thread = threading.Thread(target=a.deliver_due)
            thread.start()
            # past the lease a whole-batch claim took (4 × timeout + 5 s), before the drip ends
            time.sleep(TIMEOUT * 4 + 5 + 0.5)
            b.deliver_due()
            thread.join(timeout=60)
            took = time.monotonic() - started
            items = ledger_a.outbox()
        assert sorted(hits) == [f"POST /hook/{i} HTTP/1.1" for i in range(3)], hits
        assert len(items) == 3
        for item in items:
            assert item.status is OutboxStatus.PENDING and item.attempts == 1, item
            # the deliverer's thread speaks the default language
            assert re.search(r"no answer within 3 s|3 秒内没有应答", item.last_error or "")
        # three sends, each ended by its deadline
        assert took < 3 * DEADLINE_TIMEOUTS * TIMEOUT + 5 + DRIP_SECONDS / 2
    finally:
        first.close()
        second.close()
