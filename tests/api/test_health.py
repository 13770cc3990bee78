"""/health: HEAD as well as GET, what is wrong when it is not ok, and an answer within
``HEALTH_TIMEOUT`` whatever the backend does (issue #12, item 4)."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.health import HEALTH_TIMEOUT
from core.settings import Settings
from store.embedded import EmbeddedStore
from tests.helpers import demo_store


def test_head_and_get_health() -> None:
    client = TestClient(create_app(Settings(backend="embedded"), store=demo_store()))
    head = client.head("/health")
    assert head.status_code == 200
    assert head.content == b""
    got = client.get("/health")
    assert got.status_code == 200 and got.json()["status"] == "ok"
    assert got.headers["x-kpigraph-generation"] == demo_store().generation


def test_head_health_of_an_empty_store_is_503(tmp_path: Path) -> None:
    client = TestClient(
        create_app(Settings(backend="embedded"), store=EmbeddedStore(tmp_path / "e.sqlite"))
    )
    assert client.head("/health").status_code == 503
    body = client.get("/health").json()
    assert body["status"] == "empty" and "kpigraph load" in body["detail"]


class Hanging(EmbeddedStore):
    """A backend that never answers a ping (a Neo4j behind a dropped route, say)."""

    released = threading.Event()

    def ping(self) -> None:
        self.released.wait(60)


def test_health_answers_when_the_backend_hangs(tmp_path: Path) -> None:
    store = Hanging(tmp_path / "h.sqlite")
    try:
        client = TestClient(create_app(Settings(backend="embedded"), store=store))
        r = client.get("/health")
        assert r.status_code == 503
        expected = f"the embedded backend ({store.path}) did not answer within {HEALTH_TIMEOUT:g} s"
        assert r.json()["detail"] == expected
        assert r.headers["retry-after"]
    finally:
        Hanging.released.set()


def test_neo4j_ping_is_one_try_without_driver_retries(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A ping through ``execute_query`` would be retried for 5 s by the driver (7 s health
    answers with Neo4j down); it is one statement in a session, tried once."""
    from store.neo4j import Neo4jStore, connect

    driver = connect("bolt://127.0.0.1:9", "neo4j", "x", timeout=1.0)  # nothing listens on 9
    store = Neo4jStore(driver, uri="bolt://127.0.0.1:9")
    calls: list[str] = []
    monkeypatch.setattr(driver, "execute_query", lambda *a, **k: calls.append("retrying"))
    try:
        from graph_schema.errors import BackendUnavailableError

        try:
            store.ping()
        except BackendUnavailableError as exc:
            assert "bolt://127.0.0.1:9" in exc.message
        else:
            raise AssertionError("ping of a closed port succeeded")
        assert calls == []
    finally:
        store.close()
