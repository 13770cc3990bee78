"""The failed-token limiter keys on the TCP peer (issue 21 item 7): on the landed code 30 bad
tokens sent with 30 different ``X-Forwarded-For`` headers were never refused, because the
server (uvicorn's default) took the header's address as the client. Now the header counts only
from a proxy named in ``KPIGRAPH_TRUSTED_PROXIES``, and then its last untrusted hop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from cli.serve import SERVER_LIMITS
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.governance_helpers import free_port, fresh_ledger, make_people
from tests.helpers import DEMO

BAD = {"Authorization": "Bearer kpg_000000000000_not-a-real-secret-at-all-xxxxxxxxxxxxxxx"}


def serve(tmp_path: Path, **settings: str) -> Iterator[str]:
    """A real server configured as ``kpigraph serve`` configures it (``SERVER_LIMITS``)."""
    store = EmbeddedStore(tmp_path / "store.sqlite")
    store.load(load_catalog(DEMO))
    make_people(fresh_ledger(store))
    app = create_app(Settings(backend="embedded", notify=False, **settings), store=store)  # type: ignore[arg-type]
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **SERVER_LIMITS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "test server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.fixture
def direct(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path)


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, trusted_proxies="127.0.0.1, ::1")


def statuses(base: str, forwarded: list[str]) -> list[int]:
    with httpx.Client(base_url=base) as client:
        return [
            client.get("/api/me", headers={**BAD, "X-Forwarded-For": f}).status_code
            for f in forwarded
        ]


def test_spoofed_forwarded_for_does_not_escape_the_limit(direct: str) -> None:
    codes = statuses(direct, [f"198.51.100.{i}" for i in range(30)])
    assert codes[:10] == [401] * 10
    assert set(codes[10:]) == {429}


def test_behind_a_trusted_proxy_the_last_untrusted_hop_counts(behind_proxy: str) -> None:
    # each "client" behind the proxy fails 5 times: nobody is blocked
    spread = [f"198.51.100.{i}" for i in range(6) for _ in range(5)]
    assert set(statuses(behind_proxy, spread)) == {401}
    # one client that writes its own made-up hops in front: still one client
    same = [f"10.9.9.{i}, 203.0.113.7" for i in range(12)]
    codes = statuses(behind_proxy, same)
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
