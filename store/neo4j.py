"""The Neo4j backend, over the official driver. The driver is passed in, never built at import.

A load writes a new *generation* of the graph in bounded ``UNWIND $rows`` transactions and
publishes it with one small swap at the end, so a failed, interrupted or killed load leaves the
previous graph readable and unchanged, and a catalog of any size fits the server's transaction
memory. Reads go through a :class:`~store.neo4j_reader.Neo4jReader` pinned to one generation
(:meth:`Neo4jStore.snapshot`): single auto-committed statements, retried when the driver calls
an error retryable. All Cypher lives in :mod:`store.neo4j_cypher`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import neo4j
from neo4j import Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConstraintError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graph_schema.diff import Snapshot, edge_key
from graph_schema.errors import (
    BackendUnavailableError,
    ConflictError,
    EmptyStoreError,
    StoreError,
)
from graph_schema.governance import LedgerCommit
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from graph_schema.revisions import NodeHistoryEntry, Revision, RevisionDraft, RevisionSummary
from store import history, neo4j_delta, neo4j_history, neo4j_ledger, neo4j_versions
from store import neo4j_cypher as cy
from store.base import NodeLabel, ProgressFn, SearchPage, SearchQuery, StoreInfo, Walk
from store.history import race_lost
from store.neo4j_reader import Neo4jReader, SearchIndexes
from store.neo4j_versions import IncrementalPlan, edge_row
from store.search_fallback import search_strings
from store.search_file import IndexFile
from store.search_index import SearchIndexBuilder

T = TypeVar("T")
Row = dict[str, Any]
#: Rows per load transaction: bounded transaction memory (a few tens of MB) at any catalog size.
BATCH = 10_000
#: A stage record not touched for this long belongs to a dead load; its generation is swept.
STAGE_TIMEOUT = dt.timedelta(minutes=15)
#: Tries of a read that fails with an error the driver calls retryable.
READ_ATTEMPTS = 3


def connect(uri: str, user: str, password: str, *, timeout: float = 10.0) -> Driver:
    """A driver for ``uri`` (not yet connected). Notifications are silenced: queries here are
    fixed text, so the server's hints are noise for users."""
    return GraphDatabase.driver(
        uri,
        auth=(user, password),
        connection_timeout=timeout,
        connection_acquisition_timeout=timeout * 2,
        max_transaction_retry_time=5.0,
        notifications_min_severity="OFF",
    )


