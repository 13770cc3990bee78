"""Incremental Neo4j reloads (issue #17): a reload writes versions of the changed nodes into
the live generation instead of a new generation (see store/neo4j_cypher_load.py, "load").

These look inside the database (raw Cypher through the driver) to count what was written, as
test_embedded_reload_writes_only_changed_rows counts SQLite rows.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import store.neo4j_sweep as neo4j_sweep
from analysis.card import node_card
from analysis.lineage import lineage
from analysis.results import Direction
from core.publish import publish
from graph_schema.diff import snapshot
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from loaders.catalog import load_catalog
from store.base import GraphReplacedError
from store.neo4j import Neo4jStore
from tests.helpers import DEMO

pytestmark = pytest.mark.neo4j

StoreFactory = Callable[[], Neo4jStore]
NPS = NodeRef.parse("Metric:nps")
ATP = NodeRef.parse("atp")


def stored(store: Neo4jStore) -> tuple[int, int, int]:
    """(generations, node versions, relationships) stored, visible or not."""
    rec = store.driver.execute_query(
        "MATCH (n:KpiNode) WITH count(DISTINCT n._gen) AS gens, count(n) AS nodes "
        "OPTIONAL MATCH (:KpiNode)-[r]->(:KpiNode) RETURN gens, nodes, count(r) AS rels"
    ).records[0]
    return rec["gens"], rec["nodes"], rec["rels"]


def renamed(graph: CatalogGraph, ref: NodeRef, name: str) -> CatalogGraph:
    nodes = tuple(n.model_copy(update={"name": name}) if n.ref == ref else n for n in graph.nodes)
    return CatalogGraph(graph.name, nodes, graph.edges, graph.meta)


def degree(graph: CatalogGraph, ref: NodeRef) -> int:
    return sum(ref in (e.source, e.target) for e in graph.edges)


def test_reload_writes_only_the_changed_node_and_its_relationships(
    neo4j_store_factory: StoreFactory, tmp_path: Path
) -> None:
    """The Neo4j twin of test_embedded_reload_writes_only_changed_rows: a one-file edit
    writes one node version and that node's relationships, nothing else."""
    catalog = tmp_path / "demo"
    shutil.copytree(DEMO, catalog)
    store = neo4j_store_factory()
    graph = load_catalog(catalog)
    assert publish(store, graph).revision == 1
    full = store.generation
    assert "." not in full  # the first load writes a generation
    assert stored(store) == (1, len(graph.nodes), len(graph.edges))

    path = catalog / "metrics/customer/nps.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Net Promoter Score\n", "Net Promoter Score (NPS)\n", 1), "utf-8")
    edited = load_catalog(catalog)
    assert publish(store, edited, check_versions=False).revision == 2
    assert store.generation == f"{full}.1"
    # one new version of nps + copies of its relationships; its old version stays (closed)
    # for readers pinned before the reload, until the next load
    gens, nodes, rels = stored(store)
    assert (gens, nodes, rels) == (1, len(graph.nodes) + 1, len(graph.edges) + degree(graph, NPS))
    assert len(graph.nodes) + len(graph.edges) > 200
    assert {(c.ref, c.op.value) for c in store.revision(2).node_changes} == {
        ("Metric:nps", "modified")
    }
    assert store.get_nodes([NPS])[NPS].name_en == "Net Promoter Score (NPS)"  # type: ignore[attr-defined]
    assert store.catalog_data() == snapshot(store.catalog(at=2))  # the graph = its history

    # unchanged: nothing written
    assert publish(store, load_catalog(catalog)).revision is None
    assert stored(store) == (gens, nodes, rels)
    # the next edit sweeps the version no reader can see any more
    second = renamed(store.catalog(), ATP, "客单价（新）")
    assert store.load(second).meta["revision"] == 3
    assert store.generation == f"{full}.2"
    expected_nodes = len(graph.nodes) + 1  # atp's closed version; nps's is gone
    assert stored(store) == (1, expected_nodes, len(graph.edges) + degree(graph, ATP))
    assert snapshot(store.catalog()) == snapshot(second)


def test_reader_pinned_before_an_incremental_reload_reads_the_old_graph(
    neo4j_store_factory: StoreFactory, demo_graph: CatalogGraph
) -> None:
    store = neo4j_store_factory()
    store.load(demo_graph)
    before = store.snapshot()
    old_card = node_card(before, ATP).model_dump()
    old_lineage = lineage(before, ATP, Direction.BOTH, 2).model_dump()
    old_info = before.info()
    store.load(renamed(demo_graph, ATP, "客单价·V2"))
    assert "." in store.generation  # incremental
    # every query of the old reader: the graph it started with
    assert before.get_nodes([ATP])[ATP].name == "客单价"
    assert node_card(before, ATP).model_dump() == old_card
    assert lineage(before, ATP, Direction.BOTH, 2).model_dump() == old_lineage
    assert before.info() == old_info
    assert before.labels([ATP])[ATP].name == "客单价"
    # a new reader: the new graph, whole
    after = store.snapshot()
    assert after.get_nodes([ATP])[ATP].name == "客单价·V2"
    # the same lineage: the new version has its relationships (the root's name is not in it)
    assert lineage(after, ATP, Direction.BOTH, 2).model_dump() == old_lineage
    assert node_card(after, ATP).model_dump() != old_card
    # two loads later the old reader's versions may be swept: refused, never mixed
    store.load(renamed(demo_graph, ATP, "客单价·V3"))
    with pytest.raises(GraphReplacedError):
        before.get_nodes([ATP])
    assert after.get_nodes([ATP])[ATP].name == "客单价·V2"


def test_dead_incremental_load_changes_nothing_and_is_swept(
    neo4j_store_factory: StoreFactory,
    demo_graph: CatalogGraph,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An incremental load that died after writing its versions (no discard ran, as when
    killed): nothing visible changes, and a later load sweeps them once the heartbeat is
    stale."""
    store = neo4j_store_factory()
    store.load(demo_graph)
    live = store.generation
    before = stored(store)
    monkeypatch.setattr(neo4j_sweep, "discard", lambda conn, gen: None)

    def die(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.load(renamed(demo_graph, ATP, "客单价·dead"), progress=die)
    assert stored(store)[1] > before[1]  # its pending versions are there
    assert store.generation == live and store.head() == 1
    assert store.get_nodes([ATP])[ATP].name == "客单价"
    assert snapshot(store.catalog()) == snapshot(demo_graph)
    monkeypatch.undo()
    store.load(demo_graph)  # unchanged; the dead load's heartbeat is fresh: kept
    assert stored(store)[1] > before[1]
    monkeypatch.setattr(neo4j_sweep, "STAGE_TIMEOUT", dt.timedelta(0))
    store.load(demo_graph)
    assert stored(store) == before
    assert store.load(renamed(demo_graph, ATP, "客单价·V2")).meta["revision"] == 2
    assert store.get_nodes([ATP])[ATP].name == "客单价·V2"


def test_large_change_writes_a_new_generation(
    neo4j_store_factory: StoreFactory, demo_graph: CatalogGraph
) -> None:
    store = neo4j_store_factory()
    store.load(demo_graph)
    first = store.generation
    nodes = tuple(n.model_copy(update={"name": n.name + "·all"}) for n in demo_graph.nodes)
    store.load(CatalogGraph(demo_graph.name, nodes, demo_graph.edges, demo_graph.meta))
    assert "." not in store.generation and store.generation != first
    assert stored(store) == (1, len(demo_graph.nodes), len(demo_graph.edges))
