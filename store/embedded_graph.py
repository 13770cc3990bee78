"""The embedded store's in-memory graph: adjacency dictionaries read from the file, and the
same graph with a written delta's rows replaced.

A :class:`GraphIndex` is one generation of the file (one load's or one delta's rows) and is
never mutated once built: a reader holding it answers from that generation whatever is written
meanwhile. After a delta written by this process, :func:`patched` makes the next generation's
index from the previous one — the top-level dictionaries copied (pointers, not rows) and the
changed nodes' entries replaced — instead of reading every row of the file again (at L that
read is seconds of CPU and gigabytes of new objects, on the first request after each apply).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.bulk import paused_gc, settle
from graph_schema.diff import GraphDiff
from graph_schema.ids import NodeKind
from graph_schema.revisions import ChangeOp
from store.base import StoreInfo, Walk, hop_depths

if TYPE_CHECKING:
    import threading

    from graph_schema.models import BaseNode
    from store.search_index import SearchIndex

#: ref -> neighbour ref -> relation type -> the edge's stored properties (JSON text)
Adjacency = dict[str, dict[str, dict[str, str]]]
#: the stored text of an edge without properties
NO_PROPS = "{}"
#: a node a delta changed, as the search index takes it: kind, ref, properties (None: removed)
Change = tuple[NodeKind, str, "Mapping[str, Any] | None"]


@dataclass
class GraphIndex:
    """The in-memory graph of one generation: refs as strings (``Kind:id``), every node's
    stored properties as JSON text (models built on demand), and the edges both ways.
    ``meta`` is the file's meta table as it was read with these rows."""

    succ: Adjacency
    pred: Adjacency
    props: dict[str, str]
    info: StoreInfo
    generation: str
    meta: dict[str, str]
    _search: SearchIndex | None = field(default=None, init=False, repr=False, compare=False)
    _search_lock: threading.Lock = field(
        default_factory=lambda: _lock(), init=False, repr=False, compare=False
    )
    #: the previous generation's search index and the nodes a delta changed since (set by
    #: :func:`patched` when the previous one was in memory): the first search patches it
    _search_base: tuple[SearchIndex, list[Change]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def search_pending(self) -> bool:
        """Whether this graph's search index is to be patched from the previous generation's
        in memory (by the first search, or the thread a delta started)."""
        return self._search is None and self._search_base is not None

    def search_index(self, store: str, nodes: Iterable[BaseNode] | None = None) -> SearchIndex:
        """The search index of this graph, made by the first search (numpy and the scan
        arrays are not paid for by commands and requests that never search): the previous
        generation's patched when this one is a delta of it held in memory, else read from
        its file (:mod:`store.search_file`) if one holds it, else built — from ``nodes`` when
        given (a load has them), else from the stored properties — and written there.
        ``store`` names the store in those files."""
        with self._search_lock:
            if self._search is None:
                from store.search_file import IndexFile
                from store.search_index import SearchIndexBuilder
                from store.search_index import patched as patched_search

                info = self.info
                file = IndexFile.of(store, self.generation, info.loaded_at, info.counts)
                index = None
                if self._search_base is not None and nodes is None:
                    base, changes = self._search_base
                    index = patched_search(base, changes)
                    self._search_base = None
                    if file is not None:
                        file.save(index)
                if index is None and file is not None and nodes is None:
                    index = file.load()
                if index is None:
                    if nodes is not None:
                        index = SearchIndexBuilder.of_nodes(nodes)
                    else:
                        builder = SearchIndexBuilder()
                        for ref, p in self.props.items():
                            builder.add(NodeKind(ref.partition(":")[0]), ref, json.loads(p))
                        index = builder.build()
                    if file is not None:
                        file.save(index)
                self._search = index
            return self._search


def _lock() -> threading.Lock:
    import threading

    return threading.Lock()


def build_index(
    nodes: Iterable[tuple[str, str, str]],
    edges: list[tuple[str, str, str, str]],
    meta: dict[str, str],
    backend: str,
) -> GraphIndex:
    """The in-memory graph of a file's rows (``meta``, ``nodes``, ``edges``: one load's, read
    by the caller in one read transaction), built with the garbage collector paused."""
    with paused_gc():
        index = _build(nodes, edges, meta, backend)
    settle()  # long-lived: later collections skip it
    return index


def _build(
    nodes: Iterable[tuple[str, str, str]],
    edges: list[tuple[str, str, str, str]],
    meta: dict[str, str],
    backend: str,
) -> GraphIndex:
    succ: Adjacency = {}
    pred: Adjacency = {}
    props: dict[str, str] = {}
    counts: dict[str, int] = {k.value: 0 for k in NodeKind}
    for kind, node_id, p in nodes:
        ref = f"{kind}:{node_id}"
        succ[ref] = {}
        pred[ref] = {}
        props[ref] = p
        counts[kind] = counts.get(kind, 0) + 1
    for source, target, rtype, p in edges:
        if p == NO_PROPS:
            p = NO_PROPS  # one shared string
        out = succ.get(source)
        if out is None:
            out = succ[source] = {}
            pred.setdefault(source, {})
        ins = pred.get(target)
        if ins is None:
            ins = pred[target] = {}
            succ.setdefault(target, {})
        keys = out.get(target)
        if keys is None:  # one dict for both directions (as networkx keeps them)
            keys = out[target] = ins[source] = {}
        keys[rtype] = p
    counts["edges"] = len(edges)
    info = StoreInfo(
        backend=backend,
        catalog=meta.get("catalog"),
        loaded_at=meta.get("loaded_at"),
        counts=counts,
        meta=json.loads(meta.get("catalog_meta", "{}")),
    )
    generation = meta.get("generation") or ""
    if not generation and info.catalog is not None:  # written before generations had ids
        generation = f"{info.loaded_at}/{len(props)}/{len(edges)}"
    return GraphIndex(succ, pred, props, info, generation, dict(meta))


def patched(index: GraphIndex, diff: GraphDiff, meta: dict[str, str]) -> GraphIndex:
    """``index`` with ``diff`` (rows as ``index`` holds them → rows as written) applied, as
    the generation ``meta`` (the file's meta table after the write) — what reading the file
    again would give, without reading it. ``index`` itself is not changed: the top-level
    dictionaries are copied and each touched node's inner dictionaries replaced by copies.

    Examples
    --------
    >>> from graph_schema.revisions import EdgeChange, NodeChange
    >>> rows = [("Metric", "a", '{"id": "a"}'), ("Metric", "b", '{"id": "b"}')]
    >>> old = build_index(rows, [], {"generation": "g1", "catalog": "c"}, "embedded")
    >>> diff = GraphDiff(
    ...     nodes=[NodeChange(ref="Metric:c", op=ChangeOp.ADDED, new={"id": "c"})],
    ...     edges=[EdgeChange(source="Metric:a", target="Metric:c", type="INPUT_TO",
    ...                       op=ChangeOp.ADDED, new={"role": "term"})])
    >>> new = patched(old, diff, {"generation": "g2", "catalog": "c"})
    >>> new.succ["Metric:a"], old.succ["Metric:a"]
    ({'Metric:c': {'INPUT_TO': '{"role": "term"}'}}, {})
    >>> new.pred["Metric:c"]
    {'Metric:a': {'INPUT_TO': '{"role": "term"}'}}
    >>> new.info.counts["Metric"], new.info.counts["edges"], new.generation
    (3, 1, 'g2')
    """
    with paused_gc():
        props = dict(index.props)
        succ = dict(index.succ)
        pred = dict(index.pred)
        counts = dict(index.info.counts)
        copied: set[tuple[int, str]] = set()  # (which side, ref) whose inner dict is a copy

        def own(side: Adjacency, ref: str) -> dict[str, dict[str, str]]:
            key = (id(side), ref)
            if key not in copied:
                copied.add(key)
                side[ref] = {other: dict(keys) for other, keys in side.get(ref, {}).items()}
            return side[ref]

        for c in diff.nodes:
            kind = c.ref.partition(":")[0]
            if c.op is ChangeOp.REMOVED:
                if props.pop(c.ref, None) is not None:
                    counts[kind] = counts.get(kind, 0) - 1
            else:
                if c.ref not in props:
                    counts[kind] = counts.get(kind, 0) + 1
                props[c.ref] = json.dumps(c.new, ensure_ascii=False)  # as the row is written
                succ.setdefault(c.ref, {})
                pred.setdefault(c.ref, {})
        for e in diff.edges:
            out, ins = own(succ, e.source), own(pred, e.target)
            keys, keys_in = out.setdefault(e.target, {}), ins.setdefault(e.source, {})
            had = e.type in keys
            if e.op is ChangeOp.REMOVED:
                keys.pop(e.type, None)
                keys_in.pop(e.type, None)
                counts["edges"] = counts.get("edges", 0) - had
                if not keys:
                    del out[e.target], ins[e.source]
            else:
                text = json.dumps(e.new or {}, ensure_ascii=False)
                keys[e.type] = keys_in[e.type] = NO_PROPS if text == NO_PROPS else text
                counts["edges"] = counts.get("edges", 0) + (not had)
        for c in diff.nodes:  # a removed node stays only while edges still name it
            if c.op is ChangeOp.REMOVED and not succ.get(c.ref) and not pred.get(c.ref):
                succ.pop(c.ref, None)
                pred.pop(c.ref, None)
        info = StoreInfo(
            backend=index.info.backend,
            catalog=meta.get("catalog"),
            loaded_at=meta.get("loaded_at"),
            counts=counts,
            meta=json.loads(meta.get("catalog_meta", "{}")),
        )
        new = GraphIndex(succ, pred, props, info, meta.get("generation") or "", dict(meta))
    settle()  # long-lived, as a graph read from the file
    # the previous generation's search index, if it was read (patched by the first search or
    # the thread of store.embedded_reader.update_search_index); read without its lock, which
    # a search may hold for seconds: both attributes are replaced whole, never mutated
    base, earlier = index._search, list[Change]()
    pending = index._search_base
    if base is None and pending is not None:
        base, earlier = pending
    if base is not None:
        new._search_base = (base, [*earlier, *search_changes(diff)])
    return new


def search_changes(diff: GraphDiff) -> list[Change]:
    """The nodes ``diff`` changes, as the search index takes them."""
    return [(NodeKind(c.ref.partition(":")[0]), c.ref, c.new) for c in diff.nodes]


def bfs(
    index: GraphIndex,
    root: str,
    walk: Walk,
    relations: set[str],
    max_depth: int | None,
) -> dict[str, int]:
    """Breadth-first search over the relation-filtered graph; shortest hop per node.

    Examples
    --------
    >>> g = build_index([], [("a", "b", "INPUT_TO", "{}"), ("b", "a", "DRIVES", "{}")], {}, "e")
    >>> bfs(g, "a", Walk.FORWARD, {"INPUT_TO", "DRIVES"}, None)
    {'b': 1}
    """
    if root not in index.succ:
        return {}
    adjacency: list[Mapping[str, dict[str, dict[str, str]]]] = []
    if walk in (Walk.FORWARD, Walk.UNDIRECTED):
        adjacency.append(index.succ)
    if walk in (Walk.BACKWARD, Walk.UNDIRECTED):
        adjacency.append(index.pred)

    def neighbours(node: str) -> Iterator[str]:
        for adj in adjacency:
            for other, keys in adj[node].items():
                if not relations.isdisjoint(keys):
                    yield other

    return hop_depths(root, neighbours, max_depth)
