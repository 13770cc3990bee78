"""Reading a Neo4j store: a :class:`Neo4jReader` pinned to one published generation.

Every read is one auto-committed statement of :mod:`store.neo4j_cypher_read` ("reads"): the first
takes the published generation (once its swap is applied whole: "readable" in
:mod:`store.neo4j_cypher_load`), the later ones read that same generation, and each checks after
reading that it was still live. When a load was published meanwhile the old generation may be
swept under the reader, so it refuses with :class:`~store.base.GraphReplacedError` (a request
retried whole reads the new one) — it never answers with two loads mixed.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import neo4j
from neo4j import ManagedTransaction

from graph_schema.errors import EmptyStoreError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric, node_from_props
from graph_schema.relations import RELATION_BY_VALUE, Relation
from store import neo4j_cypher as cy
from store.base import (
    GraphReplacedError,
    NodeLabel,
    SearchPage,
    SearchQuery,
    StoreInfo,
    Walk,
    keyed,
    sort_edges,
)
from store.embedded_reader import set_of_edges
from store.search_fallback import search_params, searchable
from store.search_file import IndexFile, write_detached
from store.search_index import SearchIndex, SearchIndexBuilder

#: A search the background warm-up runs so that the server has planned the Cypher search.
WARM_UP_TEXT = "kpigraph warm-up"
#: Neo4j plans a statement once per size class of each string and list parameter (1, up to
#: 10, up to 100, ...; a plan of the search statement took 1-5 s on the loaded machine), so
#: the warm-up searches texts whose lengths (and those of the ``exact``/``starts`` strings
#: made from them) cover the classes of texts up to 98 characters...
WARM_UP_TEXTS = ("k", "kpigraph", "kpigraph-", "kpigraph-w", WARM_UP_TEXT)
#: ...and reads pages of these sizes (the first search after start-up met a 1-1.7 s plan of
#: the page read before this).
PLAN_PAGE_SIZES = (1, 10, 100)
#: ``read(query, **params)``: one auto-committed statement's records (see ``Neo4jSession.read``).
ReadFn = Callable[..., list[neo4j.Record]]


class SearchIndexes:
    """The search index of each recently read generation (built once per generation and
    process; the two newest are kept, for readers still on the previous one).

    :meth:`start` takes one from its file (:mod:`store.search_file`: milliseconds) or builds
    it in a background thread, then writes the file; until it is :meth:`ready` a search is
    answered in Cypher (:mod:`store.search_fallback`), so no search waits for a build.
    ``store`` names the store in those files (``None``: no files).
    """

    KEEP = 2

    def __init__(self, store: str | None = None) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._by_gen: dict[str, SearchIndex] = {}
        self._building: set[str] = set()
        self._has_strings: dict[str, bool] = {}
        self._threads: list[threading.Thread] = []
        self._planned = False
        #: Set by :meth:`close`: background builds stop at their next row.
        self.closed = threading.Event()

    def get(
        self, gen: str, build: Callable[[], SearchIndex], file: IndexFile | None = None
    ) -> SearchIndex:
        with self._lock:
            index = self._by_gen.get(gen)
            if index is None:
                index = file.load() if file is not None else None
                if index is None:
                    index = build()
                    if file is not None:
                        file.save(index)
                self._keep(gen, index)
            return index

    def ready(self, gen: str) -> SearchIndex | None:
        """The index of ``gen`` if it is built (no waiting)."""
        with self._lock:
            return self._by_gen.get(gen)

    def start(
        self, gen: str, build: Callable[[], SearchIndex], file: IndexFile | None = None
    ) -> None:
        """Unless the index of ``gen`` is built or being built: take it from ``file`` now if
        that holds it, else build it in a daemon thread and write the file. A failed build
        (the generation replaced meanwhile, the server gone) is dropped; the next search of
        that generation starts another."""
        with self._lock:
            if gen in self._by_gen or gen in self._building or self.closed.is_set():
                return
            self._building.add(gen)
        try:
            kept = file.load() if file is not None else None
        except BaseException:
            with self._lock:
                self._building.discard(gen)
            raise
        if kept is not None:
            with self._lock:
                self._building.discard(gen)
                self._keep(gen, kept)
            return

        def run() -> None:
            try:
                index = build()
            except Exception:  # searches keep answering from Cypher meanwhile
                return
            finally:
                with self._lock:
                    self._building.discard(gen)
            with self._lock:
                self._keep(gen, index)
            if file is not None and not self.closed.is_set():
                file.save(index)

        thread = threading.Thread(target=run, name=f"search-index-{gen[:8]}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop background builds and wait for them (before the driver they use is closed:
        closing it under a running read breaks the driver's buffers)."""
        self.closed.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def plan_once(self) -> bool:
        """True the first time it is called (the page read is planned once per process)."""
        with self._lock:
            first, self._planned = not self._planned, True
            return first

    def published(self, gen: str, build: Callable[[], SearchIndex], file: IndexFile | None) -> None:
        """After a load published ``gen``: write its index's file, built from the loaded graph
        by a detached process (:func:`store.search_file.write_detached`), or else here, then
        kept in memory too (best effort: the load has succeeded whatever happens)."""
        if file is not None and write_detached(file, build):
            return
        try:
            index = build()
        except Exception:  # the index is built later, by whoever searches first
            return
        with self._lock:
            self._keep(gen, index)
        if file is not None:
            file.save(index)

    def has_strings(self, gen: str, check: Callable[[], bool]) -> bool:
        """Whether ``gen``'s nodes carry the search strings (checked once per generation)."""
        known = self._has_strings.get(gen)
        if known is None:
            known = self._has_strings[gen] = check()
        return known

    def _keep(self, gen: str, index: SearchIndex) -> None:
        self._by_gen[gen] = index
        while len(self._by_gen) > self.KEEP:
            del self._by_gen[next(iter(self._by_gen))]

    def clear(self) -> None:
        with self._lock:
            self._by_gen.clear()


