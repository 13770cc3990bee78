"""A read-only, in-memory view of a :class:`CatalogGraph` with the reads analyses use.

``kpigraph diff`` reports the impact of a change on a catalog that is not loaded anywhere
(a directory, a git revision); this view answers :func:`analysis.impact.impact`'s questions
(traverse, labels, edges) over the graph itself, with the stores' ordering rules.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from graph_schema.errors import EmptyStoreError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from store.base import (
    NodeLabel,
    SearchPage,
    SearchQuery,
    StoreInfo,
    Walk,
    hop_depths,
    keyed,
    sort_edges,
)


class CatalogView:
    """Reads over one catalog graph (no search; loads are refused).

    Examples
    --------
    >>> from tests.helpers import DEMO
    >>> from loaders.catalog import load_catalog
    >>> view = CatalogView(load_catalog(DEMO))
    >>> sorted(str(r) for r in view.traverse(NodeRef.parse("atp"), Walk.BACKWARD,
    ...                                      [Relation.INPUT_TO], 1))
    ['Metric:revenue', 'Metric:visits']
    """

    backend = "catalog"

    def __init__(self, graph: CatalogGraph) -> None:
        self.graph = graph
        self._nodes: dict[NodeRef, BaseNode] = {n.ref: n for n in graph.nodes}
        self._out: dict[NodeRef, list[Edge]] = {}
        self._in: dict[NodeRef, list[Edge]] = {}
        for edge in graph.edges:
            self._out.setdefault(edge.source, []).append(edge)
            self._in.setdefault(edge.target, []).append(edge)

    @property
    def generation(self) -> str:
        """A catalog view is one immutable graph: its "generation" is its content."""
        return str(self.graph.meta.get("digest") or id(self.graph))

    def info(self) -> StoreInfo:
        if not self._nodes:
            raise EmptyStoreError("an empty catalog")
        return StoreInfo("catalog", self.graph.name, None, self.graph.counts(), self.graph.meta)

    def get_nodes(self, refs: Iterable[NodeRef]) -> dict[NodeRef, BaseNode]:
        return {r: self._nodes[r] for r in refs if r in self._nodes}

    def labels(self, refs: Iterable[NodeRef]) -> dict[NodeRef, NodeLabel]:
        out: dict[NodeRef, NodeLabel] = {}
        for ref in refs:
            node = self._nodes.get(ref)
            if node is not None:
                level = node.level.value if isinstance(node, Metric) and node.level else None
                out[ref] = NodeLabel(node.name, level)
        return out

    def search(self, query: SearchQuery) -> SearchPage:
        return SearchPage(total=0, items=[])

    def edges_of(
        self, refs: Iterable[NodeRef], walk: Walk, relations: Iterable[Relation]
    ) -> list[Edge]:
        rels = frozenset(relations)
        found: dict[tuple[str, str, str], Edge] = {}
        for ref in set(refs):
            if walk in (Walk.FORWARD, Walk.UNDIRECTED):
                for e in self._out.get(ref, []):
                    if e.type in rels:
                        found[e.sort_key()] = e
            if walk in (Walk.BACKWARD, Walk.UNDIRECTED):
                for e in self._in.get(ref, []):
                    if e.type in rels:
                        found[e.sort_key()] = e
        return sort_edges(found.values())

    def metrics_keyed(self, keys: Collection[str]) -> list[Metric]:
        return keyed(self.graph.nodes, keys)

    def edges_among(self, refs: Iterable[NodeRef], relations: Iterable[Relation]) -> list[Edge]:
        members = set(refs)
        rels = frozenset(relations)
        return sort_edges(
            e
            for ref in members
            for e in self._out.get(ref, [])
            if e.type in rels and e.target in members
        )

    def traverse(
        self,
        root: NodeRef,
        walk: Walk,
        relations: Iterable[Relation],
        max_depth: int | None,
    ) -> dict[NodeRef, int]:
        rels = frozenset(relations)
        if root not in self._nodes:
            return {}

        def neighbours(node: NodeRef) -> list[NodeRef]:
            nexts: list[NodeRef] = []
            if walk in (Walk.FORWARD, Walk.UNDIRECTED):
                nexts += [e.target for e in self._out.get(node, []) if e.type in rels]
            if walk in (Walk.BACKWARD, Walk.UNDIRECTED):
                nexts += [e.source for e in self._in.get(node, []) if e.type in rels]
            return nexts

        return hop_depths(root, neighbours, max_depth)

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None
