"""Revisions of the Neo4j store, kept in Neo4j beside the graph (so several API processes
share one history).

A load stages its change records (``:KpiChange {gen}``) with its generation, in the same
bounded transactions; the swap transaction that publishes the generation also locks the
``graph`` record, checks the head revision did not move, and creates the ``:KpiRevision``
that makes the staged changes part of history. A failed or killed load leaves change records
no revision points to; they are swept with the load's generation. All Cypher is in
:mod:`store.neo4j_cypher_history`.
"""

from __future__ import annotations

import json
from typing import Any

from neo4j import Driver, ManagedTransaction

from graph_schema.diff import Snapshot
from graph_schema.errors import ConflictError, RevisionNotFoundError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import BaseNode
from graph_schema.revisions import NodeChange, NodeHistoryEntry, Revision, RevisionSummary
from store import history, neo4j_base
from store import neo4j_cypher as cy

#: Change records per staging transaction.
CHANGE_BATCH = 5_000
#: Larger than any revision number: "no upper bound" for paging.
NO_BOUND = 2**62


def schema_statements() -> list[str]:
    return [
        cy.CREATE_REVISION_CONSTRAINT,
        cy.CREATE_REVISION_GEN_INDEX,
        cy.CREATE_CHANGE_GEN_INDEX,
        cy.CREATE_CHANGE_KEY_INDEX,
    ]


def read_head(driver: Driver, database: str) -> tuple[int, str | None]:
    """The head revision and the digest of the published graph."""
    records, _, _ = driver.execute_query(cy.GET_HEAD, database_=database)
    if not records:
        return 0, None
    return int(records[0]["head"] or 0), records[0]["digest"]


def stored_snapshot(driver: Driver, database: str) -> Snapshot | None:
    """The published graph as plain data (``None`` when nothing is published): the generation
    readers pin (``GET_READY_GEN``: the one whose head :func:`read_head` reads). Read in one
    transaction and checked to still be that generation afterwards (else read again)."""

    def read(tx: ManagedTransaction) -> tuple[str | None, Snapshot | None]:
        live = tx.run(cy.GET_READY_GEN).single()
        if live is None:
            return None, None
        gen = live["gen"]
        # a row with no ref is a version the sweep deleted while it was read (read-committed:
        # one no published generation sees), never part of the graph: skipped
        nodes = {
            r["ref"]: json.loads(r["props"])
            for r in tx.run(cy.STORED_NODES, gen=gen)
            if r["ref"] is not None and r["props"] is not None
        }
        edges = {
            (r["source"], r["type"], r["target"]): json.loads(r["props"] or "{}")
            for r in tx.run(cy.STORED_EDGES, gen=gen)
            if r["source"] is not None and r["target"] is not None
        }
        after = tx.run(cy.GET_READY_GEN).single()
        return (gen if after is not None and after["gen"] == gen else None), Snapshot(nodes, edges)

    with driver.session(database=database) as session:
        for _ in range(3):
            gen, snap = session.execute_read(read)
            if snap is None or gen is not None:
                return snap
    raise ConflictError("the graph was replaced three times while it was being read; try again")


def stored_texts(driver: Driver, database: str) -> neo4j_base.Rows:
    """The published graph's stored texts (empty when nothing is published), read as
    :func:`stored_snapshot` reads it (one transaction, checked to be still live after)."""

    def read(tx: ManagedTransaction) -> tuple[str | None, neo4j_base.Rows]:
        live = tx.run(cy.GET_READY_GEN).single()
        if live is None:
            return None, ([], [])
        gen = live["gen"]
        nodes = [(r["ref"], r["props"]) for r in tx.run(cy.STORED_NODES, gen=gen)]
        edges = [
            (f"{r['source']}|{r['type']}|{r['target']}", r["props"] or "{}")
            for r in tx.run(cy.STORED_EDGES, gen=gen)
        ]
        after = tx.run(cy.GET_READY_GEN).single()
        return (gen if after is not None and after["gen"] == gen else None), (nodes, edges)

    with driver.session(database=database) as session:
        for _ in range(3):
            gen, rows = session.execute_read(read)
            if gen is not None or not rows[0]:
                return rows
    raise ConflictError("the graph was replaced three times while it was being read; try again")


def stage_batches(planned: history.PlannedRevision, base: bool) -> list[list[dict[str, Any]]]:
    """The change records to stage, in batches (none for a base revision: ``base``)."""
    if base:
        return []
    rows = [
        {"entity": entity, "key": key, "op": op, "data": data}
        for entity, key, op, data in history.revision_rows(planned)
    ]
    return [rows[i : i + CHANGE_BATCH] for i in range(0, len(rows), CHANGE_BATCH)]


def stage(tx: ManagedTransaction, gen: str, rows: list[dict[str, Any]]) -> None:
    tx.run(cy.STAGE_CHANGES, gen=gen, rows=rows).consume()


