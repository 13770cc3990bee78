"""Neo4j: reads while versions no reader sees are deleted (issue #23, "readers during delta
applies never see a mix").

Neo4j reads are read-committed. A sweep (after every incremental load) deletes versions that
no published generation sees — closed before the previous one, or pending versions of a dead
load — in its own transactions, while readers pinned to a published generation run. A reader's
index seek on ``(_gen, ref)`` finds every version of a ref; a version deleted between that
seek and the visibility test used to read as an unversioned node with no properties, i.e.
*visible*, and reached the answer as a node without a kind (``ValueError: None is not a
valid NodeKind`` in ``test_readers_during_delta_loads_see_one_revision[neo4j]``, 1 run in 4).

Here the race is made frequent: a writer keeps creating pending versions of five refs (with
relationships to and from one of them), written by the store's own ``CREATE_VERSIONS`` /
``CREATE_VERSION_EDGES``, and deleting them with the store's own ``DELETE_STAGED_VERSIONS``,
while two readers ask the same questions through snapshots. Every answer must equal the one
read before the churn began. Before the fix this failed within seconds (8–10 bad answers in
40 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from graph_schema.relations import Relation
from store import neo4j_cypher as cy
from store.base import Walk
from tests.helpers import synthetic_graph

pytestmark = pytest.mark.neo4j

CHURN_SECONDS = 25.0


def _stage_rows(store: Any, base: str, refs: list[str]) -> tuple[dict[Any, list[Any]], list[Any]]:
    """Version rows of ``refs`` as an incremental load writes them (their stored properties
    without the version keys), and relationship rows between the first ref and the others."""
    by_kind: dict[Any, list[Any]] = {}
    with store.conn.driver.session(database=store.conn.database) as s:
        for rec in s.run(
            "UNWIND $refs AS ref MATCH (n:KpiNode {_gen: $base, ref: ref}) "
            "RETURN n.kind AS kind, properties(n) AS p",
            refs=refs,
            base=base,
        ):
            row = {
                k: v
                for k, v in rec["p"].items()
                if not k.startswith("_") or k in ("_titles", "_body", "_keys")
            }
            by_kind.setdefault(rec["kind"], []).append(row)
    hub = refs[0]
    edges = [
        {"source": r, "target": hub, "props": "{}", "s_new": True, "t_new": False} for r in refs[1:]
    ] + [
        {"source": hub, "target": r, "props": "{}", "s_new": False, "t_new": True} for r in refs[1:]
    ]
    return by_kind, edges


def test_reads_while_unseen_versions_are_deleted(
    neo4j_store_factory: Callable[[], Any], neo4j_reopen: Callable[[Any], Any]
) -> None:
    from graph_schema.ids import NodeKind

    writer = neo4j_store_factory()
    writer.load(synthetic_graph(3))
    reader = neo4j_reopen(writer)
    try:
        refs = [n.ref for n in synthetic_graph(3).nodes][:5]
        stored = [str(r) for r in refs]
        with writer.conn.driver.session(database=writer.conn.database) as s:
            (gen,) = s.run(cy.GET_LIVE_GEN).value("gen")
        base = str(gen).split(".")[0]
        by_kind, edge_rows = _stage_rows(writer, base, stored)
        assert sum(len(v) for v in by_kind.values()) == len(refs)

        relations = list(Relation)
        first = reader.snapshot()
        want_nodes = first.get_nodes(refs)
        want_edges = first.edges_of(refs, Walk.UNDIRECTED, relations)
        want_reach = first.traverse(refs[0], Walk.UNDIRECTED, relations, 3)
        assert len(want_nodes) == len(refs) and want_edges and want_reach

        stop = threading.Event()
        bad: list[str] = []
        counts = {"churns": 0, "reads": 0}

        def churn() -> None:
            stage = "test-churn"
            try:
                while not stop.is_set():
                    with writer.conn.driver.session(database=writer.conn.database) as s:
                        for kind, rows in by_kind.items():
                            s.run(
                                cy.CREATE_VERSIONS[NodeKind(kind)],
                                rows=rows,
                                base=base,
                                stage=stage,
                            ).consume()
                        s.run(
                            cy.CREATE_VERSION_EDGES[Relation.INPUT_TO],
                            rows=edge_rows,
                            base=base,
                            stage=stage,
                            seq=0,
                        ).consume()
                        s.run(cy.DELETE_STAGED_VERSIONS, gen=stage).consume()
                    counts["churns"] += 1
            except BaseException as exc:  # pragma: no cover - reported below
                bad.append(f"writer: {exc!r}")

        def read() -> None:
            while not stop.is_set():
                snap = reader.snapshot()
                try:
                    nodes = snap.get_nodes(refs)
                    edges = snap.edges_of(refs, Walk.UNDIRECTED, relations)
                    reach = snap.traverse(refs[0], Walk.UNDIRECTED, relations, 3)
                except BaseException as exc:
                    bad.append(repr(exc))
                    continue
                counts["reads"] += 1
                if nodes != want_nodes:
                    bad.append(f"nodes: {sorted(map(str, nodes))}")
                if edges != want_edges:
                    bad.append(f"edges: {len(edges)} != {len(want_edges)}")
                if reach != want_reach:
                    bad.append(f"reach: {len(reach)} != {len(want_reach)}")

        threads = [threading.Thread(target=churn)] + [
            threading.Thread(target=read) for _ in range(2)
        ]
        for t in threads:
            t.start()
        time.sleep(CHURN_SECONDS)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert counts["churns"] > 50 and counts["reads"] > 50, counts  # the race was run
        assert not bad, f"{len(bad)} bad answers of {counts['reads']}: {bad[:3]}"
    finally:
        reader.close()
