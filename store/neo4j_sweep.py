"""Sweeping a Neo4j store: what killed or failed loads left behind (their staged generations
and pending versions, once their stage record is stale), generations no longer published, and
versions no reader can see any more — each in bounded transactions (see
:mod:`store.neo4j_cypher_load`, "load")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from neo4j import ManagedTransaction, Session
from neo4j.exceptions import DriverError, Neo4jError

from store import neo4j_cypher as cy
from store.neo4j_session import Neo4jSession

#: A stage record not touched for this long belongs to a dead load; its generation is swept.
STAGE_TIMEOUT = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class SweepReport:
    """What a sweep removed: stage records of dead loads, and nodes of unpublished
    generations."""

    loads: int
    nodes: int

    def __str__(self) -> str:
        return (
            f"removed {self.nodes:,} node(s) of unpublished generations "
            f"({self.loads} abandoned load(s))"
        )


def sweep(conn: Neo4jSession, keep: list[str], *, every_node: bool = False) -> SweepReport:
    """Delete every generation but the published one and those of loads still writing,
    versions no reader can see any more and those of dead incremental loads, in bounded
    transactions; returns what went. ``keep``: generations (``_gen``) known to stay.

    The generations present are found by seeks of the ``(_gen, ref)`` index, one per
    generation, so a sweep that finds nothing to delete reads a few index entries, not every
    node. ``every_node``: read every node instead, so that nodes with no generation at all
    (the layout before generations) go too — what a full load, which writes every node
    anyway, asks for."""
    stale_after = STAGE_TIMEOUT.total_seconds()
    with conn.driver.session(database=conn.database, bookmark_manager=conn.bookmarks) as session:
        # first: the swap of the load that sweeps after it (or of one that died before that)
        session.execute_write(mark_ready)
        dead = session.run(cy.DELETE_DEAD_STAGES, stale_after=stale_after).consume()
        live = session.run(cy.GET_LIVE_GEN).value("gen")
        keep = [*keep, *(str(g).split(".")[0] for g in live)]
        if every_node:
            swept = session.run(cy.SWEEP_GENERATIONS, keep=keep, stale_after=stale_after)
            nodes = swept.consume().counters.nodes_deleted
        else:
            nodes = _sweep_by_generation(session, keep, stale_after)
        floor = session.run(cy.GET_FLOOR).single()
        if floor is not None and floor["floor"] > 0:
            closed = session.run(cy.SWEEP_CLOSED_VERSIONS, base=floor["base"], floor=floor["floor"])
            nodes += closed.consume().counters.nodes_deleted
        pending = session.run(cy.SWEEP_DEAD_VERSIONS, stale_after=stale_after)
        nodes += pending.consume().counters.nodes_deleted
        session.run(cy.DELETE_ORPHAN_CHANGES).consume()
    return SweepReport(loads=dead.counters.nodes_deleted, nodes=nodes)


def mark_ready(tx: ManagedTransaction) -> None:
    """Let readers pin the published generation (see "readable" in
    :mod:`store.neo4j_cypher_load`): under the graph record's write lock, which a swap holds
    until it is applied whole, copy its generation and head into ``ready``. Nothing when
    nothing is published."""
    if tx.run(cy.LOCK_GRAPH).single() is not None:
        tx.run(cy.MARK_READY).consume()


def _sweep_by_generation(session: Session, keep: list[str], stale_after: float) -> int:
    """``SWEEP_GENERATIONS`` one generation at a time, each found by an index seek."""
    nodes = 0
    after = ""
    while (found := session.run(cy.NEXT_GENERATION, after=after).single()) is not None:
        after = str(found["gen"])
        if after not in keep:
            swept = session.run(cy.SWEEP_GENERATION, gen=after, stale_after=stale_after)
            nodes += swept.consume().counters.nodes_deleted
    return nodes


def discard(conn: Neo4jSession, gen: str) -> None:
    """Best effort after a failed load: remove its stage record and staged nodes."""
    try:
        with conn.driver.session(database=conn.database) as session:
            session.run(cy.DELETE_STAGE, gen=gen).consume()
            session.run(cy.DELETE_GENERATION, gen=gen).consume()
            session.run(cy.DELETE_STAGED_VERSIONS, gen=gen).consume()
            session.run(cy.DELETE_STAGED_CHANGES, gen=gen).consume()
    except (Neo4jError, DriverError, OSError):
        pass  # unreferenced; a later load sweeps it once its stage record is stale


def clear(conn: Neo4jSession) -> None:
    """Remove the whole graph (tests and ``kpigraph`` maintenance only)."""
    with conn.driver.session(database=conn.database) as session:
        session.run(cy.DELETE_META).consume()  # unpublishes; running loads fail
        session.run(cy.DELETE_HISTORY).consume()
        session.run(
            cy.SWEEP_GENERATIONS, keep=[], stale_after=STAGE_TIMEOUT.total_seconds()
        ).consume()
