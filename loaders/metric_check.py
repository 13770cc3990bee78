"""One metric definition validated against a published graph, reading only what it needs
(issue #23), by the unit every way into the graph validates through
(:func:`loaders.delta_check.check_delta`) over :class:`StoreLookup`: the definition itself, the
nodes it refers to (one batch per reference), the nodes of one kind only when a reference is
unknown (for the "did you mean"), and — only when the definition adds formula inputs or a
parent — the metrics downstream of it (for cycles).

The errors are those :func:`loaders.validate.replace_metric` gives when the metric is put in
place of the stored one in the whole stored graph (same fields, same wording, the same
suggestions and the same cycle path): a proposal validated here is a graph that
``kpigraph load`` would accept.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from core.i18n import _
from graph_schema.errors import CatalogError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from loaders.delta_check import Pair, check_delta
from loaders.references import NameIndex
from loaders.suggest import closest
from loaders.validate import CatalogState, validate_node
from loaders.yaml_lines import LDict
from store.base import GraphReader, SearchQuery, Walk

#: every node of one kind, read for a suggestion (an unknown reference only)
ALL = 10**9


@dataclass(frozen=True)
class CheckedMetric:
    """A definition that validates: the metric and the edges its definition makes."""

    node: Metric
    edges: list[Edge]


class StoreLookup:
    """:class:`loaders.delta_check.GraphLookup` over a published graph with one metric put in
    place of ``drop`` (or added): ids are looked up as they are met; a suggestion reads the
    nodes of the kind asked (as :class:`loaders.references.NameIndex` would over the whole
    graph, the new metric last); cycles read the metrics downstream of the new links."""

    def __init__(self, reader: GraphReader, own: Metric, drop: NodeRef | None = None) -> None:
        self.reader = reader
        self.own = own
        self.drop = drop
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

    def declared(self, refs: Collection[NodeRef]) -> dict[NodeRef, str]:
        """The stored nodes among ``refs`` other than the one replaced (a proposal of a new
        metric whose id exists is refused before it is validated)."""
        wanted = [r for r in refs if r != self.drop]
        return {r: _("stored catalog") for r in self.reader.get_nodes(wanted)} if wanted else {}

    def referrers(self, ids: Collection[str]) -> set[str]:
        """Nothing is removed by one definition put in place."""
        return set()

    def links(self, rel: Relation, refs: Collection[NodeRef]) -> set[Pair]:
        """The links the stored definitions of ``refs`` made (the metric's old formula or
        parent: a definition keeping them closes no cycle)."""
        refs = [r for r in refs if r == self.drop]
        if not refs:
            return set()
        walk = Walk.BACKWARD if rel is Relation.INPUT_TO else Walk.FORWARD
        return {(e.source, e.target) for e in self.reader.edges_of(refs, walk, [rel])}

    def downstream(self, rel: Relation, starts: Collection[NodeRef]) -> set[NodeRef]:
        found: set[NodeRef] = set()
        for start in sorted(starts, key=str):
            if start == self.own.ref and self.drop is None:
                continue  # a new metric: nothing stored refers to it
            found |= set(self.reader.traverse(start, Walk.FORWARD, [rel], None))
        return found

    def links_among(self, rel: Relation, members: Collection[NodeRef]) -> list[Pair]:
        return [(e.source, e.target) for e in self.reader.edges_among(members, [rel])]

    def origin(self, ref: NodeRef) -> tuple[str, int | None]:
        return (_("stored catalog"), None)


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
    lookup = StoreLookup(reader, proposed, drop)
    lookup.prefetch(_references(proposed))
    check_delta(state, lookup)
    if state.issues:
        raise CatalogError(state.issues)
    return CheckedMetric(proposed, list(state.edges.values()))


def _references(metric: Metric) -> list[NodeRef]:
    """What ``metric`` refers to outside its formulas (those are looked up as met)."""
    refs = [NodeRef(NodeKind.DEPARTMENT, d) for d in (metric.owner, metric.reviewer) if d]
    refs += [NodeRef(NodeKind.FIELD, f) for f in metric.fields]
    refs += [NodeRef(NodeKind.DIMENSION, d) for d in metric.dimensions]
    refs += [NodeRef(NodeKind.DASHBOARD, b) for b in metric.dashboards]
    refs += [NodeRef(NodeKind.METRIC, c.metric) for c in metric.causes]
    refs += [NodeRef(NodeKind.METRIC, m) for m in (metric.rolls_up_to, *metric.parallel) if m]
    return refs
