"""Neo4j goes away mid-run: the API answers 503 with Retry-After, keeps running, and recovers."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from graph_schema.graph import CatalogGraph
from store.base import GraphStore

pytestmark = pytest.mark.neo4j


@pytest.fixture
def stoppable_neo4j(neo4j_connection, tmp_path):  # type: ignore[no-untyped-def]
    """The session's Neo4j when the tests control it; otherwise a private local one."""
    if neo4j_connection.stop is not None and neo4j_connection.start is not None:
        yield neo4j_connection
        return
    from tests.conftest import private_neo4j

    with private_neo4j(tmp_path / "neo4j", heap="512m") as conn:
        yield conn


def test_neo4j_down_then_back(stoppable_neo4j, demo_graph: CatalogGraph) -> None:  # type: ignore[no-untyped-def]
    from store.neo4j import Neo4jStore, connect

    neo4j_connection = stoppable_neo4j
    c = neo4j_connection
    store: GraphStore = Neo4jStore(connect(c.uri, c.user, c.password), uri=c.uri)
    store.load(demo_graph)
    with TestClient(create_app(Settings(backend="neo4j"), store=store)) as client:
        assert client.get("/api/nodes/Metric:atp/impact").status_code == 200
        neo4j_connection.stop()
        try:
            r = client.get("/api/nodes/Metric:atp/impact")
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "5"
            assert r.json()["error"]["code"] == "backend_unavailable"
            assert neo4j_connection.uri in r.json()["error"]["message"]
            health = client.get("/health")
            assert health.status_code == 503 and health.json()["status"] == "unavailable"
            assert client.get("/api/metrics", params={"q": "客单价"}).status_code == 503
        finally:
            neo4j_connection.start()
        deadline = time.monotonic() + 60
        while True:
            r = client.get("/api/nodes/Metric:atp/impact")
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert r.status_code == 200, r.text
        assert r.json()["influences_l0"] is True
        assert client.get("/health").json()["status"] == "ok"
    store.close()
