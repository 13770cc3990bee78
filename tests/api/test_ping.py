"""``/api/ping``: the do-nothing endpoint benchmarks measure the HTTP floor with (issue #17).

It answers without touching the backend: also when there is no graph, or no backend at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from store.embedded import EmbeddedStore


def test_ping_answers_get_and_head_on_a_loaded_store(client: TestClient) -> None:
    got = client.get("/api/ping")
    assert got.status_code == 200
    assert got.json() == {"ok": True}
    head = client.head("/api/ping")
    assert head.status_code == 200
    assert head.content == b""


def test_ping_never_touches_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = EmbeddedStore(tmp_path / "never-loaded.sqlite")
    with TestClient(create_app(Settings(backend="embedded"), store=empty)) as client:
        assert client.get("/health").status_code == 503  # nothing loaded: health says so
        assert client.get("/api/ping").json() == {"ok": True}  # the floor does not ask

        class Tripwire:
            """A reader whose every read fails the test."""

            def __getattr__(self, name: str) -> object:
                raise AssertionError(f"/api/ping touched the store ({name})")

        # taking a snapshot does no I/O (the app takes one per request); reading from it would
        monkeypatch.setattr(empty, "snapshot", Tripwire)
        for name in ("info", "ping", "search", "get_nodes"):
            monkeypatch.setattr(empty, name, lambda *_a, **_k: Tripwire().read)
        assert client.get("/api/ping").json() == {"ok": True}
        with pytest.raises(AssertionError, match="touched the store"):
            client.get("/api/metrics", params={"q": "x"})  # the patch does bite
