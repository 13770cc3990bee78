"""The Neo4j backend, over the official driver. The driver is passed in, never built at import.

A load writes a new *generation* of the graph in bounded ``UNWIND $rows`` transactions and
publishes it with one small swap at the end, so a failed, interrupted or killed load leaves the
previous graph readable and unchanged, and a catalog of any size fits the server's transaction
memory (:mod:`store.neo4j_load`; what dead loads leave is swept, :mod:`store.neo4j_sweep`).
Reads go through a :class:`~store.neo4j_reader.Neo4jReader` pinned to one generation
(:meth:`Neo4jStore.snapshot`): single auto-committed statements, retried when the driver calls
an error retryable (:mod:`store.neo4j_session`). All Cypher lives in :mod:`store.neo4j_cypher`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from neo4j import Driver

from core.bulk import run_detached
from graph_schema.diff import Snapshot, edge_key
from graph_schema.errors import EmptyStoreError, StoreError
from graph_schema.governance import LedgerCommit
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from graph_schema.revisions import NodeHistoryEntry, Revision, RevisionDraft, RevisionSummary
from store import history, neo4j_delta, neo4j_history, neo4j_sweep, neo4j_warm
from store.base import NodeLabel, ProgressFn, SearchPage, SearchQuery, StoreInfo, Walk
from store.neo4j_bulk import IMPORT_MIN, OfflineImport
from store.neo4j_load import Neo4jWriter, node_row
from store.neo4j_reader import Neo4jReader, SearchIndexes
from store.neo4j_session import Neo4jSession, connect
from store.neo4j_sweep import SweepReport

__all__ = ["Neo4jStore", "SweepReport", "connect", "node_row"]


class Neo4jStore:
    """:class:`~store.base.GraphStore` over a Neo4j 5 server.

    Parameters
    ----------
    driver
        An official ``neo4j`` driver; the store does not own its configuration, but closes it.
    database
        The database name (Community edition has one user database, ``neo4j``).
    uri
        For error messages only.
    reconnect
        Opens another driver to the same server (``core.wiring`` passes one): a detached
        process a load leaves behind uses it (:meth:`plan_detached`).
    plan
        Have the server plan a change's statements in the background, at :meth:`warm` and
        after a full load (setting ``neo4j_plan``; the test suite turns it off except where
        it tests it: each full load would leave a process planning for seconds).
    offline
        The local server ``uri`` names, when this machine runs it (``kpigraph neo4j start``):
        a first load of at least ``import_min`` nodes and relationships into its empty store
        is written by an offline import (:mod:`store.neo4j_bulk`).
    """

    backend = "neo4j"

    def __init__(
        self,
        driver: Driver,
        database: str = "neo4j",
        uri: str = "",
        reconnect: Callable[[], Driver] | None = None,
        plan: bool = True,
        *,
        offline: OfflineImport | None = None,
        import_min: int = IMPORT_MIN,
    ) -> None:
        self.driver = driver
        self.reconnect = reconnect
        #: plan a change's statements in the background (:meth:`warm`, after a full load)
        self.plan = plan
        self.database = database
        self.uri = uri or "neo4j"
        #: The driver's plumbing: errors, retried reads, the schema, bookmarks.
        self.conn = Neo4jSession(driver, database, self.uri)
        self.bookmarks = self.conn.bookmarks
        self.routing = self.conn.routing
        self._indexes = SearchIndexes("neo4j")  # generation ids are unique across servers
        self._writer = Neo4jWriter(self.conn, self._indexes, self.info, offline, import_min)
        self._planning: threading.Thread | None = None
        self._closing = threading.Event()

    @property
    def last_load_path(self) -> str | None:
        """How this store's last load that wrote something was written: ``"import"`` (a first
        load, offline, the local server restarted) or ``"transactions"``; ``None`` before any."""
        return self._writer.last_path

    def ping(self) -> None:
        """One statement, one try (see :meth:`store.neo4j_session.Neo4jSession.ping`)."""
        self.conn.ping()

    def close(self) -> None:
        self._closing.set()  # the planning of a change's statements stops at its next one
        self._indexes.close()  # background index builds use the driver
        if self._planning is not None:
            self._planning.join(timeout=60.0)
        self.driver.close()

    # -- load ----------------------------------------------------------------------------------

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
        info = self._writer.write(graph, progress, revision, expect_head, planned, commit, None)
        with contextlib.suppress(StoreError):  # best effort: the load has succeeded
            gen = self.generation
            if (
                self.plan and gen and "." not in gen
            ):  # a new generation (not versions): its statistics
                self.plan_detached(gen)  # are new, plan the next delta load's statements
        return info

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
        """Write a delta (see :meth:`store.base.GraphStore.apply`) as new versions of the nodes
        it changes (:mod:`store.neo4j_versions`), their relationships copied from the live
        generation with the diff applied; the revision and the request's ledger write in the
        swap transaction. A graph so small that a delta is not cheaper is loaded whole."""
        reader = self.snapshot()  # one generation: the graph the delta was planned against
        info = reader.info()
        if meta is not None:  # a load of files: their graph's settings and digests
            meta = {**meta, "digest": digest}
        else:
            meta = {**info.meta, "digest": digest}
            meta.pop("revision", None)
            meta.pop("source_digest", None)  # no longer the graph of any files
        fresh = [NodeRef.parse(c.ref) for c in planned.diff.nodes if c.new is not None]
        live = reader.edges_of(fresh, Walk.UNDIRECTED, list(Relation))
        partial = neo4j_delta.partial_graph(planned.diff, live, info.catalog or "", meta)
        delta = neo4j_delta.Delta(size=sum(counts.values()), counts=counts, fresh=len(fresh))
        try:
            return self._writer.write(partial, None, None, expect_head, planned, commit, delta)
        except neo4j_delta.WholeLoadCheaper:
            whole = history.graph_from_snapshot(
                info.catalog or "", meta, neo4j_delta.patched(self.catalog_data(), planned.diff)
            )
            return self._writer.write(whole, None, None, expect_head, planned, commit, None)

    # -- sweeps --------------------------------------------------------------------------------

    def sweep_orphans(self) -> SweepReport:
        """Remove what killed or failed loads left behind (their staged generations, once
        their heartbeat is older than ``STAGE_TIMEOUT``), in bounded transactions. ``kpigraph
        serve`` and ``kpigraph load`` call it first and report it; a load would otherwise pay
        for it silently."""
        self.conn.ensure_schema()
        return self.conn.guard(lambda: neo4j_sweep.sweep(self.conn, []))

    def clear(self) -> None:
        """Remove the whole graph (tests and ``kpigraph`` maintenance only)."""
        self.conn.ensure_schema()
        self.conn.guard(lambda: neo4j_sweep.clear(self.conn))

    # -- reads ---------------------------------------------------------------------------------

    def snapshot(self) -> Neo4jReader:
        """A reader pinned to the generation its first read finds live (no round trip now)."""
        return Neo4jReader(self.conn.read, self.conn.read_tx, self._indexes, self.conn.where)

    def warm(self) -> None:
        """Start building the live generation's search index in the background (``kpigraph
        serve`` calls it at start-up); searches meanwhile answer from Cypher. Also in the
        background: the server plans the statements of a change (:meth:`plan_changes`), so
        the first request applied does not pay for it."""
        with contextlib.suppress(EmptyStoreError):
            reader = self.snapshot()
            reader.warm()
            gen = reader.generation
            if self.plan and gen and self._planning is None:
                self._planning = threading.Thread(
                    target=self.plan_changes, args=(gen,), name="plan-changes", daemon=True
                )
                self._planning.start()

    def plan_detached(self, gen: str) -> bool:
        """:meth:`plan_changes` of a delta load's statements in a detached process with its
        own driver, so that a load returns at once (the planning takes seconds; the next
        ``kpigraph load`` of an edited file then finds the plans made). False: not started
        (no ``reconnect``, or forking not safe here, see :func:`core.bulk.run_detached`)."""
        reconnect, database, uri = self.reconnect, self.database, self.uri
        if reconnect is None:
            return False

        def work() -> None:
            driver = reconnect()
            try:
                neo4j_warm.plan(Neo4jSession(driver, database, uri), gen, requests=False)
            finally:
                driver.close()

        return run_detached(work)

    def wait_planned(self, timeout: float | None = None) -> bool:
        """Wait for the planning :meth:`warm` started; True when none is running."""
        if self._planning is not None:
            self._planning.join(timeout)
        return self._planning is None or not self._planning.is_alive()

    def plan_changes(self, gen: str | None = None, requests: bool = True) -> neo4j_warm.Planned:
        """Have the server plan the reads and writes a change (a delta load; ``requests``: an
        applied request too) makes on the live generation ``gen``: nothing read or written
        (:mod:`store.neo4j_warm`). Best effort."""
        try:
            gen = gen or self.generation
        except StoreError:
            gen = None
        if not gen:  # an empty store: nothing a change could use yet
            return neo4j_warm.Planned(0, None)
        return neo4j_warm.plan(self.conn, gen, requests, self._closing)

    @property
    def generation(self) -> str:
        return self.snapshot().generation

    def info(self) -> StoreInfo:
        return self.snapshot().info()

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

    def metrics_keyed(self, keys: Collection[str]) -> list[Metric]:
        return self.snapshot().metrics_keyed(keys)

    def traverse(
        self,
        root: NodeRef,
        walk: Walk,
        relations: Iterable[Relation],
        max_depth: int | None,
    ) -> dict[NodeRef, int]:
        return self.snapshot().traverse(root, walk, relations, max_depth)

    # -- history (issue #13): revisions kept in Neo4j, see store/neo4j_history.py -----------

    def head(self) -> int:
        """The latest revision number (0: none recorded)."""
        self.conn.ensure_schema()
        return self.conn.guard(lambda: neo4j_history.read_head(self.driver, self.database))[0]

    def revisions(
        self, ref: NodeRef | None = None, limit: int = 50, before: int | None = None
    ) -> list[RevisionSummary]:
        self.conn.ensure_schema()
        return self.conn.guard(
            lambda: neo4j_history.revisions(self.driver, self.database, ref, limit, before)
        )

    def revision(self, number: int) -> Revision:
        self.conn.ensure_schema()
        return self.conn.guard(lambda: neo4j_history.revision(self.driver, self.database, number))

    def node_history(self, ref: NodeRef) -> list[NodeHistoryEntry]:
        self.conn.ensure_schema()
        return self.conn.guard(lambda: neo4j_history.node_history(self.driver, self.database, ref))

    def node_at(self, ref: NodeRef, number: int) -> BaseNode | None:
        self.conn.ensure_schema()
        return self.conn.guard(
            lambda: neo4j_history.node_at(self.driver, self.database, ref, number)
        )

    def catalog(self, at: int | None = None) -> CatalogGraph:
        """The stored catalog (or as it was after revision ``at``) as a graph."""
        self.conn.ensure_schema()
        if at is not None:
            return self.conn.guard(lambda: neo4j_history.catalog_at(self.driver, self.database, at))
        info = self.info()
        snap = self.conn.guard(lambda: neo4j_history.stored_snapshot(self.driver, self.database))
        if snap is None:
            raise EmptyStoreError(f"Neo4j at {self.uri} (database {self.database!r})")
        return history.graph_from_snapshot(info.catalog or "", info.meta, snap)

    def stored_rows(self, refs: Iterable[NodeRef]) -> Snapshot:
        """The live generation's ``refs`` and the relationships touching them (one snapshot:
        one generation), see :meth:`store.base.GraphStore.stored_rows`."""
        wanted = list(dict.fromkeys(refs))
        reader = self.snapshot()
        nodes = {str(ref): node.props() for ref, node in reader.get_nodes(wanted).items()}
        edges = {
            edge_key(e): e.props for e in reader.edges_of(wanted, Walk.UNDIRECTED, list(Relation))
        }
        return Snapshot(nodes, edges)

    def catalog_data(self) -> Snapshot:
        """The stored catalog as plain data (what version checks compare; no models built)."""
        self.conn.ensure_schema()
        snap = self.conn.guard(lambda: neo4j_history.stored_snapshot(self.driver, self.database))
        if snap is None:
            raise EmptyStoreError(f"Neo4j at {self.uri} (database {self.database!r})")
        return snap
