"""Reading the embedded store: one loaded graph held in memory, answered with networkx.

An :class:`EmbeddedReader` holds one :class:`GraphIndex` (never mutated once built), so every
read through it answers from the same load.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx

from graph_schema.errors import EmptyStoreError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, node_from_props
from graph_schema.relations import RELATION_BY_VALUE, Relation
from store.base import NodeLabel, SearchPage, SearchQuery, StoreInfo, Walk, sort_edges

if TYPE_CHECKING:
    from store.search_index import SearchIndex


@dataclass
class GraphIndex:
    """The in-memory graph: refs as strings (``Kind:id``), relations as multi-edge keys."""

    graph: nx.MultiDiGraph
    props: dict[str, str]  # ref -> JSON properties (models built on demand)
    info: StoreInfo
    generation: str

    @functools.cached_property
    def search(self) -> SearchIndex:
        """The search index of this graph, built by the first search (numpy and the scan
        arrays are not paid for by commands and requests that never search)."""
        from store.search_index import SearchIndexBuilder

        builder = SearchIndexBuilder()
        for ref, p in self.props.items():
            builder.add(NodeKind(ref.partition(":")[0]), ref, json.loads(p))
        return builder.build()


class EmbeddedReader:
    """A :class:`~store.base.GraphReader` over one in-memory graph: every read answers from
    the load it was taken on, whatever is loaded meanwhile (the index is never mutated).

    ``source`` is that graph, or a function returning the current one, called by the first
    read (so taking a reader does no I/O: an API request takes one before it runs).
    """

    backend = "embedded"

    def __init__(self, source: GraphIndex | Callable[[], GraphIndex], where: str) -> None:
        self._source = source
        self._where = where

    @property
    def _index(self) -> GraphIndex:
        if not isinstance(self._source, GraphIndex):
            self._source = self._source()
        return self._source

    @property
    def generation(self) -> str:
        return self._index.generation

    @property
    def pinned_generation(self) -> str | None:
        """The generation if a read already pinned it (no I/O), else ``None``."""
        return self._source.generation if isinstance(self._source, GraphIndex) else None

    def info(self) -> StoreInfo:
        info = self._index.info
        if info.catalog is None:
            raise EmptyStoreError(self._where)
        return info

    def get_nodes(self, refs: Iterable[NodeRef]) -> dict[NodeRef, BaseNode]:
        props = self._index.props
        out: dict[NodeRef, BaseNode] = {}
        for ref in refs:
            p = props.get(str(ref))
            if p is not None:
                out[ref] = node_from_props(ref.kind, json.loads(p))
        return out

    def labels(self, refs: Iterable[NodeRef]) -> dict[NodeRef, NodeLabel]:
        props = self._index.props
        out: dict[NodeRef, NodeLabel] = {}
        for ref in refs:
            p = props.get(str(ref))
            if p is not None:
                values = json.loads(p)
                out[ref] = NodeLabel(values["name"], values.get("level"))
        return out

    def search(self, query: SearchQuery) -> SearchPage:
        self.info()  # nothing loaded is an error, not "0 matches"
        index = self._index
        total, refs = index.search.page(query)
        return SearchPage(total=total, items=[_node(ref, index.props[ref]) for ref in refs])

    def edges_of(
        self, refs: Iterable[NodeRef], walk: Walk, relations: Iterable[Relation]
    ) -> list[Edge]:
        g = self._index.graph
        rels = {r.value for r in relations}
        out: list[Edge] = []
        for ref in {str(r) for r in refs}:
            if ref not in g:
                continue
            if walk in (Walk.FORWARD, Walk.UNDIRECTED):
                out.extend(_edges(g, ref, g._succ[ref], rels, forward=True))
            if walk in (Walk.BACKWARD, Walk.UNDIRECTED):
                out.extend(_edges(g, ref, g._pred[ref], rels, forward=False))
        return sort_edges(set_of_edges(out))

    def edges_among(self, refs: Iterable[NodeRef], relations: Iterable[Relation]) -> list[Edge]:
        g = self._index.graph
        rels = {r.value for r in relations}
        members = {str(r) for r in refs}
        out: list[Edge] = []
        for ref in members:
            succ = g._succ.get(ref)
            if succ is None:
                continue
            # walk the smaller side: a hot field feeds thousands of metrics, few of them members
            pairs = (
                ((t, succ[t]) for t in members if t in succ)
                if len(succ) > len(members)
                else ((t, keys) for t, keys in succ.items() if t in members)
            )
            for target, keys in pairs:
                for rtype, attrs in keys.items():
                    if rtype in rels:
                        out.append(_edge(ref, target, rtype, attrs.get("props", "{}")))
        return sort_edges(out)

    def traverse(
        self,
        root: NodeRef,
        walk: Walk,
        relations: Iterable[Relation],
        max_depth: int | None,
    ) -> dict[NodeRef, int]:
        found = bfs(self._index.graph, str(root), walk, {r.value for r in relations}, max_depth)
        return {NodeRef.from_stored(ref): d for ref, d in found.items()}


def bfs(
    g: nx.MultiDiGraph,
    root: str,
    walk: Walk,
    relations: set[str],
    max_depth: int | None,
) -> dict[str, int]:
    """Breadth-first search over the relation-filtered multigraph; shortest hop per node.

    Examples
    --------
    >>> g = nx.MultiDiGraph()
    >>> _ = g.add_edge("a", "b", key="INPUT_TO"); _ = g.add_edge("b", "a", key="DRIVES")
    >>> bfs(g, "a", Walk.FORWARD, {"INPUT_TO", "DRIVES"}, None)
    {'b': 1}
    """
    if root not in g:
        return {}
    adjacency: list[dict[str, dict[str, Any]]] = []
    if walk in (Walk.FORWARD, Walk.UNDIRECTED):
        adjacency.append(g._succ)
    if walk in (Walk.BACKWARD, Walk.UNDIRECTED):
        adjacency.append(g._pred)
    depth = {root: 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        d = depth[node]
        if max_depth is not None and d >= max_depth:
            continue
        for adj in adjacency:
            for other, keys in adj[node].items():
                if other in depth:
                    continue
                if not relations.isdisjoint(keys):
                    depth[other] = d + 1
                    queue.append(other)
    del depth[root]
    return depth


def _node(ref: str, props: str) -> BaseNode:
    kind, _, _ = ref.partition(":")
    return node_from_props(NodeKind(kind), json.loads(props))


def _edge(source: str, target: str, rtype: str, props: str) -> Edge:
    """An edge read back from the store: it was validated when loaded, so it is constructed
    without validating again (validation was most of the cost of large answers)."""
    return Edge.model_construct(
        source=NodeRef.from_stored(source),
        target=NodeRef.from_stored(target),
        type=RELATION_BY_VALUE[rtype],
        props=json.loads(props) if props != "{}" else {},
    )


def _edges(
    g: nx.MultiDiGraph,
    ref: str,
    adj: dict[str, dict[str, Any]],
    rels: set[str],
    *,
    forward: bool,
) -> Iterator[Edge]:
    for other, keys in adj.items():
        for rtype, attrs in keys.items():
            if rtype in rels:
                s, t = (ref, other) if forward else (other, ref)
                yield _edge(s, t, rtype, attrs.get("props", "{}"))


def set_of_edges(edges: Iterable[Edge]) -> list[Edge]:
    """Drop duplicate edges (the same edge seen from both ends)."""
    seen: dict[tuple[str, str, str], Edge] = {}
    for e in edges:
        seen.setdefault(e.sort_key(), e)
    return list(seen.values())
