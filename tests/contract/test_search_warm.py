"""Search on Neo4j before its index is ready (issue #17, warm server).

A Neo4j store builds the in-process search index of a generation in the background; until it
is ready a search is ranked in Cypher (``store.neo4j_cypher.search_nodes_query``). Both must give
the same answer — the same total and the same refs in the same order — for every query the
contract suite asks, and a few more (filters, pages, other kinds, odd text).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind
from loaders.catalog import load_catalog
from store.base import SearchQuery
from tests.helpers import CATALOGS

ALL = frozenset(NodeKind)
QUERIES = [
    SearchQuery(text="atp"),
    SearchQuery(text=" ATP "),
    SearchQuery(text="客单价"),
    SearchQuery(text="客单"),
    SearchQuery(text="毛利"),
    SearchQuery(text="台次", limit=50),
    SearchQuery(text="单次进厂消费"),
    SearchQuery(text="率", limit=5),
    SearchQuery(text="率", limit=7, offset=3),
    SearchQuery(level="L0", limit=50),
    SearchQuery(level="L1", limit=50),
    SearchQuery(department="finance", limit=100),
    SearchQuery(domain="财务", level="L1", limit=100),
    SearchQuery(status="active", text="率", limit=100),
    SearchQuery(limit=1000),
    *(SearchQuery(limit=10, offset=o) for o in range(0, 40, 10)),
    SearchQuery(limit=10, offset=1000),
    SearchQuery(text="total_amount", kinds=frozenset({NodeKind.FIELD})),
    SearchQuery(text="DMS", kinds=ALL),
    SearchQuery(text="dms", kinds=ALL, limit=100),
    SearchQuery(text="订单", kinds=ALL, limit=100),
    SearchQuery(text="营收", kinds=ALL, limit=50),
    SearchQuery(text="revenue", kinds=ALL, limit=50),
    SearchQuery(text="m", kinds=ALL, limit=500),
    SearchQuery(text="a", kinds=ALL, limit=500),
    SearchQuery(text="aarrr", limit=100),
    SearchQuery(text="AARRR-Retention"),
    SearchQuery(text="x\x02y"),
    SearchQuery(text="no such thing at all"),
    SearchQuery(text="", kinds=frozenset({NodeKind.DEPARTMENT, NodeKind.DIMENSION}), limit=50),
    SearchQuery(text="率", limit=0),
    SearchQuery(text="率", department="nobody"),
]


def _both(store: object, query: SearchQuery) -> tuple[tuple[int, list[str]], tuple[int, list]]:
    reader = store.snapshot()  # type: ignore[attr-defined]
    reader.info()
    gen = reader.generation
    index = reader._indexes.get(gen, lambda: reader._build_index(gen))
    return reader._search_cypher(query), index.page(query)


@pytest.mark.parametrize("catalog", ["automotive_aftersales", "nev_sales"])
def test_cypher_search_ranks_as_the_index_does(
    neo4j_store_factory: Callable[[], object], catalog: str
) -> None:
    store = neo4j_store_factory()
    graph: CatalogGraph = load_catalog(CATALOGS / catalog)
    store.load(graph)  # type: ignore[attr-defined]
    matched = 0
    for query in QUERIES:
        cypher, index = _both(store, query)
        assert cypher == index, query
        matched += bool(index[0])
    assert matched >= 15  # the queries do find things


def test_a_search_before_the_index_is_ready_answers_from_neo4j(
    neo4j_store_factory: Callable[[], object],
    neo4j_reopen: Callable[[object], object],
    demo_graph: CatalogGraph,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from store.neo4j_reader import SearchIndexes

    loaded = neo4j_store_factory()
    loaded.load(demo_graph)  # type: ignore[attr-defined]
    expected = [loaded.search(q) for q in QUERIES]  # type: ignore[attr-defined]

    started: list[str] = []
    monkeypatch.setattr(
        SearchIndexes, "start", lambda self, gen, build, file=None: started.append(gen)
    )
    cold = neo4j_reopen(loaded)  # a fresh process's store: no index yet
    try:
        assert [cold.search(q) for q in QUERIES] == expected  # type: ignore[attr-defined]
        gen = cold.generation  # type: ignore[attr-defined]
        assert started and set(started) == {gen}  # each search asked for the build
        assert cold._indexes.ready(gen) is None  # type: ignore[attr-defined]
    finally:
        cold.close()  # type: ignore[attr-defined]

    monkeypatch.undo()
    warm = neo4j_reopen(loaded)
    try:
        warm.warm()  # type: ignore[attr-defined]
        gen = warm.generation  # type: ignore[attr-defined]
        for _ in range(600):  # waits for the background build (not a timing assertion)
            if warm._indexes.ready(gen) is not None:  # type: ignore[attr-defined]
                break
            time.sleep(0.1)
        assert warm._indexes.ready(gen) is not None  # type: ignore[attr-defined]
        assert [warm.search(q) for q in QUERIES] == expected  # type: ignore[attr-defined]
    finally:
        warm.close()  # type: ignore[attr-defined]


def test_routing_uri_reads_and_writes(neo4j_connection: object, demo_graph: CatalogGraph) -> None:
    """``neo4j://`` works as ``bolt://`` does: loads go to the leader (``execute_write``), reads
    to readers, the pinning read to the leader; one bookmark manager for all sessions."""
    from store.neo4j import Neo4jStore, connect

    c = neo4j_connection
    uri = c.uri.replace("bolt://", "neo4j://")  # type: ignore[attr-defined]
    assert uri.startswith("neo4j://")
    store = Neo4jStore(connect(uri, c.user, c.password), uri=uri)  # type: ignore[attr-defined]
    try:
        assert store.routing
        store.clear()
        store.load(demo_graph)
        assert store.bookmarks.get_bookmarks()  # the load's bookmarks are kept
        assert store.search(SearchQuery(text="客单价")).items[0].id == "atp"
        assert store.info().counts == demo_graph.counts()
    finally:
        store.close()