def lock_and_check(tx: ManagedTransaction, where: str, base_head: int) -> None:
    """First statement of the swap transaction: take the ``graph`` record's write lock, then
    check no other load recorded a revision since this one read the head."""
    record = tx.run(cy.LOCK_HEAD).single()
    head = int(record["head"]) if record else 0
    if head != base_head:
        raise ConflictError(
            f"another load recorded revision {head} in {where} while this one was being "
            "written; nothing was changed — run it again",
            {"head": head, "expected": base_head},
        )


def record(
    tx: ManagedTransaction,
    gen: str,
    planned: history.PlannedRevision,
    digest: str,
    meta: str,
    *,
    base: bool = False,
) -> None:
    """In the swap transaction, after the generation is published: the revision itself.
    ``base``: its change records were not staged but are derived when read
    (:mod:`store.neo4j_base`)."""
    summary = planned.summary
    tx.run(
        cy.RECORD_REVISION,
        number=summary.number,
        gen=gen,
        created_at=summary.created_at,
        summary=history.summary_json(summary),
        meta=meta,
        digest=digest,
        base=True if base else None,
    ).consume()


def revisions(
    driver: Driver, database: str, ref: NodeRef | None, limit: int, before: int | None
) -> list[RevisionSummary]:
    params: dict[str, Any] = {"limit": limit, "before": before or NO_BOUND}
    if ref is None:
        records, _, _ = driver.execute_query(cy.LIST_REVISIONS, params, database_=database)
    else:
        params["key"] = str(ref)
        records, _, _ = driver.execute_query(cy.LIST_REVISIONS_OF, params, database_=database)
        first = neo4j_base.base(driver, database)
        if (
            first is not None
            and first[0] < params["before"]
            and len(records) < limit
            and neo4j_base.node_record(driver, database, str(ref)) is not None
        ):  # the base revision (the oldest) changed it: it added it
            return [
                *(RevisionSummary.model_validate_json(r["summary"]) for r in records),
                RevisionSummary.model_validate_json(first[1]),
            ]
    return [RevisionSummary.model_validate_json(r["summary"]) for r in records]


def revision(driver: Driver, database: str, number: int) -> Revision:
    records, _, _ = driver.execute_query(cy.GET_REVISION, number=number, database_=database)
    if not records:
        raise RevisionNotFoundError(number, read_head(driver, database)[0])
    rec = records[0]
    first = neo4j_base.base(driver, database)
    if first is not None and first[0] == number:
        rows = stored_texts(driver, database)
        changes = [
            (entity, data) for entity, _key, data in neo4j_base.records(driver, database, rows)
        ]
        return history.revision_from(rec["summary"], changes)
    return history.revision_from(
        rec["summary"], [(e, d) for e, d in rec["changes"] if e is not None]
    )


def node_history(driver: Driver, database: str, ref: NodeRef) -> list[NodeHistoryEntry]:
    records, _, _ = driver.execute_query(cy.NODE_HISTORY, key=str(ref), database_=database)
    rows = [(r["summary"], r["data"]) for r in records]
    first = neo4j_base.base(driver, database)
    if first is not None:
        data = neo4j_base.node_record(driver, database, str(ref))
        if data is not None:
            rows.insert(0, (first[1], data))
    return [
        NodeHistoryEntry(
            revision=RevisionSummary.model_validate_json(summary),
            change=NodeChange.model_validate_json(data),
        )
        for summary, data in rows
    ]


def node_at(driver: Driver, database: str, ref: NodeRef, number: int) -> BaseNode | None:
    _require(driver, database, number)
    records, _, _ = driver.execute_query(
        cy.NODE_AT, key=str(ref), number=number, database_=database
    )
    if not records:
        first = neo4j_base.base(driver, database)
        if first is not None and first[0] <= number:  # as the base revision left it
            return history.node_as_of(ref, neo4j_base.node_record(driver, database, str(ref)))
    return history.node_as_of(ref, records[0]["data"] if records else None)


def catalog_at(driver: Driver, database: str, number: int) -> CatalogGraph:
    summary_text, meta = _require(driver, database, number)
    summary = RevisionSummary.model_validate_json(summary_text)
    first = neo4j_base.base(driver, database)
    rows = stored_texts(driver, database) if first is not None and first[0] <= number else None
    records, _, _ = driver.execute_query(cy.CATALOG_AT, number=number, database_=database)
    latest = [(r["entity"], r["data"]) for r in records]
    if rows is not None:  # what no stored record up to ``number`` changed: as the base left it
        seen = {(r["entity"], r["key"]) for r in records}
        latest += [
            (entity, data)
            for entity, key, data in neo4j_base.records(driver, database, rows)
            if (entity, key) not in seen
        ]
    return history.catalog_from_changes(summary.catalog or "", json.loads(meta or "{}"), latest)


def _require(driver: Driver, database: str, number: int) -> tuple[str, str]:
    records, _, _ = driver.execute_query(cy.GET_REVISION_META, number=number, database_=database)
    if not records:
        raise RevisionNotFoundError(number, read_head(driver, database)[0])
    return records[0]["summary"], records[0]["meta"]
