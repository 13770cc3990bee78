"""``/mcp`` counted failed tokens against the TCP peer even behind a proxy named in
``KPIGRAPH_TRUSTED_PROXIES`` (the rest of the API counts the client the proxy names): behind
the proxy every MCP client is the proxy's address, so one client sending ten bad tokens locked
every MCP client out (429) for the block's length. Now ``/mcp`` names the client as the API
does (:mod:`core.client_address`). Real HTTP server, as ``kpigraph serve`` configures it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.security.test_limiter_peer import BAD, serve

INIT = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
HEADERS = {**BAD, "Accept": "application/json, text/event-stream"}


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, trusted_proxies="127.0.0.1, ::1")


@pytest.fixture
def direct(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path)


def statuses(base: str, forwarded: list[str]) -> list[int]:
    with httpx.Client(base_url=base) as client:
        return [
            client.post("/mcp", json=INIT, headers={**HEADERS, "X-Forwarded-For": f}).status_code
            for f in forwarded
        ]


def test_behind_a_trusted_proxy_one_client_does_not_lock_out_the_others(
    behind_proxy: str,
) -> None:
    spread = [f"198.51.100.{i}" for i in range(6) for _ in range(5)]
    assert set(statuses(behind_proxy, spread)) == {401}
    same = [f"10.9.9.{i}, 203.0.113.7" for i in range(12)]  # made-up hops in front: one client
    codes = statuses(behind_proxy, same)
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}


def test_without_a_trusted_proxy_the_header_counts_for_nothing(direct: str) -> None:
    codes = statuses(direct, [f"198.51.100.{i}" for i in range(12)])
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
