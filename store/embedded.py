"""The embedded backend: a SQLite file is the durable record, networkx the in-memory index.

A load replaces the whole graph inside one SQLite transaction, so a failed or interrupted
load (exception, kill -9, power loss) leaves the previous graph intact. Readers in other
processes notice a newer load through ``PRAGMA data_version`` and re-read the file.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from graph_schema.errors import BackendUnavailableError, EmptyStoreError, StoreError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, node_from_props
from graph_schema.relations import RELATION_BY_VALUE, Relation
from store.base import NodeLabel, ProgressFn, SearchPage, SearchQuery, StoreInfo, Walk, sort_edges
from store.search_index import SearchIndex, SearchIndexBuilder

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    kind TEXT NOT NULL, id TEXT NOT NULL, props TEXT NOT NULL, PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS edges (
    source TEXT NOT NULL, target TEXT NOT NULL, type TEXT NOT NULL, props TEXT NOT NULL,
    PRIMARY KEY (source, target, type)
);
"""
SCHEMA_VERSION = "1"
BATCH = 5000


@dataclass
class _Index:
    """The in-memory graph: refs as strings (``Kind:id``), relations as multi-edge keys."""

    graph: nx.MultiDiGraph
    props: dict[str, str]  # ref -> JSON properties (models built on demand)
    search: SearchIndex
    info: StoreInfo


class EmbeddedStore:
    """:class:`~store.base.GraphStore` over a SQLite file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from loaders.catalog import load_catalog
    >>> store = EmbeddedStore(pathlib.Path(tempfile.mkdtemp()) / "g.sqlite")
    >>> info = store.load(load_catalog("catalogs/automotive_aftersales"))
    >>> up = store.traverse(NodeRef.parse("atp"), Walk.BACKWARD, [Relation.INPUT_TO], 1)
    >>> sorted((str(ref), hops) for ref, hops in up.items())
    [('Metric:revenue', 1), ('Metric:visits', 1)]
    """

    backend = "embedded"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._index: _Index | None = None
        self._data_version: int | None = None

    # -- connection ---------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
            except (sqlite3.Error, OSError) as exc:
                raise BackendUnavailableError(
                    f"cannot open the embedded store at {self.path}: {exc}",
                    {"path": str(self.path)},
                ) from exc
            self._conn = conn
        return self._conn

    def ping(self) -> None:
        with self._lock:
            try:
                self._connection().execute("SELECT 1").fetchone()
            except sqlite3.Error as exc:
                raise BackendUnavailableError(f"embedded store {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._index = None

    # -- load ---------------------------------------------------------------------------------

    def load(self, graph: CatalogGraph, progress: ProgressFn | None = None) -> StoreInfo:
        node_rows = [
            (n.kind.value, n.id, json.dumps(n.props(), ensure_ascii=False)) for n in graph.nodes
        ]
        edge_rows = [
            (str(e.source), str(e.target), e.type.value, json.dumps(e.props, ensure_ascii=False))
            for e in graph.edges
        ]
        total = len(node_rows) + len(edge_rows)
        loaded_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        meta = {
            "schema_version": SCHEMA_VERSION,
            "catalog": graph.name,
            "loaded_at": loaded_at,
            "catalog_meta": json.dumps(graph.meta, ensure_ascii=False, default=str),
        }
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM edges")
                conn.execute("DELETE FROM nodes")
                conn.execute("DELETE FROM meta")
                done = 0
                for chunk in _chunks(node_rows, BATCH):
                    conn.executemany("INSERT INTO nodes VALUES (?, ?, ?)", chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
                for chunk in _chunks(edge_rows, BATCH):
                    conn.executemany("INSERT INTO edges VALUES (?, ?, ?, ?)", chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
                conn.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"loading into {self.path} failed: {exc}") from exc
                raise
            self._index = self._build_index(((k, i, p) for k, i, p in node_rows), edge_rows, meta)
            self._data_version = self._current_data_version(conn)
            return self._index.info

    # -- reading ------------------------------------------------------------------------------

    @staticmethod
    def _current_data_version(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def _fresh(self) -> _Index:
        """The current index, re-read from the file when another process loaded since."""
        with self._lock:
            conn = self._connection()
            version = self._current_data_version(conn)
            if self._index is None or version != self._data_version:
                try:
                    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                    nodes = conn.execute("SELECT kind, id, props FROM nodes").fetchall()
                    edges = conn.execute("SELECT source, target, type, props FROM edges").fetchall()
                except sqlite3.Error as exc:
                    raise BackendUnavailableError(f"embedded store {self.path}: {exc}") from exc
                self._index = self._build_index(nodes, edges, meta)
                self._data_version = version
            return self._index

    def _build_index(
        self,
        nodes: Iterable[tuple[str, str, str]],
        edges: list[tuple[str, str, str, str]],
        meta: dict[str, str],
    ) -> _Index:
        g: nx.MultiDiGraph = nx.MultiDiGraph()
        props: dict[str, str] = {}
        counts: dict[str, int] = {k.value: 0 for k in NodeKind}
        builder = SearchIndexBuilder()
        for kind, node_id, p in nodes:
            ref = f"{kind}:{node_id}"
            g.add_node(ref)
            props[ref] = p
            counts[kind] = counts.get(kind, 0) + 1
            builder.add(NodeKind(kind), ref, json.loads(p))  # one node parsed at a time
        for source, target, rtype, p in edges:
            if p == "{}":
                g.add_edge(source, target, key=rtype)
            else:
                g.add_edge(source, target, key=rtype, props=p)
        counts["edges"] = len(edges)
        search = builder.build()
        catalog_meta = json.loads(meta.get("catalog_meta", "{}"))
        info = StoreInfo(
            backend=self.backend,
            catalog=meta.get("catalog"),
            loaded_at=meta.get("loaded_at"),
            counts=counts,
            meta=catalog_meta,
        )
        return _Index(g, props, search, info)

    def info(self) -> StoreInfo:
        info = self._fresh().info
        if info.catalog is None:
            raise EmptyStoreError(str(self.path))
        return info

    def get_nodes(self, refs: Iterable[NodeRef]) -> dict[NodeRef, BaseNode]:
        index = self._fresh()
        out: dict[NodeRef, BaseNode] = {}
        for ref in refs:
            p = index.props.get(str(ref))
            if p is not None:
                out[ref] = node_from_props(ref.kind, json.loads(p))
        return out

    def labels(self, refs: Iterable[NodeRef]) -> dict[NodeRef, NodeLabel]:
        props = self._fresh().props
        out: dict[NodeRef, NodeLabel] = {}
        for ref in refs:
            p = props.get(str(ref))
            if p is not None:
                values = json.loads(p)
                out[ref] = NodeLabel(values["name"], values.get("level"))
        return out

    def search(self, query: SearchQuery) -> SearchPage:
        index = self._fresh()
        total, refs = index.search.page(query)
        return SearchPage(total=total, items=[_node(ref, index.props[ref]) for ref in refs])

    def edges_of(
        self, refs: Iterable[NodeRef], walk: Walk, relations: Iterable[Relation]
    ) -> list[Edge]:
        g = self._fresh().graph
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
        g = self._fresh().graph
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
        g = self._fresh().graph
        found = bfs(g, str(root), walk, {r.value for r in relations}, max_depth)
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


def _chunks(rows: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
