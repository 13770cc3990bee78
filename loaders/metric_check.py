"""One metric definition validated against a published graph, reading only what it needs
(issue #23): the definition itself, the nodes it refers to (one batch per reference), the
nodes of one kind only when a reference is unknown (for the "did you mean"), and — only when
the definition adds formula inputs or a parent — the metrics downstream of it (for cycles).

The errors are those :func:`loaders.validate.replace_metric` gives when the metric is put in
place of the stored one in the whole stored graph (same fields, same wording, the same
suggestions and the same cycle path): a proposal validated here is a graph that
``kpigraph load`` would accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.i18n import _
from graph_schema.errors import CatalogError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from loaders.references import NameIndex, cycle_issue, resolve_metric_references
from loaders.suggest import closest
from loaders.validate import CatalogState, validate_node
from loaders.yaml_lines import LDict, line_of
from store.base import GraphReader, SearchQuery, Walk

#: every node of one kind, read for a suggestion (an unknown reference only)
ALL = 10**9


@dataclass(frozen=True)
class CheckedMetric:
    """A definition that validates: the metric and the edges its definition makes."""

    node: Metric
    edges: list[Edge]


class StoreLookup:
    """:class:`loaders.references.NameLookup` over a published graph with one metric put in
    place: ids are looked up as they are met; a suggestion reads the nodes of the kind asked
    (as :class:`loaders.references.NameIndex` would over the whole graph, the new metric
    last)."""

    def __init__(self, reader: GraphReader, own: Metric) -> None:
        self.reader = reader
        self.own = own
        self._known: dict[NodeRef, bool] = {own.ref: True}
        self._kinds: dict[NodeKind, NameIndex] = {}

    def prefetch(self, refs: list[NodeRef]) -> None:
        """Look ``refs`` up in one batch."""
        wanted = [r for r in dict.fromkeys(refs) if r not in self._known]
        if wanted:
            found = self.reader.get_nodes(wanted)
            self._known.update({r: r in found for r in wanted})

    def has(self, kind: NodeKind, node_id: str) -> bool:
        ref = NodeRef(kind, node_id)
        if ref not in self._known:
            self.prefetch([ref])
        return self._known[ref]

    def excused(self, kind: NodeKind, node_id: str) -> bool:
        return False

    def _index(self, kind: NodeKind) -> NameIndex:
        if kind not in self._kinds:
            page = self.reader.search(SearchQuery(kinds=frozenset({kind}), limit=ALL))
            nodes: dict[NodeRef, BaseNode] = {
                n.ref: n for n in sorted(page.items, key=lambda n: str(n.ref))
            }
            nodes.pop(self.own.ref, None)
            if kind is NodeKind.METRIC:
                nodes[self.own.ref] = self.own
            ids: dict[NodeKind, set[str]] = {k: set() for k in NodeKind}
            ids[kind] = {r.id for r in nodes}
            self._kinds[kind] = NameIndex(ids, nodes)
        return self._kinds[kind]

    def suggest(self, kind: NodeKind, word: str) -> list[str]:
        index = self._index(kind)
        return closest(word, index.ids[kind], index.aliases[kind])

    def any_of(self, kind: NodeKind) -> bool:
        if kind is NodeKind.METRIC:
            return True
        return bool(self.reader.search(SearchQuery(kinds=frozenset({kind}), limit=1)).items)


def check_metric(
    reader: GraphReader, metric: LDict, drop: NodeRef | None, *, where: str
) -> CheckedMetric:
    """Validate the metric ``metric`` (a raw mapping) put in place of ``drop`` (or added) in
    the graph ``reader`` reads: its fields, its references, and the formula and hierarchy
    cycles it would close.

    Raises
    ------
    CatalogError
        Naming the field and what to do (the errors of
        :func:`loaders.validate.replace_metric` over the whole graph).
    """
    state = CatalogState(Path(where))
    proposed = validate_node(state, Metric, metric, where)
    if proposed is not None:
        state.add_node(proposed, where, metric.line or None, metric)
    if state.issues or not isinstance(proposed, Metric):
        raise CatalogError(state.issues)
    lookup = StoreLookup(reader, proposed)
    lookup.prefetch(_references(proposed))
    resolve_metric_references(state, lookup)
    edges = list(state.edges.values())
    for rel in (Relation.INPUT_TO, Relation.ROLLS_UP_TO):
        _check_cycle(state, reader, proposed, drop, edges, rel)
    if state.issues:
        raise CatalogError(state.issues)
    return CheckedMetric(proposed, edges)


def _references(metric: Metric) -> list[NodeRef]:
    """What ``metric`` refers to outside its formulas (those are looked up as met)."""
    refs = [NodeRef(NodeKind.DEPARTMENT, d) for d in (metric.owner, metric.reviewer) if d]
    refs += [NodeRef(NodeKind.FIELD, f) for f in metric.fields]
    refs += [NodeRef(NodeKind.DIMENSION, d) for d in metric.dimensions]
    refs += [NodeRef(NodeKind.DASHBOARD, b) for b in metric.dashboards]
    refs += [NodeRef(NodeKind.METRIC, c.metric) for c in metric.causes]
    refs += [NodeRef(NodeKind.METRIC, m) for m in (metric.rolls_up_to, *metric.parallel) if m]
    return refs


def _check_cycle(
    state: CatalogState,
    reader: GraphReader,
    metric: Metric,
    drop: NodeRef | None,
    edges: list[Edge],
    rel: Relation,
) -> None:
    """The cycle of ``rel`` the new edges close, reported as
    :func:`loaders.references.check_cycles` reports it over the whole graph (the stored graph
    has none, so any cycle goes through the metric). Its strongly connected component lies
    among the nodes the metric reaches: those are read, with the edges among them."""
    ref = metric.ref
    new = [(e.source, e.target) for e in edges if e.type is rel]
    if not new:
        return
    if rel is Relation.INPUT_TO:
        inputs = {s for s, _t in new}
        reached = set(reader.traverse(ref, Walk.FORWARD, [rel], None)) if drop else set()
        if not inputs & (reached | {ref}):
            return
    else:
        parent = new[0][1]
        reached = {parent} | set(reader.traverse(parent, Walk.FORWARD, [rel], None))
        if ref not in reached:
            return
    members = reached | {ref}
    # the stored edges the new definition replaces: into the metric (its old formula's) or
    # out of it (its old parent)
    own = 1 if rel is Relation.INPUT_TO else 0
    stored = [
        (e.source, e.target)
        for e in reader.edges_among(members, [rel])
        if (e.source, e.target)[own] != ref
    ]
    # the whole graph's edge order: by the metric whose definition makes them (sorted by
    # ref, the proposed one last), as resolving every metric in turn adds them; what matters
    # is the order of each node's successors (a metric has one parent: no order there)
    pairs = sorted(stored, key=lambda p: str(p[1])) + [
        p for p in new if p[0] in members and p[1] in members
    ]
    _report_cycle(state, pairs, ref, rel)


def _report_cycle(
    state: CatalogState, pairs: list[tuple[NodeRef, NodeRef]], ref: NodeRef, rel: Relation
) -> None:
    import networkx as nx

    g: nx.DiGraph[NodeRef] = nx.DiGraph()
    g.add_edges_from(pairs)
    for component in nx.strongly_connected_components(g):
        if ref not in component:
            continue
        members = sorted(component, key=str)
        if len(members) == 1 and not g.has_edge(members[0], members[0]):
            continue
        cycle_edges = nx.find_cycle(g.subgraph(component), source=members[0])
        path = [e[0].id for e in cycle_edges] + [cycle_edges[0][0].id]
        first = cycle_edges[-1][1]
        attr = "formula" if rel is Relation.INPUT_TO else "rolls_up_to"
        if first == ref:
            origin = state.origins[ref]
            file, line = origin.file, line_of(state.raw[ref], (attr,)) or origin.line
        else:  # a stored metric: no file, no line
            file, line = _("stored catalog"), None
        message, hint = cycle_issue(rel, path)
        state.issue(file, line, message, hint, field=attr)
