"""The Neo4j load as staged generations: bounded transactions, one swap, sweeping what is left.

These look inside the database (raw Cypher through the driver) to check what the store's
interface cannot show: how many generations are stored, and what a failed load leaves behind.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import store.neo4j as neo4j_store
import store.neo4j_load as neo4j_load
import store.neo4j_sweep as neo4j_sweep
from graph_schema.errors import StoreError
from graph_schema.graph import CatalogGraph
from store.base import SearchQuery
from store.neo4j import Neo4jStore, connect
from tests.conftest import private_neo4j
from tests.helpers import synthetic_graph

StoreFactory = Callable[[], Neo4jStore]


def stored(store: Neo4jStore) -> tuple[int, int, int]:
    """(generations, nodes, relationships) stored, published or not."""
    rec = store.driver.execute_query(
        "MATCH (n:KpiNode) WITH count(DISTINCT n._gen) AS gens, count(n) AS nodes "
        "OPTIONAL MATCH (:KpiNode)-[r]->(:KpiNode) RETURN gens, nodes, count(r) AS rels"
    ).records[0]
    return rec["gens"], rec["nodes"], rec["rels"]


def sizes(graph: CatalogGraph) -> tuple[int, int, int]:
    return 1, len(graph.nodes), len(graph.edges)


def test_reload_keeps_one_generation(
    neo4j_store_factory: StoreFactory, demo_graph: CatalogGraph
) -> None:
    store = neo4j_store_factory()
    store.load(demo_graph)
    assert stored(store) == sizes(demo_graph)
    small = synthetic_graph(30, name="small")
    store.load(small)
    assert stored(store) == sizes(small)
    assert store.info().catalog == "small"
    store.load(demo_graph)
    assert stored(store) == sizes(demo_graph)


def test_load_that_loses_its_stage_fails_and_changes_nothing(
    neo4j_store_factory: StoreFactory,
    demo_graph: CatalogGraph,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another load's sweep removed this load's stage record (it looked dead): the load must
    stop with a clear error, publish nothing and leave the previous graph as it was."""
    store = neo4j_store_factory()
    store.load(demo_graph)
    before = store.info()
    monkeypatch.setattr(neo4j_load, "BATCH", 40)

    def progress(done: int, total: int) -> None:
        store.driver.execute_query("MATCH (s:KpiMeta) WHERE s.key STARTS WITH 'stage:' DELETE s")

    with pytest.raises(StoreError, match="removed by another load; run the load again"):
        store.load(synthetic_graph(200, name="lost"), progress=progress)
    assert store.info() == before
    assert stored(store) == sizes(demo_graph)  # the staged nodes were discarded


def test_dead_load_is_swept_by_the_next_one(
    neo4j_store_factory: StoreFactory,
    demo_graph: CatalogGraph,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A load that died after writing (no discard ran) leaves an unpublished generation that
    readers never see; the next load sweeps it once its heartbeat is stale, not before."""
    store = neo4j_store_factory()
    store.load(demo_graph)
    dead = synthetic_graph(20, name="dead")
    store.driver.execute_query(
        "CREATE (:KpiMeta {key: 'stage:dead', gen: 'dead', touched: datetime()})"
    )
    store.driver.execute_query(
        "UNWIND $rows AS row CREATE (n:KpiNode:Metric) SET n = row, n._gen = 'dead'",
        rows=[neo4j_store.node_row(n) for n in dead.nodes],
    )
    assert store.search(SearchQuery(text="合成指标")).total == 0  # never visible
    store.load(demo_graph)  # heartbeat is fresh: a load may still be writing it
    assert stored(store)[:2] == (2, len(demo_graph.nodes) + len(dead.nodes))
    monkeypatch.setattr(neo4j_sweep, "STAGE_TIMEOUT", dt.timedelta(0))
    store.load(demo_graph)
    assert stored(store) == sizes(demo_graph)
    stages = store.driver.execute_query(
        "MATCH (s:KpiMeta) WHERE s.key STARTS WITH 'stage:' RETURN count(s) AS n"
    ).records[0]["n"]
    assert stages == 0


@pytest.fixture(scope="module")
def capped_neo4j() -> Iterator[str]:
    """A private local Neo4j whose transactions may use at most 64 MB."""
    data = Path(tempfile.mkdtemp(prefix="kpigraph-neo4j-capped-"))
    with private_neo4j(data, tx_max_mb=64) as conn:
        yield conn.uri


def test_load_larger_than_one_transaction_may_hold(
    capped_neo4j: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What failed at 100k metrics (one transaction, out of memory), in small: a graph whose
    one-transaction load overflows the cap loads in bounded batches; the overflow itself is
    reported as what it is, and changes nothing."""
    store = Neo4jStore(connect(capped_neo4j, "neo4j", "x"), uri=capped_neo4j)
    try:
        small = synthetic_graph(10, name="before")
        store.load(small)
        big = synthetic_graph(20_000, name="big")
        monkeypatch.setattr(neo4j_load, "BATCH", 10**9)  # every kind in one transaction
        with pytest.raises(StoreError, match=r"ran out of transaction memory.*nothing was changed"):
            store.load(big)
        assert store.info().catalog == "before"
        assert stored(store) == sizes(small)
        monkeypatch.setattr(neo4j_load, "BATCH", 2_000)
        store.load(big)
        assert store.info().catalog == "big"
        assert stored(store) == sizes(big)
    finally:
        store.close()
