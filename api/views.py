"""Gathering what the HTML views need from the store, then handing it to :mod:`viz`."""

from __future__ import annotations

from collections.abc import Iterable

from analysis.lineage import cut_at_hop, lineage
from analysis.results import Direction
from graph_schema.formula import names_in
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Metric
from graph_schema.relations import parse_relations
from store.base import GraphReader, SearchQuery
from viz.graph_view import DEFAULT_MAX_NODES, GraphView


def graph_view(
    store: GraphReader,
    focus: NodeRef,
    direction: Direction = Direction.BOTH,
    depth: int = 2,
    relations: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    tooltips: bool = True,
) -> GraphView:
    """The neighbourhood of ``focus`` cut to ``max_nodes`` at the farthest hop, with the
    details tooltips need (department names for owners) unless ``tooltips`` is off (a served
    page fetches them on hover)."""
    full = lineage(store, focus, direction, depth, parse_relations(relations))
    kept, _ = cut_at_hop(full.nodes, max_nodes, lambda n: n.depth)
    hidden = len(full.nodes) - len(kept)
    members = {focus, *(NodeRef.parse(n.ref) for n in kept)}
    if hidden:
        kept_refs = {str(r) for r in members}
        edges = [e for e in full.edges if e.source in kept_refs and e.target in kept_refs]
        full = full.model_copy(update={"nodes": kept, "edges": edges, "truncated": True})
    nodes = store.get_nodes(members)
    owners = {n.owner for n in nodes.values() if isinstance(n, Metric) and n.owner}
    depts = store.get_nodes(NodeRef(NodeKind.DEPARTMENT, d) for d in owners) if tooltips else {}
    inputs = formula_inputs(nodes.values()) if tooltips else set()
    return GraphView(
        lineage=full,
        nodes={str(ref): node for ref, node in nodes.items()},
        department_names={ref.id: node.name for ref, node in depts.items()},
        metric_names={ref.id: label.name for ref, label in store.labels(inputs).items()},
        hidden=hidden,
        relations=relations,
    )


def formula_inputs(nodes: Iterable[BaseNode]) -> set[NodeRef]:
    """The metrics the formulas of ``nodes`` name."""
    formulas = [n.formula for n in nodes if isinstance(n, Metric)]
    return {NodeRef(NodeKind.METRIC, name) for name in names_in(formulas)}


def department_options(store: GraphReader) -> list[dict[str, str]]:
    page = store.search(SearchQuery(kinds=frozenset({NodeKind.DEPARTMENT}), limit=500))
    return [{"id": n.id, "name": n.name} for n in page.items]
