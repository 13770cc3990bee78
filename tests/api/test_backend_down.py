"""Neo4j goes away mid-run: the API answers 503 with Retry-After, keeps running, and recovers."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from graph_schema.graph import CatalogGraph
from store.base import GraphStore

pytestmark = pytest.mark.neo4j


def test_neo4j_down_then_back(
    neo4j_connection,  # type: ignore[no-untyped-def]
    neo4j_store_factory: Callable[[], GraphStore],
    demo_graph: CatalogGraph,
) -> None:
    if neo4j_connection.stop is None or neo4j_connection.start is None:
        pytest.skip(f"a {neo4j_connection.source} Neo4j cannot be stopped by the tests")
    store = neo4j_store_factory()
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
        assert r.json()["touches_l0"] is True
        assert client.get("/health").json()["status"] == "ok"
