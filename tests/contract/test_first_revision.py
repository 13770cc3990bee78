"""Revision 1 reads the same however a store keeps it (issue #23: a first load writes no change
record per entity on either backend: :mod:`store.embedded_base`, :mod:`store.neo4j_base`):
every history answer about it — the revision, a node's history, a node and the catalog as of
any revision, the revisions that changed a node — equals what the whole graph added says, and
stays so after later revisions modify, remove and re-add nodes and edges."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.publish import publish
from graph_schema.diff import diff_snapshots, snapshot, with_auto_versions
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.revisions import ChangeOp, EdgeChange, NodeChange
from store.base import GraphStore


def _graph(
    graph: CatalogGraph, nodes: tuple[BaseNode, ...], edges: tuple[Edge, ...]
) -> CatalogGraph:
    return CatalogGraph(graph.name, nodes, edges, dict(graph.meta))


def _rev1(graph: CatalogGraph) -> CatalogGraph:
    return with_auto_versions(None, graph)[0]


def _dump(changes: Sequence[NodeChange | EdgeChange]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in changes]


def test_revision_1_reads_as_the_whole_graph_added_after_later_changes(
    make_store: Callable[[], GraphStore], demo_graph: CatalogGraph
) -> None:
    store = make_store()
    publish(store, demo_graph)
    first = _rev1(demo_graph)
    expected = diff_snapshots(None, snapshot(first))

    def check_revision_1() -> None:
        rev = store.revision(1)
        assert _dump(rev.node_changes) == _dump(expected.nodes)
        assert _dump(rev.edge_changes) == _dump(expected.edges)
        assert rev.nodes.added == len(first.nodes) and rev.edges.added == len(first.edges)
        at1 = store.catalog(at=1)
        assert snapshot(at1) == snapshot(first)

    check_revision_1()
    metrics = [n for n in first.nodes if isinstance(n, Metric)]
    changed, removed = metrics[0], metrics[1]
    kept_edges = tuple(e for e in demo_graph.edges if removed.ref not in (e.source, e.target))
    dropped_edge = kept_edges[0]
    caveats = [*changed.caveats, "口径调整"]
    nodes2 = tuple(
        n.model_copy(update={"caveats": caveats}) if n.ref == changed.ref else n
        for n in demo_graph.nodes
        if n.ref != removed.ref
    )
    publish(store, _graph(demo_graph, nodes2, kept_edges[1:]), check_versions=False)
    check_revision_1()
    publish(store, demo_graph, check_versions=False)  # the removed node and edge come back
    check_revision_1()
    assert store.head() == 3

    for node in (changed, removed, metrics[2]):
        history = store.node_history(node.ref)
        assert history[0].revision.number == 1
        assert history[0].change.op is ChangeOp.ADDED
        assert history[0].change.new == node.props()
        assert [s.number for s in store.revisions(node.ref)] == [
            e.revision.number for e in reversed(history)
        ]
        assert store.node_at(node.ref, 1) == node
    assert [e.revision.number for e in store.node_history(removed.ref)] == [1, 2, 3]
    assert store.node_at(removed.ref, 2) is None
    assert [e.revision.number for e in store.node_history(metrics[2].ref)] == [1]
    assert [s.number for s in store.revisions(metrics[2].ref, before=1)] == []
    assert [s.number for s in store.revisions(removed.ref, limit=2)] == [3, 2]
    at2 = snapshot(store.catalog(at=2))
    assert str(removed.ref) not in at2.nodes
    assert at2.nodes[str(changed.ref)]["caveats"][-1] == "口径调整"
    key = (str(dropped_edge.source), dropped_edge.type.value, str(dropped_edge.target))
    assert key not in at2.edges and key in snapshot(store.catalog(at=3)).edges
    assert store.node_at(NodeRef.parse("Metric:no_such_metric"), 3) is None
    assert isinstance(dropped_edge, Edge)
