"""The embedded backend: a SQLite file is the durable record, networkx the in-memory index.

A load replaces the whole graph inside one SQLite transaction (:mod:`store.embedded_write`),
so a failed or interrupted load (exception, kill -9, power loss) leaves the previous graph
intact. Readers in other processes notice a newer load through ``PRAGMA data_version`` and
re-read the file (in one read transaction: one load's rows). A :meth:`EmbeddedStore.snapshot`
holds one in-memory graph (:mod:`store.embedded_reader`), so an answer read through it is one
load whatever is loaded meanwhile.

A damaged, emptied or removed file under a running process is reported as
:class:`BackendUnavailableError` naming the file and what to do (never a raw ``DatabaseError``);
the connection is dropped, so the next read opens whatever good file is there by then.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from graph_schema.diff import Snapshot
from graph_schema.errors import BackendUnavailableError, EmptyStoreError, StoreError
from graph_schema.governance import LedgerCommit
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from graph_schema.revisions import (
    NodeHistoryEntry,
    Revision,
    RevisionDraft,
    RevisionSummary,
)
from store import embedded_history, embedded_keys, embedded_write, history, sqlite_file
from store.base import NodeLabel, ProgressFn, SearchPage, SearchQuery, StoreInfo, Walk
from store.embedded_graph import GraphIndex, bfs, build_index, patched
from store.embedded_reader import (
    EmbeddedReader,
    info_of_file,
    set_of_edges,
    store_name,
    update_search_index,
    write_search_index,
)
from store.embedded_write import with_revision

__all__ = ["EmbeddedReader", "EmbeddedStore", "bfs", "set_of_edges"]

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
T = TypeVar("T")


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
        self._index: GraphIndex | None = None
        self._data_version: int | None = None
        self._sig: sqlite_file.Signature | None = None  # the file as last read without fault
        self._opened = False  # once opened, a missing file is reported, not created again

    # -- connection ---------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """The open connection, reopened when the file was replaced (a new inode) since."""
        if self._conn is not None and self._sig is not None:
            try:
                now = sqlite_file.signature(self.path)
            except OSError as exc:
                self._drop()
                raise self._unavailable(exc) from exc
            if now.file_id != self._sig.file_id:
                self._drop()  # replaced: read the new file
        if self._conn is None:
            with sqlite_file.opening(self.path):  # never while the ledger's handle opens it
                self._open()
        assert self._conn is not None
        return self._conn

    def _open(self) -> None:
        if self._conn is None:
            try:
                if self._opened and not self.path.exists():
                    raise FileNotFoundError(f"{self.path} was removed")
                if self._opened and sqlite_file.is_empty(self.path):
                    # emptied under this process: leave it to a load, do not lock it
                    raise sqlite3.DatabaseError("the file is empty (0 bytes)")
                if not self._opened:
                    sqlite_file.replace_empty(self.path)  # new inode: old holders cannot lock it
                self.path.parent.mkdir(parents=True, exist_ok=True)
                sqlite_file.set_aside_orphans(self.path)  # only when the file is missing
                conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=2.0
                )
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA busy_timeout=10000")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.executescript(SCHEMA)
                    conn.executescript(embedded_keys.SCHEMA)
                    embedded_history.ensure_schema(conn)
                    sig = sqlite_file.signature(self.path)
                except BaseException:
                    conn.close()
                    raise
            except (sqlite3.Error, OSError) as exc:
                raise self._unavailable(exc) from exc
            self._conn = conn
            self._sig = sig
            self._opened = True

    def _check_file(self, index: GraphIndex) -> bool:
        """Whether ``index`` still is what the file holds. A file changed without SQLite
        knowing (truncated, emptied) or by a checkpoint is probed through a fresh connection;
        raises ``sqlite3.Error`` / ``OSError`` when it cannot be read."""
        now = sqlite_file.signature(self.path)
        if now == self._sig:
            return True
        if sqlite_file.probe(self.path) != (index.generation or None):
            return False
        self._sig = now
        return True

    def _drop(self) -> None:
        """Forget the connection and the graph read from it (after a storage error or when the
        file was replaced): the next read starts from the file as it is then."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None
        self._sig = None
        self._index = None
        self._data_version = None

    def _unavailable(self, exc: BaseException) -> BackendUnavailableError:
        return sqlite_file.unavailable(self.path, exc)

    def ping(self) -> None:
        """Read the file through a fresh connection (what /health asks): a file damaged
        under this process is reported, and this process lets go of it."""
        with self._lock:
            try:
                self._connection()
                sqlite_file.probe(self.path)
            except (sqlite3.Error, OSError) as exc:
                self._drop()
                raise self._unavailable(exc) from exc

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- load ---------------------------------------------------------------------------------

    def load(
        self,
        graph: CatalogGraph,
        progress: ProgressFn | None = None,
        *,
        revision: RevisionDraft | None = None,
        expect_head: int | None = None,
        planned: history.PlannedRevision | None = None,
        commit: LedgerCommit | None = None,
    ) -> StoreInfo:
        """Replace the graph and record the revision in the same transaction (see
        :mod:`store.embedded_history`); an unchanged graph writes nothing and returns
        ``meta["revision"] = None``. ``expect_head``: :class:`ConflictError` if it moved.
        ``planned``: the revision as the caller already planned it against the stored graph
        (used when the head is still the one it was planned on: the graph is not diffed twice).

        A reload writes only the rows the revision changed; the in-memory index is read again
        by the next read (a ``kpigraph load`` process never reads it)."""
        meta = embedded_write.load_meta(graph)
        with self._lock:
            conn = self._connection()
            try:
                planned = embedded_write.write_graph(
                    conn, self.path, graph, meta, progress, revision, expect_head, planned, commit
                )
                if planned is None:  # nothing changed: only the catalog's meta was refreshed
                    self._index = None
                    return with_revision(self._fresh().info, None)
            except BaseException as exc:
                self._rolled_back(conn, exc, "loading into")
                raise
            self._index = None  # the next read reads the file again
            info = StoreInfo(
                backend=self.backend,
                catalog=graph.name,
                loaded_at=meta["loaded_at"],
                counts=graph.counts(),
                meta=json.loads(meta["catalog_meta"]),
            )
            # the search index's file, from the loaded nodes (a detached process: no waiting)
            write_search_index(store_name(self.path), meta["generation"], info, graph.nodes)
            return with_revision(info, planned.summary.number)

    def apply(
        self,
        planned: history.PlannedRevision,
        *,
        expect_head: int,
        counts: dict[str, int],
        digest: str,
        commit: LedgerCommit | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> StoreInfo:
        """Write a delta (see :meth:`store.base.GraphStore.apply`): the rows its diff changes,
        the revision and the request's ledger write in one ``BEGIN IMMEDIATE`` transaction."""
        loaded_at = embedded_write.now()
        with self._lock:
            conn = self._connection()
            try:
                written = embedded_write.write_delta(
                    conn, self.path, planned, expect_head, counts, digest, commit, meta, loaded_at
                )
            except BaseException as exc:
                self._rolled_back(conn, exc, "writing a change into")
                raise
            # the graph held in memory, if it was the file's before the write: the delta's
            # rows replaced in a new index (readers holding the old one keep it); else the
            # next read reads the file again
            held = self._index
            after = {**written.stored, **written.meta}
            if held is not None and held.meta == written.stored:
                self._index = held = patched(held, planned.diff, after)
            else:
                self._index = held = None
            info = StoreInfo(
                backend=self.backend,
                catalog=written.stored.get("catalog"),
                loaded_at=loaded_at,
                counts=counts,
                meta=written.catalog_meta,
            )
            # the new generation's search index file: the previous one with the delta's nodes
            # replaced (in memory when this process had it, else from its file), not built
            # again from every node
            changes = [(NodeRef.parse(c.ref).kind, c.ref, c.new) for c in planned.diff.nodes]
            generation = written.meta["generation"]
            update_search_index(
                store_name(self.path), written.stored, generation, info, changes, held
            )
            return with_revision(info, planned.summary.number)

    def stored_rows(self, refs: Iterable[NodeRef]) -> Snapshot:
        """The rows of ``refs`` and of the edges touching them, read by key from the file (one
        read transaction), not through the in-memory graph: see
        :meth:`store.base.GraphStore.stored_rows`."""
        wanted = sorted({str(r) for r in refs})
        return self._history(lambda conn: embedded_history.rows_of(conn, wanted))

    def _rolled_back(self, conn: sqlite3.Connection, exc: BaseException, doing: str) -> None:
        """Roll a failed write back; a storage error becomes one :class:`StoreError` saying
        nothing was changed and what to do (the caller re-raises anything else)."""
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            self._drop()
            raise StoreError(
                f"{doing} {self.path} failed ({sqlite_file.why(exc)}); nothing was changed; "
                f"{sqlite_file.what_to_do(self.path, exc)}",
                {"path": str(self.path)},
            ) from exc

    # -- reading ------------------------------------------------------------------------------

    @staticmethod
    def _current_data_version(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def _fresh(self) -> GraphIndex:
        """The current index, re-read from the file when another process loaded since.

        The three tables are read in one read transaction, so the rows are one load's even
        when another process commits a load meanwhile."""
        with self._lock:
            try:
                conn = self._connection()
                version = self._current_data_version(conn)
                stale = self._index is None or version != self._data_version
                if stale and self._index is not None and self._same_graph(conn, self._index):
                    stale = False  # only the ledger's tables were written (an approval...)
                    self._data_version = version
                if not stale and self._index is not None and not self._check_file(self._index):
                    self._drop()  # the file holds another graph than SQLite reports: re-open
                    conn = self._connection()
                    stale = True
                if stale:
                    conn.execute("BEGIN")
                    try:
                        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                        nodes = conn.execute("SELECT kind, id, props FROM nodes").fetchall()
                        edges = conn.execute(
                            "SELECT source, target, type, props FROM edges"
                        ).fetchall()
                        version = self._current_data_version(conn)
                    finally:
                        if conn.in_transaction:
                            conn.execute("COMMIT")
                    self._index = build_index(nodes, edges, meta, self.backend)
                    self._data_version = version
                    self._sig = sqlite_file.signature(self.path)
                assert self._index is not None
                return self._index
            except (sqlite3.Error, OSError) as exc:
                self._drop()
                raise self._unavailable(exc) from exc

    @staticmethod
    def _same_graph(conn: sqlite3.Connection, index: GraphIndex) -> bool:
        """Whether the file still holds the graph of ``index``, though another connection
        wrote since: every write of nodes or edges (a load, a delta) replaces the meta rows
        with a new generation, so equal meta rows mean that only other tables changed — the
        ledger's (requests, approvals, comments, users, usage counts), which share the file.
        A file written before generations had ids is always read again."""
        if not index.meta.get("generation"):
            return False
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        return meta == index.meta

    def snapshot(self) -> EmbeddedReader:
        """A reader of the graph loaded when it first reads (taking it does no I/O)."""
        return EmbeddedReader(self._fresh, str(self.path), self._keyed)

    def _keyed(self, generation: str, keys: Collection[str]) -> list[str] | None:
        """The conflict-key index's answer for the generation ``generation`` (``None``: the
        file holds another one now, or no complete index: the reader reads its metrics)."""
        with self._lock:
            conn = self._connection()
            try:
                return embedded_keys.lookup(conn, generation, keys)
            except sqlite3.Error as exc:
                self._drop()
                raise self._unavailable(exc) from exc

    def metrics_keyed(self, keys: Collection[str]) -> list[Metric]:
        return self.snapshot().metrics_keyed(keys)

    def warm(self) -> None:
        """Read the graph and its search index in a background thread (``kpigraph serve``
        calls it at start-up): the first request does not wait for them, and the index comes
        from its file (:mod:`store.search_file`) when a load on this machine wrote one."""

        def run() -> None:
            with contextlib.suppress(Exception):  # a request meets the same error, reported
                self.snapshot().warm()

        threading.Thread(target=run, name="kpigraph-warm", daemon=True).start()

    @property
    def generation(self) -> str:
        return self._fresh().generation

    def info(self) -> StoreInfo:
        """What is loaded: from the graph this process holds, else from the file's meta and
        counts without reading the graph (``kpigraph load`` asks before replacing it)."""
        if self._index is not None:
            return self.snapshot().info()
        info = self._history(info_of_file)
        if info.catalog is None:
            raise EmptyStoreError(str(self.path))
        return info

    def get_nodes(self, refs: Iterable[NodeRef]) -> dict[NodeRef, BaseNode]:
        return self.snapshot().get_nodes(refs)

    def labels(self, refs: Iterable[NodeRef]) -> dict[NodeRef, NodeLabel]:
        return self.snapshot().labels(refs)

    def search(self, query: SearchQuery) -> SearchPage:
        return self.snapshot().search(query)

    def edges_of(
        self, refs: Iterable[NodeRef], walk: Walk, relations: Iterable[Relation]
    ) -> list[Edge]:
        return self.snapshot().edges_of(refs, walk, relations)

    def edges_among(self, refs: Iterable[NodeRef], relations: Iterable[Relation]) -> list[Edge]:
        return self.snapshot().edges_among(refs, relations)

    def traverse(
        self,
        root: NodeRef,
        walk: Walk,
        relations: Iterable[Relation],
        max_depth: int | None,
    ) -> dict[NodeRef, int]:
        return self.snapshot().traverse(root, walk, relations, max_depth)

    # -- history (issue #13): tables of store/embedded_history.py in the same file ----------

    def _history(self, read: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return read(self._connection())
            except sqlite3.Error as exc:
                self._drop()
                raise self._unavailable(exc) from exc

    def head(self) -> int:
        """The latest revision number (0: none recorded)."""
        return self._history(embedded_history.head)

    def revisions(
        self, ref: NodeRef | None = None, limit: int = 50, before: int | None = None
    ) -> list[RevisionSummary]:
        return self._history(lambda c: embedded_history.revisions(c, ref, limit, before))

    def revision(self, number: int) -> Revision:
        return self._history(lambda c: embedded_history.revision(c, number))

    def node_history(self, ref: NodeRef) -> list[NodeHistoryEntry]:
        return self._history(lambda c: embedded_history.node_history(c, ref))

    def node_at(self, ref: NodeRef, number: int) -> BaseNode | None:
        return self._history(lambda c: embedded_history.node_at(c, ref, number))

    def catalog(self, at: int | None = None) -> CatalogGraph:
        """The stored catalog (or as it was after revision ``at``) as a graph."""
        if at is not None:
            return self._history(lambda c: embedded_history.catalog_at(c, at))
        info = self.info()
        snap = self._history(embedded_history.stored_snapshot)
        return history.graph_from_snapshot(info.catalog or "", info.meta, snap)

    def catalog_data(self) -> Snapshot:
        """The stored catalog as plain data (what version checks compare; no models built)."""
        self.info()  # EmptyStoreError when nothing is loaded
        return self._history(embedded_history.stored_snapshot)
