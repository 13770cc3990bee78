"""The naive way, for comparison: one MERGE per node and per edge, each in its own transaction.

Nodes use the real loader's MERGE with a single row; edges are MERGEd too (the real loader
CREATEs them after wiping, see :data:`store.neo4j_cypher.CREATE_EDGES`).
"""

from __future__ import annotations

import json
import time

from neo4j import Driver

from graph_schema.graph import CatalogGraph
from graph_schema.relations import Relation
from store import neo4j_cypher as cy
from store.neo4j import node_row

#: One MERGE per edge; types come from the closed enum.
NAIVE_MERGE_EDGE: dict[Relation, str] = {
    rel: (
        "UNWIND $rows AS row "
        "MATCH (a:KpiNode {ref: row.source}) MATCH (b:KpiNode {ref: row.target}) "
        f"MERGE (a)-[r:{rel.value}]->(b) SET r.props = row.props"
    )
    for rel in Relation
}


def naive_load(driver: Driver, graph: CatalogGraph, database: str = "neo4j") -> float:
    """Seconds to load ``graph`` row at a time (after wiping)."""
    driver.execute_query(cy.DELETE_GRAPH, database_=database)
    driver.execute_query(cy.DELETE_META, database_=database)
    started = time.perf_counter()
    with driver.session(database=database) as session:
        for node in graph.nodes:
            query, rows = cy.MERGE_NODES[node.kind], [node_row(node)]
            session.execute_write(lambda tx, q=query, r=rows: tx.run(q, rows=r).consume())
        for edge in graph.edges:
            query = NAIVE_MERGE_EDGE[edge.type]
            rows = [
                {
                    "source": str(edge.source),
                    "target": str(edge.target),
                    "props": json.dumps(edge.props, ensure_ascii=False),
                }
            ]
            session.execute_write(lambda tx, q=query, r=rows: tx.run(q, rows=r).consume())
    return time.perf_counter() - started
