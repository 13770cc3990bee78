"""Reading the embedded store: one loaded graph held in memory (:mod:`store.embedded_graph`).

An :class:`EmbeddedReader` holds one :class:`GraphIndex` (never mutated once built), so every
read through it answers from the same generation.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from graph_schema.errors import EmptyStoreError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric, node_from_props
from graph_schema.relations import RELATION_BY_VALUE, Relation
from store.base import NodeLabel, SearchPage, SearchQuery, StoreInfo, Walk, keyed, sort_edges
from store.embedded_graph import GraphIndex, bfs

if TYPE_CHECKING:
    from store.search_file import IndexFile


class EmbeddedReader:
    """A :class:`~store.base.GraphReader` over one in-memory graph: every read answers from
    the load it was taken on, whatever is loaded meanwhile (the index is never mutated).

    ``source`` is that graph, or a function returning the current one, called by the first
    read (so taking a reader does no I/O: an API request takes one before it runs).
    """

    backend = "embedded"

    def __init__(
        self,
        source: GraphIndex | Callable[[], GraphIndex],
        where: str,
        keyed: Callable[[str, Collection[str]], list[str] | None] | None = None,
    ) -> None:
        self._source = source
        self._where = where
        self._keyed = keyed

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
        total, refs = index.search_index(self.store_name).page(query)
        return SearchPage(total=total, items=[_node(ref, index.props[ref]) for ref in refs])

    @property
    def store_name(self) -> str:
        return store_name(self._where)

    def warm(self) -> None:
        """Read the graph and its search index now (``kpigraph serve`` calls it, in the
        background, so that the first request does not wait for them)."""
        self.info()  # nothing loaded: EmptyStoreError, nothing to read
        self._index.search_index(self.store_name)

    def index_file(self) -> IndexFile | None:
        """Where this graph's search index is kept (``None``: no file)."""
        from store.search_file import IndexFile

        index = self._index
        info = index.info
        return IndexFile.of(self.store_name, index.generation, info.loaded_at, info.counts)

    @property
    def search_index_source(self) -> str | None:
        """``"file"`` or ``"built"`` once this graph's search index is made, else ``None``."""
        index = self._index._search
        return index.source if index is not None else None

    def edges_of(
        self, refs: Iterable[NodeRef], walk: Walk, relations: Iterable[Relation]
    ) -> list[Edge]:
        index = self._index
        rels = {r.value for r in relations}
        out: list[Edge] = []
        for ref in {str(r) for r in refs}:
            if ref not in index.succ:
                continue
            if walk in (Walk.FORWARD, Walk.UNDIRECTED):
                out.extend(_edges(ref, index.succ[ref], rels, forward=True))
            if walk in (Walk.BACKWARD, Walk.UNDIRECTED):
                out.extend(_edges(ref, index.pred[ref], rels, forward=False))
        return sort_edges(set_of_edges(out))

    def edges_among(self, refs: Iterable[NodeRef], relations: Iterable[Relation]) -> list[Edge]:
        adjacency = self._index.succ
        rels = {r.value for r in relations}
        members = {str(r) for r in refs}
        out: list[Edge] = []
        for ref in members:
            succ = adjacency.get(ref)
            if succ is None:
                continue
            # walk the smaller side: a hot field feeds thousands of metrics, few of them members
            pairs = (
                ((t, succ[t]) for t in members if t in succ)
                if len(succ) > len(members)
                else ((t, keys) for t, keys in succ.items() if t in members)
            )
            for target, keys in pairs:
                for rtype, text in keys.items():
                    if rtype in rels:
                        out.append(_edge(ref, target, rtype, text))
        return sort_edges(out)

    def traverse(
        self,
        root: NodeRef,
        walk: Walk,
        relations: Iterable[Relation],
        max_depth: int | None,
    ) -> dict[NodeRef, int]:
        found = bfs(self._index, str(root), walk, {r.value for r in relations}, max_depth)
        return {NodeRef.from_stored(ref): d for ref, d in found.items()}

    def metrics_keyed(self, keys: Collection[str]) -> list[Metric]:
        """By the file's conflict-key index (:mod:`store.embedded_keys`) when it holds this
        reader's generation; else from every metric held in memory."""
        index = self._index
        ids = self._keyed(index.generation, keys) if self._keyed is not None and keys else None
        if ids is None:
            prefix = f"{NodeKind.METRIC.value}:"
            metrics = (_node(r, p) for r, p in index.props.items() if r.startswith(prefix))
            return keyed(metrics, keys)
        found = self.get_nodes(NodeRef(NodeKind.METRIC, i) for i in ids).values()
        return sorted((m for m in found if isinstance(m, Metric)), key=lambda m: str(m.ref))