class Neo4jReader:
    """:class:`~store.base.GraphReader` over one generation of a Neo4j store.

    Parameters
    ----------
    read
        Runs one read statement (retries, error mapping: the store's ``_read``).
    read_tx
        Runs a function in a managed read transaction (the store's ``_read_tx``).
    indexes
        The store's search indexes by generation.
    where
        For messages: ``Neo4j at URI (database 'neo4j')``.
    """

    backend = "neo4j"

    def __init__(
        self,
        read: ReadFn,
        read_tx: Callable[[Callable[[ManagedTransaction], Any]], Any],
        indexes: SearchIndexes,
        where: str,
    ) -> None:
        self._run = read
        self._read_tx = read_tx
        self._indexes = indexes
        self._where = where
        self._gen: str | None = None  # None until the first read pins it; "" = nothing loaded
        self._info: StoreInfo | None = None

    def _read(self, query: str, **params: Any) -> list[Any]:
        """The ``rows`` of one pinned read (see :func:`store.neo4j_cypher.pinned`)."""
        rec = self._run(query, pin=self._gen is None, gen=self._gen, **params)[0]
        read, live = rec["g"] or "", rec["live"] or ""
        if self._gen is None:
            self._gen = read
        if live != read:
            raise GraphReplacedError(self._where, read)
        return _without_deleted(rec["rows"])

    @property
    def generation(self) -> str:
        if self._gen is None:
            self._meta()
        assert self._gen is not None
        return self._gen

    @property
    def pinned_generation(self) -> str | None:
        """The generation if a read already pinned it (no I/O), else ``None``."""
        return self._gen

    def _meta(self) -> StoreInfo | None:
        if self._info is None:
            rows = self._read(cy.GET_META)
            if rows:
                rec = rows[0]
                self._info = StoreInfo(
                    backend=self.backend,
                    catalog=rec["catalog"],
                    loaded_at=rec["loaded_at"],
                    counts=json.loads(rec["counts"]),
                    meta=json.loads(rec["meta"] or "{}"),
                )
        return self._info

    def info(self) -> StoreInfo:
        info = self._meta()
        if info is None:
            raise EmptyStoreError(self._where)
        return info

    def get_nodes(self, refs: Iterable[NodeRef]) -> dict[NodeRef, BaseNode]:
        wanted = sorted({str(r) for r in refs})
        if not wanted:
            return {}
        out: dict[NodeRef, BaseNode] = {}
        for rec in self._read(cy.GET_NODES, refs=wanted):
            node = _node(rec)
            out[node.ref] = node
        return out

    def labels(self, refs: Iterable[NodeRef]) -> dict[NodeRef, NodeLabel]:
        wanted = {str(r): r for r in refs}
        if not wanted:
            return {}
        return {
            wanted[rec["ref"]]: NodeLabel(rec["name"], rec["level"])
            for rec in self._read(cy.GET_LABELS, refs=sorted(wanted))
        }

    def search(self, query: SearchQuery) -> SearchPage:
        """Rank with the shared :class:`~store.search_index.SearchIndex` of this generation,
        then read the page's nodes: a steady-state search is one round trip. Until the index
        is built (in the background: a few seconds per 100k nodes, once per load and process)
        the same ranking is computed in Cypher (:mod:`store.search_fallback`)."""
        self.info()  # pins; nothing loaded is an error, not "0 matches"
        gen = self.generation
        index = self._indexes.ready(gen)
        strings = index is None and self._indexes.has_strings(gen, self._has_search_strings)
        if strings:
            self.warm()  # takes the index from its file if there is one, else starts a build
            index = self._indexes.ready(gen)
        if index is not None:
            total, refs = index.page(query)
        elif strings:
            total, refs = self._search_cypher(query)
        else:  # loaded before nodes carried search strings: wait for the index
            index = self._indexes.get(gen, lambda: self._build_index(gen), self.index_file())
            total, refs = index.page(query)
        found = {rec["ref"]: rec for rec in self._read(cy.GET_PAGE, refs=refs)} if refs else {}
        if len(found) != len(refs):  # the index is of this generation: cannot happen
            raise GraphReplacedError(self._where, gen)
        return SearchPage(total=total, items=[_node(found[r]) for r in refs])

    def warm(self) -> None:
        """Take this generation's search index from its file (milliseconds), else start
        building it in the background (no waiting)."""
        gen = self.generation
        if gen:
            self._indexes.start(gen, lambda: self._prepare(gen), self.index_file())
            if self._indexes.plan_once():
                self._plan_page()

    def _plan_page(self) -> None:
        """Have the server plan the page read for every page size class (see
        ``PLAN_PAGE_SIZES``): refs that match nothing, so only the plan costs."""
        with contextlib.suppress(GraphReplacedError):  # the search that follows says so
            for size in PLAN_PAGE_SIZES:
                self._read(cy.GET_PAGE, refs=[f"{WARM_UP_TEXT}:{i}" for i in range(size)])

    def index_file(self) -> IndexFile | None:
        """Where this generation's search index is kept (``None``: no file)."""
        info, store = self._meta(), self._indexes.store
        if info is None or store is None:
            return None
        return IndexFile.of(store, self.generation, info.loaded_at, info.counts)

    @property
    def search_index_source(self) -> str | None:
        """``"file"`` or ``"built"`` once this generation's index is ready in this process,
        else ``None`` (searches answer from Cypher)."""
        index = self._indexes.ready(self.generation)
        return index.source if index is not None else None

    def _prepare(self, gen: str) -> SearchIndex:
        """In the background: have the server plan the Cypher search (plans are cached by
        query text; the first plan of the big statement takes the longest), then build."""
        if self._indexes.has_strings(gen, self._has_search_strings):
            for text in WARM_UP_TEXTS:
                if self._indexes.closed.is_set():
                    break
                self._search_cypher(SearchQuery(text=text))
        return self._build_index(gen)

    def _has_search_strings(self) -> bool:
        return bool(self._read(cy.HAS_SEARCH_STRINGS) == [True])

    def _search_cypher(self, query: SearchQuery) -> tuple[int, list[str]]:
        """(number of matches, the page's refs), ranked in Cypher (see :meth:`search`)."""
        if not searchable(query) or not query.kinds:
            return 0, []
        query_text = cy.search_nodes_query(query.kinds)
        (found,) = self._read(query_text, **search_params(query))
        return int(found["total"]), list(found["refs"])

    def _build_index(self, gen: str) -> SearchIndex:
        def build(tx: ManagedTransaction) -> SearchIndex:
            builder = SearchIndexBuilder()
            for i, rec in enumerate(tx.run(cy.SEARCH_INDEX_ROWS, gen=gen)):
                if not i % 1000 and self._indexes.closed.is_set():
                    raise GraphReplacedError(self._where, gen)  # the store is closing
                if rec["kind"] is None or rec["ref"] is None or rec["props"] is None:
                    continue  # deleted while read: see _without_deleted
                builder.add(NodeKind(rec["kind"]), rec["ref"], json.loads(rec["props"]))
            live = tx.run(cy.GET_READY_GEN).value("gen")  # after every row was read
            if live != [gen]:
                raise GraphReplacedError(self._where, gen)
            return builder.build()

        index: SearchIndex = self._read_tx(build)
        return index

    def edges_of(
        self, refs: Iterable[NodeRef], walk: Walk, relations: Iterable[Relation]
    ) -> list[Edge]:
        params = {"refs": sorted({str(r) for r in refs}), "types": _types(relations)}
        records: list[Any] = []
        if walk in (Walk.FORWARD, Walk.UNDIRECTED):
            records += self._read(cy.EDGES_OUT, **params)
        if walk in (Walk.BACKWARD, Walk.UNDIRECTED):
            records += self._read(cy.EDGES_IN, **params)
        return sort_edges(set_of_edges(_edge(r) for r in records))

    def edges_among(self, refs: Iterable[NodeRef], relations: Iterable[Relation]) -> list[Edge]:
        rels = frozenset(relations)
        if not rels:
            return []
        records = self._read(
            cy.edges_among_query(rels),
            refs=sorted({str(r) for r in refs}),
            dense=cy.DENSE_DEGREE,
        )
        return sort_edges(_edge(r) for r in records)

    def metrics_keyed(self, keys: Collection[str]) -> list[Metric]:
        if not keys:
            return []
        rows = self._read(cy.GET_KEYED, keys=sorted(set(keys)))
        indexed = [_node(r) for r in rows if r["keyed"]]
        # metrics written before the index: their keys checked here (store.base.keyed)
        found = [m for m in indexed if isinstance(m, Metric)]
        found += keyed((_node(r) for r in rows if not r["keyed"]), keys)
        return sorted(found, key=lambda m: str(m.ref))

    def traverse(
        self,
        root: NodeRef,
        walk: Walk,
        relations: Iterable[Relation],
        max_depth: int | None,
    ) -> dict[NodeRef, int]:
        """Breadth-first distances from ``root``: up to ``MAX_HOPS`` hops per query (see
        :func:`store.neo4j_cypher.expand_query`), so lineage to depth 10 is one round trip."""
        rels = frozenset(relations)
        if not rels:
            return {}
        start = str(root)
        depth: dict[str, int] = {start: 0}
        frontier = [start]
        hop = 0
        while frontier and (max_depth is None or hop < max_depth):
            hops = cy.MAX_HOPS if max_depth is None else min(cy.MAX_HOPS, max_depth - hop)
            query = cy.expand_query(walk, rels, hops)
            levels = self._read(query, frontier=frontier, seen=list(depth))
            frontier = []
            for level in levels:
                hop += 1
                for ref in level:
                    depth[ref] = hop
                frontier = level
            if len(levels) < hops or not frontier:
                break
        del depth[start]
        return {NodeRef.from_stored(ref): d for ref, d in depth.items()}


