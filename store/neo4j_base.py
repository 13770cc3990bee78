"""Revision 1 of the Neo4j store kept compactly: a first load stages no change records.

A first load's revision adds every node and edge of the graph, so each of its change records
would repeat the node or relationship written beside it (at L 1.7 million ``:KpiChange`` nodes:
as many writes again as the graph). Such a revision is marked ``base`` on its ``:KpiRevision``
instead, and its records are derived when read, as on the embedded store
(:mod:`store.embedded_base`): what an entity was after it is the ``old`` side of the entity's
first recorded change (every later write of it records a change whose ``old`` is what it was),
or its properties in the published generation when no change was recorded since; an entity
whose first recorded change adds it was not in it. The records read are those a staged
revision 1 holds — the same JSON (:func:`store.history.added_record`), so every history answer
is the same. All Cypher is in :mod:`store.neo4j_cypher_history`.
"""

from __future__ import annotations

from collections.abc import Iterator

from neo4j import Driver, ManagedTransaction

from store import history
from store import neo4j_cypher as cy

#: ``(entity, key, data)``: one change record of a base revision
Record = tuple[str, str, str]
#: The published generation's stored texts: ``(ref, props)`` of its nodes and
#: ``(source|type|target, props)`` of its relationships
Rows = tuple[list[tuple[str, str]], list[tuple[str, str]]]


def base(driver: Driver, database: str) -> tuple[int, str] | None:
    """The base revision's number and summary (``None``: every revision's records are
    stored)."""
    records, _, _ = driver.execute_query(cy.BASE_REVISION, database_=database)
    if not records:
        return None
    return int(records[0]["number"]), str(records[0]["summary"])


def node_record(driver: Driver, database: str, key: str) -> str | None:
    """The base revision's change record of the node ``key`` (``None``: not in it)."""

    def read(tx: ManagedTransaction) -> str | None:
        # the first change is read after the live row: a revision committed in between
        # records, as its first change's ``old``, the row as it was read here
        live = tx.run(cy.LIVE_NODE_PROPS, ref=key).single()
        first = tx.run(cy.FIRST_CHANGE, entity="node", key=key).single()
        if first is not None:
            if first["op"] == "added":
                return None
            return history.added_as_old("node", key, first["data"])
        return history.added_record("node", key, live["props"]) if live is not None else None

    with driver.session(database=database) as session:
        return session.execute_read(read)


def records(driver: Driver, database: str, rows: Rows) -> Iterator[Record]:
    """Every change record of the base revision; ``rows``: the published generation, read
    whole just before."""
    nodes, edges = rows

    def read(tx: ManagedTransaction) -> list[tuple[str, str, str, str]]:
        return [(r["entity"], r["key"], r["op"], r["data"]) for r in tx.run(cy.FIRST_CHANGES)]

    with driver.session(database=database) as session:  # after the rows: see node_record
        firsts = session.execute_read(read)
    recorded: set[tuple[str, str]] = set()
    for entity, key, op, data in firsts:
        recorded.add((entity, key))
        if op != "added":
            yield entity, key, history.added_as_old(entity, key, data)
    for key, text in nodes:
        if ("node", key) not in recorded:
            yield "node", key, history.added_record("node", key, text)
    for key, text in edges:
        if ("edge", key) not in recorded:
            yield "edge", key, history.added_record("edge", key, text)