def write_search_index(
    store: str, generation: str, info: StoreInfo, nodes: Iterable[BaseNode]
) -> None:
    """After a load: the file of the new graph's search index, written from the loaded nodes
    by a detached process (:func:`store.search_file.write_detached`), or else here."""
    from store.search_file import IndexFile, write_detached
    from store.search_index import SearchIndexBuilder

    file = IndexFile.of(store, generation, info.loaded_at, info.counts)
    if file is not None and not write_detached(file, lambda: SearchIndexBuilder.of_nodes(nodes)):
        file.save(SearchIndexBuilder.of_nodes(nodes))


def update_search_index(
    store: str,
    before: Mapping[str, str],
    generation: str,
    info: StoreInfo,
    changes: Sequence[tuple[NodeKind, str, Mapping[str, Any] | None]],
    held: GraphIndex | None = None,
) -> None:
    """After a delta (:meth:`store.embedded.EmbeddedStore.apply`): the new generation's index
    file made from the previous generation's with the changed nodes replaced
    (:func:`store.search_index.patched`), not built from every node.

    ``held``: the new generation's in-memory graph when this process patched it
    (:func:`store.embedded_graph.patched`) from one whose search index it had read — then a
    thread patches that index in memory and writes the file from it (a server's next search
    needs no file). Else the previous generation's file (``before``: its stored meta) is read
    and patched — in a detached process that alone imports numpy when this process is small
    enough to fork (:data:`core.bulk.FORK_LIMIT`: a server holding a large graph is not
    forked), or else in a thread of its own. Without a usable previous file nothing is
    written: the first reader builds the index as before."""
    from core.bulk import FORK_LIMIT, run_detached

    if held is not None and held.search_pending:

        def patch_held() -> None:
            with contextlib.suppress(Exception):  # only a cache: a search builds what is missing
                held.search_index(store)

        threading.Thread(target=patch_held, name="kpigraph-index", daemon=True).start()
        return

    def work() -> None:
        from store.search_file import IndexFile
        from store.search_index import patched

        counts = json.loads(before.get("counts") or "{}")
        old = IndexFile.of(store, before.get("generation", ""), before.get("loaded_at"), counts)
        new = IndexFile.of(store, generation, info.loaded_at, info.counts)
        index = old.load() if old is not None else None
        if index is not None and new is not None:
            new.save(patched(index, changes))  # written whole, then renamed into place

    def in_thread() -> None:
        with contextlib.suppress(Exception):  # only a cache: a reader builds what is missing
            work()

    if not run_detached(work, max_rss=FORK_LIMIT):
        threading.Thread(target=in_thread, name="kpigraph-index", daemon=True).start()


def store_name(path: str | os.PathLike[str]) -> str:
    """The store in search index files (:mod:`store.search_file`): its absolute path."""
    return f"embedded {os.path.abspath(path)}"


def info_of_file(conn: sqlite3.Connection) -> StoreInfo:
    """The loaded graph's info from the meta table (one read transaction). The counts are
    those the load recorded; a file written before they were is counted (a scan of both
    tables: seconds at L)."""
    conn.execute("BEGIN")
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        counts: dict[str, int] = {k.value: 0 for k in NodeKind}
        if "counts" in meta:
            counts.update(json.loads(meta["counts"]))
        else:
            counts.update(conn.execute("SELECT kind, count(*) FROM nodes GROUP BY kind").fetchall())
            counts["edges"] = int(conn.execute("SELECT count(*) FROM edges").fetchone()[0])
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
    return StoreInfo(
        backend=EmbeddedReader.backend,
        catalog=meta.get("catalog"),
        loaded_at=meta.get("loaded_at"),
        counts=counts,
        meta=json.loads(meta.get("catalog_meta", "{}")),
    )


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
    ref: str,
    adj: dict[str, dict[str, str]],
    rels: set[str],
    *,
    forward: bool,
) -> Iterator[Edge]:
    for other, keys in adj.items():
        for rtype, text in keys.items():
            if rtype in rels:
                s, t = (ref, other) if forward else (other, ref)
                yield _edge(s, t, rtype, text)


def set_of_edges(edges: Iterable[Edge]) -> list[Edge]:
    """Drop duplicate edges (the same edge seen from both ends)."""
    seen: dict[tuple[str, str, str], Edge] = {}
    for e in edges:
        seen.setdefault(e.sort_key(), e)
    return list(seen.values())