def _types(relations: Iterable[Relation]) -> list[str]:
    return sorted(Relation(r).value for r in relations)


#: The keys of a read's row that name a node or hold what every node has; ``None`` in one of
#: them means the node was deleted while the read ran (see :func:`_without_deleted`).
_IDENTITY = ("kind", "ref", "source", "target")


def _without_deleted(rows: list[Any]) -> list[Any]:
    """``rows`` without what a node deleted during the read left in them.

    Neo4j reads are read-committed: a version that the sweep deletes in another transaction
    while a read runs (one no published generation sees: closed before the previous one, or a
    dead load's pending one) reads as a node with no properties, so a row projected from it has
    ``None`` where a kind or ref belongs (and a traversal's level lists hold ``None``). The
    sweep deletes only what the pinned generation cannot see while that generation is
    published, and the read's last clause checks it still was: such a row is never part of the
    answer, so it is dropped rather than failing the read.

    >>> _without_deleted([{"kind": "Metric", "props": "{}"}, {"kind": None, "props": None}])
    [{'kind': 'Metric', 'props': '{}'}]
    >>> _without_deleted([["metric:a", None], []])
    [['metric:a'], []]
    """
    kept: list[Any] = []
    for row in rows:
        if isinstance(row, dict):
            if any(key in row and row[key] is None for key in _IDENTITY):
                continue
            if "kind" in row and "props" in row and row["props"] is None:
                continue
        elif isinstance(row, list):
            row = [x for x in row if x is not None]
        kept.append(row)
    return kept


def _node(rec: Mapping[str, Any]) -> BaseNode:
    """A node read back from its stored ``kind`` and JSON ``props``."""
    return node_from_props(NodeKind(rec["kind"]), json.loads(rec["props"]))


def _edge(rec: Mapping[str, Any]) -> Edge:
    """An edge read back from the store, validated when loaded: constructed without validation."""
    return Edge.model_construct(
        source=NodeRef.from_stored(rec["source"]),
        target=NodeRef.from_stored(rec["target"]),
        type=RELATION_BY_VALUE[rec["type"]],
        props=json.loads(rec["props"] or "{}"),
    )
