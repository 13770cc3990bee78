"""/health is open (load balancers probe it) but, when reads require sign-in, tells an anonymous
caller nothing a reader would be refused: not the catalog's name, its counts or when it was
loaded, and not the store's path or address when the backend fails (found by review11: they
were all in the anonymous answer)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from graph_schema.graph import CatalogGraph
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people


def test_anonymous_health_of_a_closed_server_says_only_ok(
    make_store: Any, demo_graph: CatalogGraph
) -> None:
    store = make_store()
    store.load(demo_graph)
    _users, tokens = make_people(fresh_ledger(store))
    closed = create_app(
        Settings(backend=store.backend, notify=False, read_auth="required"), store=store
    )
    with TestClient(closed) as client:
        anonymous = client.get("/health")
        assert anonymous.status_code == 200
        assert anonymous.json() == {
            "status": "ok",
            "backend": store.backend,
            "catalog": None,
            "loaded_at": None,
            "counts": {},
            "detail": None,
        }
        bad = client.get("/health", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 200 and bad.json()["catalog"] is None
        reader = client.get("/health", headers={"Authorization": f"Bearer {tokens['guest']}"})
        assert reader.json()["catalog"] == demo_graph.name
        assert reader.json()["counts"]["Metric"] > 0
    open_app = create_app(Settings(backend=store.backend, notify=False), store=store)
    with TestClient(open_app) as client:  # reads open to all: the whole answer, as before
        assert client.get("/health").json()["catalog"] == demo_graph.name


class Hanging(EmbeddedStore):
    """A backend that never answers a ping."""

    released = threading.Event()

    def ping(self) -> None:
        self.released.wait(60)


def test_a_closed_server_does_not_name_its_store_when_it_hangs(tmp_path: Path) -> None:
    store = Hanging(tmp_path / "secret-place" / "h.sqlite")
    try:
        app = create_app(Settings(backend="embedded", read_auth="required"), store=store)
        r = TestClient(app).get("/health")
        assert r.status_code == 503 and r.headers["retry-after"]
        assert r.json()["status"] == "unavailable"
        assert "secret-place" not in r.text and r.json()["detail"] is None
    finally:
        Hanging.released.set()