def node_row(node: BaseNode) -> dict[str, Any]:
    """The properties stored on a Neo4j node: the full JSON, plus the main fields as properties
    of their own for people browsing the graph in Neo4j's own tools."""
    props = node.props()
    row: dict[str, Any] = {
        "ref": str(node.ref),
        "kind": node.kind.value,
        "id": node.id,
        "name": node.name,
        "props": json.dumps(props, ensure_ascii=False),
    }
    # lower-cased search strings: what a search answers from before the index is ready
    row["_titles"], row["_body"] = search_strings(node.kind, props)
    if isinstance(node, Metric):
        row.update(
            name_en=node.name_en,
            abbr=node.abbr,
            definition=node.definition,
            level=node.level.value if node.level else None,
            domain=node.domain,
            status=node.status.value,
            owner=node.owner,
            reviewer=node.reviewer,
            priority=node.priority.value if node.priority else None,
            role=node.role.value if node.role else None,
            horizon=node.horizon.value if node.horizon else None,
        )
    return row


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
    """

    backend = "neo4j"

    def __init__(self, driver: Driver, database: str = "neo4j", uri: str = "") -> None:
        self.driver = driver
        self.database = database
        self.uri = uri or "neo4j"
        self._schema_ready = False
        self._indexes = SearchIndexes("neo4j")  # generation ids are unique across servers
        #: Every session of this store shares the driver's bookmark manager (the one
        #: ``execute_query`` uses): a read after a write of this process sees that write.
        self.bookmarks = driver.execute_query_bookmark_manager
        #: ``neo4j://`` (a cluster, or a single server through routing): see :meth:`_read`.
        self.routing = self.uri.split("://", 1)[0] in ("neo4j", "neo4j+s", "neo4j+ssc")

    # -- plumbing ------------------------------------------------------------------------------

    def _guard(self, action: Callable[[], T]) -> T:
        """Run ``action``, mapping driver failures to kpigraph errors that name the server."""
        try:
            return action()
        except TransientError as exc:
            if "MemoryPoolOutOfMemoryError" in (exc.code or ""):
                raise StoreError(
                    f"Neo4j at {self.uri} ran out of transaction memory: {_short(exc)}; give the "
                    "server more heap (kpigraph neo4j start --heap 16g) or raise "
                    "dbms.memory.transaction.total.max; nothing was changed",
                    {"uri": self.uri},
                ) from exc
            raise BackendUnavailableError(
                f"cannot reach Neo4j at {self.uri}: {_short(exc)}", {"uri": self.uri}
            ) from exc
        except (ServiceUnavailable, SessionExpired, AuthError) as exc:
            raise BackendUnavailableError(
                f"cannot reach Neo4j at {self.uri}: {_short(exc)}",
                {"uri": self.uri},
            ) from exc
        except (ClientError, Neo4jError, DriverError) as exc:
            raise StoreError(f"Neo4j at {self.uri} failed: {_short(exc)}") from exc
        except OSError as exc:
            raise BackendUnavailableError(f"cannot reach Neo4j at {self.uri}: {exc}") from exc

    def _read(self, query: str, *, pin: bool = False, **params: Any) -> list[neo4j.Record]:
        """One read statement, auto-committed: every read is a single statement, so this
        saves the COMMIT round trip of a managed transaction (~1 ms of a 2 ms query).
        Failures the driver calls retryable (leader switch, lost connection) are retried.

        Reads go to readers (``READ_ACCESS``; on a ``neo4j://`` cluster, a follower or read
        replica) carrying the process's bookmarks. ``pin``: the read that takes the live
        generation; on a cluster it goes to the leader, whose bookmark then makes the
        readers wait until they have applied what it saw (see :attr:`routing`)."""
        self._ensure_schema()
        mode = neo4j.WRITE_ACCESS if pin and self.routing else neo4j.READ_ACCESS

        def run() -> list[neo4j.Record]:
            for attempt in range(READ_ATTEMPTS):
                try:
                    with self.driver.session(
                        database=self.database,
                        default_access_mode=mode,
                        bookmark_manager=self.bookmarks,
                    ) as session:
                        return list(session.run(query, params))
                except (Neo4jError, DriverError) as exc:
                    if attempt == READ_ATTEMPTS - 1 or not exc.is_retryable():
                        raise
                    time.sleep(0.2 * 2**attempt)
            raise AssertionError("unreachable")

        return self._guard(run)

    def _read_tx(self, work: Callable[[ManagedTransaction], T]) -> T:
        """``work`` in one managed read transaction (statements in order, one round trip each)."""
        self._ensure_schema()

        def run() -> T:
            with self.driver.session(
                database=self.database,
                default_access_mode=neo4j.READ_ACCESS,
                bookmark_manager=self.bookmarks,
            ) as session:
                return session.execute_read(work)

        return self._guard(run)

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return

        def run() -> None:
            self.driver.verify_connectivity()  # fail fast, before retrying queries
            statements = [
                *cy.DROP_LEGACY_CONSTRAINTS,
                cy.CREATE_GEN_REF_INDEX,
                cy.CREATE_TO_INDEX,
                cy.CREATE_STAGE_INDEX,
                cy.CREATE_META_CONSTRAINT,
                *neo4j_history.schema_statements(),
            ]
            for statement in statements:
                self.driver.execute_query(statement, database_=self.database)
            self.driver.execute_query(cy.AWAIT_INDEXES, database_=self.database)

        self._guard(run)
        self._schema_ready = True

    def ping(self) -> None:
        """One statement, one try: a health check must not wait out the driver's retries
        (``execute_query`` retries for ``max_transaction_retry_time``, 5 s)."""

        def run() -> None:
            with self.driver.session(
                database=self.database, default_access_mode=neo4j.READ_ACCESS
            ) as session:
                session.run(cy.PING).consume()

        self._guard(run)

    def close(self) -> None:
        self._indexes.close()  # background index builds use the driver
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
        return self._load(graph, progress, revision, expect_head, planned, commit, None)

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
        info = self.info()
        if meta is not None:  # a load of files: their graph's settings and digests
            meta = {**meta, "digest": digest}
        else:
            meta = {**info.meta, "digest": digest}
            meta.pop("revision", None)
            meta.pop("source_digest", None)  # no longer the graph of any files
        fresh = [NodeRef.parse(c.ref) for c in planned.diff.nodes if c.new is not None]
        live = self.edges_of(fresh, Walk.UNDIRECTED, list(Relation))
        partial = neo4j_delta.partial_graph(planned.diff, live, info.catalog or "", meta)
        delta = neo4j_delta.Delta(size=sum(counts.values()), counts=counts, fresh=len(fresh))
        try:
            return self._load(partial, None, None, expect_head, planned, commit, delta)
        except neo4j_delta.WholeLoadCheaper:
            whole = history.graph_from_snapshot(
                info.catalog or "", meta, neo4j_delta.patched(self.catalog_data(), planned.diff)
            )
            return self._load(whole, None, None, expect_head, planned, commit, None)

    def _load(
        self,
        graph: CatalogGraph,
        progress: ProgressFn | None,
        revision: RevisionDraft | None,
        expect_head: int | None,
        planned: history.PlannedRevision | None,
        commit: LedgerCommit | None,
        delta: neo4j_delta.Delta | None,
    ) -> StoreInfo:
        """Write ``graph`` as a new generation in bounded transactions, then swap it in; or,
        when the revision changes a small part of the graph, write versions of the changed
        nodes only (:mod:`store.neo4j_versions`).

        See :mod:`store.neo4j_cypher` ("load"): readers see the previous graph until the swap
        commits; a failed or killed load leaves it untouched. The revision's changes are
        staged with the generation and the revision is created in the swap transaction, which
        also checks the head revision did not move (:mod:`store.neo4j_history`). An unchanged
        graph writes nothing (``meta["revision"]`` is ``None``).
        """
        self._ensure_schema()
        base_head, _ = self._guard(lambda: neo4j_history.read_head(self.driver, self.database))
        history.check_head(f"Neo4j at {self.uri}", base_head, expect_head)
        if planned is None or planned.summary.number != base_head + 1:  # else: as planned
            stored = (
                self._guard(lambda: neo4j_history.stored_snapshot(self.driver, self.database))
                if base_head
                else None
            )
            planned = history.plan_revision(base_head, stored, graph, revision, history.now())
        if planned is None and commit is not None:  # nothing to write but the request
            self._guard(lambda: self._commit_only(commit, base_head))
        if planned is None:
            self._guard(
                lambda: self.driver.execute_query(
                    cy.SET_GRAPH_META,
                    meta=json.dumps(graph.meta, ensure_ascii=False, default=str),
                    digest=graph.meta.get("digest"),
                    database_=self.database,
                )
            )
            # nothing to write, but what dead loads left behind still goes (as after a swap)
            self._guard(lambda: self._sweep([]))
            unchanged = self.info()
            return dataclasses.replace(unchanged, meta={**unchanged.meta, "revision": None})
        change_batches = neo4j_history.stage_batches(planned)
        stage = uuid.uuid4().hex
        live = self._guard(self._live_head)
        plan = None
        if live is not None and live[1] == base_head:  # the snapshot planned was of `live`
            size = delta.size if delta is not None else None
            plan = neo4j_versions.plan(graph, planned.diff, live[0], node_row, BATCH, size=size)
        if delta is not None and plan is None:
            raise neo4j_delta.WholeLoadCheaper
        total = len(graph.nodes) + len(graph.edges)
        counts = delta.counts if delta is not None else graph.counts()
        loaded_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        swap_params: dict[str, Any] = {
            "catalog": graph.name,
            "loaded_at": loaded_at,
            "meta": json.dumps(graph.meta, ensure_ascii=False, default=str),
            "counts": json.dumps(counts),
        }
        if plan is None:  # a full load: a new generation of its own
            gen = stage
            base = stage
            batches = _load_batches(graph)
            params: dict[str, Any] = {"gen": gen}
            swap_params["gen"] = gen
        else:
            gen = plan.gen
            base = plan.base
            batches = plan.batches
            total = sum(len(rows) for batch in batches for _, rows in batch)
            params = {"base": plan.base, "stage": stage, "seq": plan.prev_seq}

        def check_stage(tx: ManagedTransaction) -> None:
            if tx.run(cy.TOUCH_STAGE, gen=stage).single() is None:
                raise StoreError(
                    f"the staged load in Neo4j at {self.uri} was removed by another load; "
                    "run the load again",
                    {"uri": self.uri},
                )

        def write_batch(tx: ManagedTransaction, batch: list[tuple[str, list[Row]]]) -> int:
            check_stage(tx)
            written = 0
            for query, rows in batch:
                counters = tx.run(query, rows=rows, **params).consume().counters
                written += counters.nodes_created + counters.relationships_created
            return written

        def stage_changes(tx: ManagedTransaction, rows: list[Row]) -> None:
            check_stage(tx)
            neo4j_history.stage(tx, stage, rows)

        def swap(tx: ManagedTransaction) -> bool:
            neo4j_history.lock_and_check(tx, f"Neo4j at {self.uri}", base_head)
            if commit is not None and not neo4j_ledger.write_change(tx, commit):
                raise race_lost(commit)  # rolls the swap back; the stage is discarded
            if plan is None:
                if tx.run(cy.SWAP_GENERATION, swap_params).single() is None:
                    return False
            elif not self._swap_versions(tx, plan, stage, swap_params):
                return False
            digest = graph.meta.get("digest") or ""
            neo4j_history.record(tx, stage, planned, digest, swap_params["meta"])
            return True

        def run() -> None:
            self._sweep([])
            with self.driver.session(
                database=self.database, bookmark_manager=self.bookmarks
            ) as session:
                session.execute_write(lambda tx: tx.run(cy.REGISTER_STAGE, gen=stage).consume())
                done = 0
                try:
                    for batch in batches:
                        rows = sum(len(r) for _, r in batch)
                        written = session.execute_write(write_batch, batch)
                        if written != rows:
                            raise StoreError(
                                f"Neo4j at {self.uri} wrote {written} of {rows} items of "
                                "a batch (an edge end missing from the load?); nothing was "
                                "changed",
                                {"uri": self.uri},
                            )
                        done += rows
                        if progress:
                            progress(done, total)
                    for change_rows in change_batches:
                        session.execute_write(stage_changes, change_rows)
                    try:
                        swapped = session.execute_write(swap)
                    except ConstraintError as exc:  # two swaps numbered the same revision
                        raise ConflictError(
                            f"another load recorded the same revision in Neo4j at {self.uri}; "
                            "nothing was changed — run it again",
                            {"uri": self.uri},
                        ) from exc
                    if not swapped:
                        raise StoreError(
                            f"the staged load in Neo4j at {self.uri} was removed by another "
                            "load before it could be published; run the load again",
                            {"uri": self.uri},
                        )
                except BaseException:
                    self._discard(stage)
                    raise
            # published already: a failed sweep leaves unreferenced nodes for the next load to
            # sweep, and must not report the load as failed
            with contextlib.suppress(Neo4jError, DriverError, OSError):
                self._sweep([base])

        self._guard(run)
        if delta is None:  # a delta's generation builds its search index when first read
            self._indexes.published(  # kept in a file for servers to start with
                gen,
                lambda: SearchIndexBuilder.of_nodes(graph.nodes),
                IndexFile.of(self._indexes.store or "", gen, loaded_at, counts),
            )
        return StoreInfo(
            backend=self.backend,
            catalog=graph.name,
            loaded_at=loaded_at,
            counts=counts,
            meta={**graph.meta, "revision": planned.summary.number},
        )

    def _commit_only(self, commit: LedgerCommit, base_head: int) -> None:
        """An apply whose graph is already as the request wants it: the request's ledger write
        alone, under the head's lock (so it orders with loads)."""

        def work(tx: ManagedTransaction) -> None:
            neo4j_history.lock_and_check(tx, f"Neo4j at {self.uri}", base_head)
            if not neo4j_ledger.write_change(tx, commit):
                raise race_lost(commit)

        with self.driver.session(database=self.database, bookmark_manager=self.bookmarks) as s:
            s.execute_write(work)

    def _live_head(self) -> tuple[str, int, int] | None:
        """(published generation, head revision, its sequence), read together."""
        records, _, _ = self.driver.execute_query(cy.GET_LIVE_HEAD, database_=self.database)
        if not records:
            return None
        gen = str(records[0]["gen"])
        return gen, int(records[0]["head"]), neo4j_versions.seq_of(gen)

    def _swap_versions(
        self, tx: ManagedTransaction, plan: IncrementalPlan, stage: str, info: dict[str, Any]
    ) -> bool:
        """The swap of an incremental load (see :mod:`store.neo4j_cypher`, "versions"), after
        the head check: publish, close the replaced versions, open the pending ones."""
        keys: dict[str, Any] = {
            "base": plan.base,
            "seq": plan.seq,
            "floor": plan.prev_seq,
            "stage": stage,
        }
        published = tx.run(
            cy.SWAP_VERSIONS, {**info, **keys, "gen": plan.gen, "prev": plan.prev_gen}
        ).single()
        if published is None:
            return False
        closed = tx.run(cy.CLOSE_VERSIONS, refs=plan.closed, **keys).single()
        opened = tx.run(cy.PUBLISH_VERSIONS, refs=plan.fresh, **keys).single()
        if (closed and closed["n"]) != len(plan.closed) or (opened and opened["n"]) != len(
            plan.fresh
        ):
            raise StoreError(
                f"Neo4j at {self.uri}: the graph to update was not as planned (closed "
                f"{closed and closed['n']} of {len(plan.closed)} versions, published "
                f"{opened and opened['n']} of {len(plan.fresh)}); nothing was changed — run "
                "the load again",
                {"uri": self.uri},
            )
        return True

    def _sweep(self, keep: list[str]) -> SweepReport:
        """Delete every generation but the published one and those of loads still writing,
        versions no reader can see any more and those of dead incremental loads, in bounded
        transactions; returns what went. ``keep``: generations (``_gen``) known to stay."""
        stale_after = STAGE_TIMEOUT.total_seconds()
        with self.driver.session(
            database=self.database, bookmark_manager=self.bookmarks
        ) as session:
            dead = session.run(cy.DELETE_DEAD_STAGES, stale_after=stale_after).consume()
            live = session.run(cy.GET_LIVE_GEN).value("gen")
            keep = [*keep, *(str(g).split(".")[0] for g in live)]
            swept = session.run(cy.SWEEP_GENERATIONS, keep=keep, stale_after=stale_after)
            nodes = swept.consume().counters.nodes_deleted
            floor = session.run(cy.GET_FLOOR).single()
            if floor is not None and floor["floor"] > 0:
                closed = session.run(
                    cy.SWEEP_CLOSED_VERSIONS, base=floor["base"], floor=floor["floor"]
                )
                nodes += closed.consume().counters.nodes_deleted
            pending = session.run(cy.SWEEP_DEAD_VERSIONS, stale_after=stale_after)
            nodes += pending.consume().counters.nodes_deleted
            session.run(cy.DELETE_ORPHAN_CHANGES).consume()
        return SweepReport(loads=dead.counters.nodes_deleted, nodes=nodes)

    def sweep_orphans(self) -> SweepReport:
        """Remove what killed or failed loads left behind (their staged generations, once
        their heartbeat is older than ``STAGE_TIMEOUT``), in bounded transactions. ``kpigraph
        serve`` and ``kpigraph load`` call it first and report it; a load would otherwise pay
        for it silently."""
        self._ensure_schema()
        return self._guard(lambda: self._sweep([]))

    def _discard(self, gen: str) -> None:
        """Best effort after a failed load: remove its stage record and staged nodes."""
        try:
            with self.driver.session(database=self.database) as session:
                session.run(cy.DELETE_STAGE, gen=gen).consume()
                session.run(cy.DELETE_GENERATION, gen=gen).consume()
                session.run(cy.DELETE_STAGED_VERSIONS, gen=gen).consume()
                session.run(cy.DELETE_STAGED_CHANGES, gen=gen).consume()
        except (Neo4jError, DriverError, OSError):
            pass  # unreferenced; a later load sweeps it once its stage record is stale

    def clear(self) -> None:
        """Remove the whole graph (tests and ``kpigraph`` maintenance only)."""
        self._ensure_schema()

        def run() -> None:
            with self.driver.session(database=self.database) as session:
                session.run(cy.DELETE_META).consume()  # unpublishes; running loads fail
                session.run(cy.DELETE_HISTORY).consume()
                session.run(
                    cy.SWEEP_GENERATIONS, keep=[], stale_after=STAGE_TIMEOUT.total_seconds()
                ).consume()

        self._guard(run)

    # -- reads ---------------------------------------------------------------------------------

    def snapshot(self) -> Neo4jReader:
        """A reader pinned to the generation its first read finds live (no round trip now)."""
        return Neo4jReader(self._read, self._read_tx, self._indexes, self._where)

    def warm(self) -> None:
        """Start building the live generation's search index in the background (``kpigraph
        serve`` calls it at start-up); searches meanwhile answer from Cypher."""
        with contextlib.suppress(EmptyStoreError):
            self.snapshot().warm()

    @property
    def _where(self) -> str:
        return f"Neo4j at {self.uri} (database {self.database!r})"

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
        self._ensure_schema()
        return self._guard(lambda: neo4j_history.read_head(self.driver, self.database))[0]

    def revisions(
        self, ref: NodeRef | None = None, limit: int = 50, before: int | None = None
    ) -> list[RevisionSummary]:
        self._ensure_schema()
        return self._guard(
            lambda: neo4j_history.revisions(self.driver, self.database, ref, limit, before)
        )

    def revision(self, number: int) -> Revision:
        self._ensure_schema()
        return self._guard(lambda: neo4j_history.revision(self.driver, self.database, number))

    def node_history(self, ref: NodeRef) -> list[NodeHistoryEntry]:
        self._ensure_schema()
        return self._guard(lambda: neo4j_history.node_history(self.driver, self.database, ref))

    def node_at(self, ref: NodeRef, number: int) -> BaseNode | None:
        self._ensure_schema()
        return self._guard(lambda: neo4j_history.node_at(self.driver, self.database, ref, number))

    def catalog(self, at: int | None = None) -> CatalogGraph:
        """The stored catalog (or as it was after revision ``at``) as a graph."""
        self._ensure_schema()
        if at is not None:
            return self._guard(lambda: neo4j_history.catalog_at(self.driver, self.database, at))
        info = self.info()
        snap = self._guard(lambda: neo4j_history.stored_snapshot(self.driver, self.database))
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
        self._ensure_schema()
        snap = self._guard(lambda: neo4j_history.stored_snapshot(self.driver, self.database))
        if snap is None:
            raise EmptyStoreError(f"Neo4j at {self.uri} (database {self.database!r})")
        return snap


@dataclass(frozen=True)
class SweepReport:
    """What a sweep removed: stage records of dead loads, and nodes of unpublished
    generations."""

    loads: int
    nodes: int

    def __str__(self) -> str:
        return (
            f"removed {self.nodes:,} node(s) of unpublished generations "
            f"({self.loads} abandoned load(s))"
        )


def _load_batches(graph: CatalogGraph) -> list[list[tuple[str, list[Row]]]]:
    """Transactions of at most ``BATCH`` rows, each a list of (statement, rows): nodes by
    kind, then edges by type; small kinds and types share a transaction (S: 3, not 19)."""
    by_kind: dict[NodeKind, list[Row]] = defaultdict(list)
    for node in graph.nodes:
        by_kind[node.kind].append(node_row(node))
    by_rel: dict[Relation, list[Row]] = defaultdict(list)
    for edge in graph.edges:
        by_rel[edge.type].append(edge_row(edge))
    statements = [(cy.CREATE_NODES[kind], rows) for kind, rows in by_kind.items()]
    statements += [(cy.CREATE_EDGES[rel], rows) for rel, rows in by_rel.items()]
    return neo4j_versions.group(statements, BATCH)


def _short(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text).strip().splitlines()[0][:300].rstrip(" :")
