"""The Neo4j load's transactions: bounded, complete, nodes before edges (no server needed;
the load itself is tested against a real Neo4j in tests/contract)."""

from __future__ import annotations

import pytest

import store.neo4j_load as neo4j_load
from store import neo4j_cypher as cy
from tests.helpers import synthetic_graph


@pytest.mark.parametrize("batch", [7, 40, 10_000])
def test_batches_are_bounded_complete_and_ordered(
    batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = synthetic_graph(60)
    monkeypatch.setattr(neo4j_load, "BATCH", batch)
    batches = neo4j_load.load_batches(graph)
    assert all(0 < sum(len(rows) for _, rows in b) <= batch for b in batches)
    statements = [query for b in batches for query, _ in b]
    node_queries = set(cy.CREATE_NODES.values())
    kinds = [query in node_queries for query in statements]
    assert kinds == sorted(kinds, reverse=True)  # every node statement before any edge one
    rows = [row for b in batches for _, rs in b for row in rs]
    assert sorted(r["ref"] for r in rows if "ref" in r) == sorted(str(n.ref) for n in graph.nodes)
    assert len(rows) == len(graph.nodes) + len(graph.edges)


def test_small_kinds_share_a_transaction() -> None:
    graph = synthetic_graph(60)  # 122 nodes of 3 kinds, 179 edges of 3 types
    assert len(neo4j_load.load_batches(graph)) == 1
