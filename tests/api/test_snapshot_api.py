"""One graph per HTTP request: generation headers, ETag / 304, whole-request retry, and no
mixed answers over HTTP while loads alternate (issue #12, item 1)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from graph_schema.graph import CatalogGraph
from store.base import GraphReplacedError, GraphStore
from tests.contract.test_snapshot import mixed, renamed

pytestmark = pytest.mark.neo4j

IMPACT = "/api/nodes/Field:dms.dms_orders.total_amount/impact"


@pytest.fixture
def app_client(store: GraphStore) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(backend=store.backend), store=store)) as c:
        yield c


def test_answers_name_their_generation(
    app_client: TestClient, store: GraphStore, demo_graph: CatalogGraph
) -> None:
    gen = store.generation
    r = app_client.get(IMPACT)
    assert r.status_code == 200
    assert r.headers["x-kpigraph-generation"] == gen
    assert r.headers["etag"] == f'W/"{gen}"'
    again = app_client.get(IMPACT, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == r.headers["etag"]
    store.load(renamed(demo_graph))
    after = app_client.get(IMPACT, headers={"If-None-Match": r.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["x-kpigraph-generation"] == store.generation != gen
    assert any(m["name"].endswith("·V2") for m in after.json()["metrics"])


def test_pages_name_their_generation_without_etag(app_client: TestClient) -> None:
    """A page also shows who is signed in and values: the generation alone does not fix it."""
    r = app_client.get("/metrics/atp")
    assert r.status_code == 200
    assert r.headers["x-kpigraph-generation"]
    assert "etag" not in r.headers


def test_answers_that_depend_on_more_than_the_graph_have_no_etag(app_client: TestClient) -> None:
    """Comments and values change without a load: the generation does not name them."""
    assert "etag" in app_client.get("/api/metrics/atp").headers
    for url in ("/api/metrics/atp/comments", "/api/metrics/atp/values"):
        assert "etag" not in app_client.get(url).headers, url


def flaky(store: GraphStore, failures: int) -> list[int]:
    """Make the next ``failures`` snapshots refuse as replaced; returns the attempt log."""
    attempts: list[int] = []
    real = store.snapshot

    def snapshot() -> Any:
        attempts.append(1)
        if len(attempts) <= failures:
            reader = real()

            class Replaced:
                backend = reader.backend
                pinned_generation = None

                def __getattr__(self, name: str) -> Any:
                    def refuse(*_a: object, **_k: object) -> Any:
                        raise GraphReplacedError("test", "old")

                    return refuse

            return Replaced()
        return real()

    store.snapshot = snapshot  # type: ignore[method-assign]
    return attempts


def test_request_refused_as_replaced_is_retried_whole(
    app_client: TestClient, store: GraphStore
) -> None:
    attempts = flaky(store, failures=2)
    r = app_client.get(IMPACT)
    assert r.status_code == 200, r.text
    assert len(attempts) == 3  # two refusals, then one whole answer
    assert "x-kpigraph-retry" not in r.headers


def test_request_refused_every_time_is_a_503_to_retry(
    app_client: TestClient, store: GraphStore
) -> None:
    flaky(store, failures=99)
    r = app_client.get(IMPACT)
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "graph_replaced"
    assert r.headers["retry-after"] == "1"
    assert "x-kpigraph-retry" not in r.headers
    page = app_client.get("/metrics/atp")
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")


#: Links to nodes on a page; their text is the node's name (or its id, for fields).
NODE_LINK = re.compile(r'<a href="/(?:metrics/[a-z0-9_]+|nodes/[^"/?]+)"[^>]*>(.*?)</a>', re.S)


def page_mixed(html: str) -> bool:
    """Both catalogs' names among a page's node links (ids, all ASCII, are not names)."""
    names = [text.strip() for text in NODE_LINK.findall(html) if not text.isascii()]
    return len({name.endswith("·V2") for name in names}) > 1


def test_no_http_answer_mixes_two_loads(
    store: GraphStore,
    reopen_store: Callable[[GraphStore], GraphStore],
    demo_graph: CatalogGraph,
    backend: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A server handle answers while another handle loads the demo and its ·V2 copy in turn."""
    writer = reopen_store(store)
    done = threading.Event()

    def load() -> None:
        try:
            for i in range(6):
                writer.load([renamed(demo_graph), demo_graph][i % 2])
                time.sleep(0.2)
        finally:
            done.set()

    urls = [IMPACT, "/api/metrics/atp", "/api/nodes/atp/lineage?depth=2", "/metrics/atp"]
    counts = {"answers": 0, "mixed": 0, "503": 0}
    with TestClient(create_app(Settings(backend=store.backend), store=store)) as client:
        for url in urls:  # warm: the first metric page starts the values engine
            client.get(url)
        loader = threading.Thread(target=load)
        loader.start()
        try:
            while not done.is_set():
                for url in urls:
                    r = client.get(url)
                    if r.status_code == 503:
                        counts["503"] += 1
                        continue
                    assert r.status_code == 200, (url, r.text[:300])
                    counts["answers"] += 1
                    if url.startswith("/api"):
                        counts["mixed"] += mixed(r.json())
                    else:
                        counts["mixed"] += page_mixed(r.text)
        finally:
            loader.join(timeout=120)
            writer.close()
    with capsys.disabled():
        print(f"\n[{backend}] HTTP: {counts}")
    assert counts["answers"] > 0
    assert counts["mixed"] == 0
