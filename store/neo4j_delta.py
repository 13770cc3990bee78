"""How an applied delta (a change request, a load of a few edited files) becomes what the
Neo4j store writes: the changed nodes with their relationships as they will be — the live
ones, read by the caller, with the delta's edge changes applied — as a partial graph for the
versioned write (:mod:`store.neo4j_versions`); or, when that would rewrite a large part of the
graph, the whole graph patched (:class:`WholeLoadCheaper`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from graph_schema.diff import GraphDiff, Snapshot, edge_key
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import Edge, node_from_props
from graph_schema.relations import RELATION_BY_VALUE


class WholeLoadCheaper(Exception):
    """A delta that would write a large part of the graph: loaded whole instead."""


@dataclasses.dataclass(frozen=True)
class Delta:
    """What the store knows of a delta that its partial graph does not: the whole graph's
    size and counts after it, and how many nodes it writes anew."""

    size: int
    counts: dict[str, int]
    fresh: int


def partial_graph(
    diff: GraphDiff, live: Iterable[Edge], name: str, meta: Mapping[str, Any]
) -> CatalogGraph:
    """The nodes ``diff`` adds or changes, with their relationships after it: ``live`` (every
    edge of those nodes in the published graph; a delta's edges all touch its nodes, the other
    ends' own edges are not read) with the diff's edge changes applied."""
    nodes = [
        node_from_props(NodeRef.parse(c.ref).kind, c.new) for c in diff.nodes if c.new is not None
    ]
    edges = {edge_key(e): e for e in live}
    for c in diff.edges:
        key = (c.source, c.type, c.target)
        if c.new is None:
            edges.pop(key, None)
        else:
            edges[key] = Edge(
                source=NodeRef.parse(c.source),
                target=NodeRef.parse(c.target),
                type=RELATION_BY_VALUE[c.type],
                props=c.new,
            )
    return CatalogGraph(name=name, nodes=tuple(nodes), edges=tuple(edges.values()), meta=dict(meta))


def patched(snap: Snapshot, diff: GraphDiff) -> Snapshot:
    """``snap`` with ``diff`` applied."""
    nodes = dict(snap.nodes)
    edges = dict(snap.edges)
    for c in diff.nodes:
        if c.new is None:
            nodes.pop(c.ref, None)
        else:
            nodes[c.ref] = c.new
    for e in diff.edges:
        key = (e.source, e.type, e.target)
        if e.new is None:
            edges.pop(key, None)
        else:
            edges[key] = e.new
    return Snapshot(nodes=nodes, edges=edges)
