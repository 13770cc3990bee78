"""The naive way, for comparison: one MERGE per node and per edge, each in its own transaction.

It writes the same node rows as the real loader, into a generation of its own that is never
published (the real loader CREATEs batches of 10,000 rows, see :mod:`store.neo4j_cypher`).
"""

from __future__ import annotations

import json
import time

from neo4j import Driver

from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind
from graph_schema.relations import Relation
from store import neo4j_cypher as cy
from store.neo4j import node_row

#: One MERGE per node and per edge; labels and types come from the closed enums.
NAIVE_MERGE_NODE: dict[NodeKind, str] = {
    kind: (
        f"UNWIND $rows AS row MERGE (n:KpiNode:{kind.value} {{_gen: $gen, ref: row.ref}}) "
        "SET n += row"
    )
    for kind in NodeKind
}
NAIVE_MERGE_EDGE: dict[Relation, str] = {
    rel: (
        "UNWIND $rows AS row "
        "MATCH (a:KpiNode {_gen: $gen, ref: row.source}) "
        "MATCH (b:KpiNode {_gen: $gen, ref: row.target}) "
        f"MERGE (a)-[r:{rel.value}]->(b) SET r.props = row.props"
    )
    for rel in Relation
}


def naive_load(driver: Driver, graph: CatalogGraph, database: str = "neo4j") -> float:
    """Seconds to load ``graph`` row at a time (its generation is swept afterwards)."""
    gen = "naive"
    started = time.perf_counter()
    with driver.session(database=database) as session:
        for node in graph.nodes:
            query, rows = NAIVE_MERGE_NODE[node.kind], [node_row(node)]
            session.execute_write(lambda tx, q=query, r=rows: tx.run(q, rows=r, gen=gen).consume())
        for edge in graph.edges:
            query = NAIVE_MERGE_EDGE[edge.type]
            rows = [
                {
                    "source": str(edge.source),
                    "target": str(edge.target),
                    "props": json.dumps(edge.props, ensure_ascii=False),
                }
            ]
            session.execute_write(lambda tx, q=query, r=rows: tx.run(q, rows=r, gen=gen).consume())
    elapsed = time.perf_counter() - started
    with driver.session(database=database) as session:
        session.run(cy.DELETE_GENERATION, gen=gen).consume()
    return elapsed
