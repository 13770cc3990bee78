"""What killed Neo4j loads leave behind is swept, in bounded transactions, and reported, at
the start of ``kpigraph load`` and ``kpigraph serve`` (issue #12, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

import store.neo4j as neo4j_store
from graph_schema.graph import CatalogGraph
from store.neo4j import Neo4jStore
from tests.contract.test_neo4j_generations import sizes, stored
from tests.helpers import DEMO, ROOT, synthetic_graph

pytestmark = pytest.mark.neo4j


def plant_dead_load(store: Neo4jStore, n_metrics: int = 20) -> int:
    """What a load killed an hour ago leaves: its stage record and its staged nodes."""
    dead = synthetic_graph(n_metrics, name="dead")
    store.driver.execute_query(
        "CREATE (:KpiMeta {key: 'stage:dead', gen: 'dead', "
        "touched: datetime() - duration('PT1H'), started: datetime() - duration('PT1H')})"
    )
    store.driver.execute_query(
        "UNWIND $rows AS row CREATE (n:KpiNode:Metric) SET n = row, n._gen = 'dead'",
        rows=[neo4j_store.node_row(n) for n in dead.nodes],
    )
    return len(dead.nodes)


def test_sweep_orphans_reports_what_it_removed(
    neo4j_store_factory: Callable[[], Neo4jStore], demo_graph: CatalogGraph
) -> None:
    store = neo4j_store_factory()
    store.load(demo_graph)
    planted = plant_dead_load(store)
    report = store.sweep_orphans()
    assert (report.loads, report.nodes) == (1, planted)
    assert (
        str(report)
        == f"removed {planted:,} node(s) of unpublished generations (1 abandoned load(s))"
    )
    assert stored(store) == sizes(demo_graph)
    again = store.sweep_orphans()
    assert (again.loads, again.nodes) == (0, 0)


def test_cli_load_sweeps_first_and_says_so(
    neo4j_store_factory: Callable[[], Neo4jStore],
    neo4j_connection,
    demo_graph: CatalogGraph,  # type: ignore[no-untyped-def]
) -> None:
    store = neo4j_store_factory()
    store.load(demo_graph)
    planted = plant_dead_load(store)
    c = neo4j_connection
    env = {
        **os.environ,
        "KPIGRAPH_NEO4J_URI": c.uri,
        "KPIGRAPH_NEO4J_USER": c.user,
        "KPIGRAPH_NEO4J_PASSWORD": c.password,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "load", str(DEMO), "--backend", "neo4j"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    # worded in the catalog's language (zh)
    assert f"先行清理：删除了未发布世代的 {planted:,} 个节点" in proc.stderr, proc.stderr
    assert stored(store) == sizes(demo_graph)
