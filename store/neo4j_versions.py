"""What an incremental Neo4j load writes: versions of the changed nodes only (issue #17).

A load whose revision changes a small part of the graph does not write a new generation: it
writes pending versions of the nodes that changed into the live generation, with their
relationships, and its swap closes the versions they replace (see :mod:`store.neo4j_cypher`,
"versions"). :func:`plan` decides which nodes get a new version and what is written; it
returns ``None`` when a full load (a new generation) is the better choice.

Examples
--------
>>> from graph_schema.diff import GraphDiff
>>> from tests.helpers import synthetic_graph
>>> g = synthetic_graph(3)
>>> plan(g, GraphDiff(), "abc.4", lambda n: {"ref": str(n.ref)}, 100) is None  # nothing to do
True
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graph_schema.diff import GraphDiff
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind
from graph_schema.models import BaseNode, Edge
from graph_schema.relations import Relation
from graph_schema.revisions import ChangeOp
from store import neo4j_cypher as cy

Row = dict[str, Any]
#: (statement, rows) per transaction.
Batches = list[list[tuple[str, list[Row]]]]
#: At most this many writes (versions, their relationships, closings) for an incremental load;
#: more, or more than half the graph, and a full load (a new generation) is written instead:
#: the swap transaction closes and opens every version, so it must stay small.
MAX_WRITES = 20_000


@dataclass(frozen=True)
class IncrementalPlan:
    """An incremental load of the live generation ``prev_gen`` (base ``base``, sequence
    ``prev_seq``) publishing ``gen`` = ``<base>.<seq>``."""

    base: str
    prev_gen: str
    prev_seq: int
    seq: int
    #: Refs that get a new (pending) version: added and modified nodes, plus one end of each
    #: relationship that changed between two unchanged nodes.
    fresh: list[str]
    #: Refs whose version visible at ``prev_seq`` is closed at ``seq``: removed nodes and
    #: the fresh ones that existed.
    closed: list[str]
    batches: Batches

    @property
    def gen(self) -> str:
        return f"{self.base}.{self.seq}"

    @property
    def writes(self) -> int:
        return sum(len(rows) for batch in self.batches for _, rows in batch) + len(self.closed)


def seq_of(gen: str) -> int:
    """The sequence of a generation id: ``<base>`` is 0, ``<base>.<n>`` is n.

    >>> seq_of("ab12"), seq_of("ab12.7")
    (0, 7)
    """
    _, _, seq = gen.partition(".")
    return int(seq) if seq else 0


def edge_row(edge: Edge) -> Row:
    return {
        "source": str(edge.source),
        "target": str(edge.target),
        "props": json.dumps(edge.props, ensure_ascii=False),
    }


def group(statements: list[tuple[str, list[Row]]], batch: int) -> Batches:
    """Transactions of at most ``batch`` rows (a statement's rows are split to fit); small
    statements share one, in order.

    >>> [[len(r) for _, r in b] for b in group([("a", [{}] * 3), ("b", [{}] * 4)], 5)]
    [[3], [4]]
    """
    split = [
        (query, rows[i : i + batch])
        for query, rows in statements
        for i in range(0, len(rows), batch)
    ]
    batches: Batches = []
    size = 0
    for query, rows in split:
        if not batches or size + len(rows) > batch:
            batches.append([])
            size = 0
        batches[-1].append((query, rows))
        size += len(rows)
    return batches


def plan(
    graph: CatalogGraph,
    diff: GraphDiff,
    live_gen: str,
    row_of: Callable[[BaseNode], Row],
    batch: int,
    *,
    size: int | None = None,
) -> IncrementalPlan | None:
    """What an incremental load of ``graph`` over the live generation ``live_gen`` writes,
    given the revision's ``diff``; ``None`` when a full load should be written instead
    (nothing to write, or too much: see :data:`MAX_WRITES`).

    ``size``: the whole graph's nodes and edges, when ``graph`` holds only the changed nodes
    and every edge touching them (a delta)."""
    changes = len(diff.nodes) + len(diff.edges)
    size = size if size is not None else len(graph.nodes) + len(graph.edges)
    if not changes or changes > MAX_WRITES or 2 * changes > size:
        return None  # nothing to do, or a full load is cheaper (decided before any work)
    ops = {c.ref: c.op for c in diff.nodes}
    removed = {ref for ref, op in ops.items() if op is ChangeOp.REMOVED}
    fresh = {ref for ref, op in ops.items() if op is not ChangeOp.REMOVED}
    added = {ref for ref, op in ops.items() if op is ChangeOp.ADDED}
    touched = fresh | removed
    changed_edges = [  # the others are written with their fresh end, or go with a removed one
        c for c in diff.edges if c.source not in touched and c.target not in touched
    ]
    if changed_edges:
        degree: Counter[str] = Counter()
        for edge in graph.edges:
            degree[str(edge.source)] += 1
            degree[str(edge.target)] += 1
        for c in changed_edges:  # re-version the end with fewer relationships to copy
            if c.source in fresh or c.target in fresh:
                continue
            fresh.add(c.source if degree[c.source] <= degree[c.target] else c.target)
    closed = sorted((fresh - added) | removed)
    by_kind: dict[NodeKind, list[Row]] = defaultdict(list)
    for node in graph.nodes:
        if str(node.ref) in fresh:
            by_kind[node.kind].append(row_of(node))
    by_rel: dict[Relation, list[Row]] = defaultdict(list)
    for edge in graph.edges:
        source, target = str(edge.source), str(edge.target)
        if source in fresh or target in fresh:
            row = edge_row(edge)
            row["s_new"], row["t_new"] = source in fresh, target in fresh
            by_rel[edge.type].append(row)
    if sum(len(r) for r in by_kind.values()) != len(fresh):
        return None  # a changed node missing from the graph: let a full load report it
    writes = len(fresh) + len(closed) + sum(len(r) for r in by_rel.values())
    if writes > MAX_WRITES or 2 * writes > size:
        return None
    statements = [(cy.CREATE_VERSIONS[kind], rows) for kind, rows in by_kind.items()]
    statements += [(cy.CREATE_VERSION_EDGES[rel], rows) for rel, rows in by_rel.items()]
    base = live_gen.split(".")[0]
    prev_seq = seq_of(live_gen)
    return IncrementalPlan(
        base=base,
        prev_gen=live_gen,
        prev_seq=prev_seq,
        seq=prev_seq + 1,
        fresh=sorted(fresh),
        closed=closed,
        batches=group(statements, batch),
    )
