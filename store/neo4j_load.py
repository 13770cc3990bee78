"""Writing a Neo4j store: a load as a new *generation*, or the changed part of the graph as
new *versions* of its nodes (:mod:`store.neo4j_versions`), then published in one small swap.

A load writes in bounded ``UNWIND $rows`` transactions, so a catalog of any size fits the
server's transaction memory; readers see the previous graph until the swap commits, so a
failed, interrupted or killed load leaves it readable and unchanged (what it staged is swept,
:mod:`store.neo4j_sweep`). The revision's changes are staged with the generation and the
revision is created in the swap transaction (:mod:`store.neo4j_history`), with the request's
ledger write when there is one. See :mod:`store.neo4j_cypher_load` ("load").
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from neo4j import ManagedTransaction
from neo4j.exceptions import ConstraintError, DriverError, Neo4jError

from graph_schema.errors import ConflictError, StoreError
from graph_schema.governance import LedgerCommit
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind
from graph_schema.models import BaseNode, Metric
from graph_schema.relations import Relation
from graph_schema.revisions import RevisionDraft
from graph_schema.rules.conflict import stored_keys
from store import (
    history,
    neo4j_bulk,
    neo4j_delta,
    neo4j_history,
    neo4j_ledger,
    neo4j_sweep,
    neo4j_versions,
)
from store import neo4j_cypher as cy
from store.base import ProgressFn, StoreInfo
from store.history import race_lost
from store.neo4j_reader import SearchIndexes
from store.neo4j_session import Neo4jSession
from store.neo4j_versions import IncrementalPlan
from store.search_fallback import search_strings
from store.search_file import IndexFile
from store.search_index import SearchIndexBuilder

Row = dict[str, Any]
#: Rows per load transaction: bounded transaction memory (a few tens of MB) at any catalog size.
BATCH = 10_000


def node_row(node: BaseNode, text: str | None = None) -> dict[str, Any]:
    """The properties stored on a Neo4j node: the full JSON (``text`` when the caller has it:
    :attr:`CatalogGraph.texts`), plus the main fields as properties of their own for people
    browsing the graph in Neo4j's own tools."""
    props = node.props()
    row: dict[str, Any] = {
        "ref": str(node.ref),
        "kind": node.kind.value,
        "id": node.id,
        "name": node.name,
        "props": text if text is not None else json.dumps(props, ensure_ascii=False),
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
            _keys=list(stored_keys(node)),  # the conflict-key index (metrics_keyed)
        )
    return row


def load_batches(graph: CatalogGraph) -> list[list[tuple[str, list[Row]]]]:
    """Transactions of at most ``BATCH`` rows, each a list of (statement, rows): nodes by
    kind, then edges by type; small kinds and types share a transaction (S: 3, not 19)."""
    by_kind: dict[NodeKind, list[Row]] = defaultdict(list)
    node_texts, edge_texts = graph.texts  # shared with revision 1's change records
    for node, text in zip(graph.nodes, node_texts, strict=True):
        by_kind[node.kind].append(node_row(node, text))
    by_rel: dict[Relation, list[Row]] = defaultdict(list)
    for edge, text in zip(graph.edges, edge_texts, strict=True):  # what edge_row writes
        by_rel[edge.type].append(
            {"source": str(edge.source), "target": str(edge.target), "props": text}
        )
    statements = [(cy.CREATE_NODES[kind], rows) for kind, rows in by_kind.items()]
    statements += [(cy.CREATE_EDGES[rel], rows) for rel, rows in by_rel.items()]
    return neo4j_versions.group(statements, BATCH)


class Neo4jWriter:
    """The write path of a :class:`~store.neo4j.Neo4jStore`.

    Parameters
    ----------
    conn
        The store's driver and plumbing.
    indexes
        The store's search indexes: a full load publishes its generation's index.
    info
        What the store holds now (an unchanged load answers with it).
    """

    backend = "neo4j"

    def __init__(
        self,
        conn: Neo4jSession,
        indexes: SearchIndexes,
        info: Callable[[], StoreInfo],
        offline: neo4j_bulk.OfflineImport | None = None,
        import_min: int = neo4j_bulk.IMPORT_MIN,
    ) -> None:
        self.conn = conn
        self.indexes = indexes
        self.info = info
        #: The local server an empty store's first load may be imported into offline.
        self.offline = offline
        self.import_min = import_min
        #: How the last load that wrote something was written: ``"import"`` (offline) or
        #: ``"transactions"``.
        self.last_path: str | None = None

    def write(
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

        See :mod:`store.neo4j_cypher_load` ("load"): readers see the previous graph until the swap
        commits; a failed or killed load leaves it untouched. The revision's changes are
        staged with the generation and the revision is created in the swap transaction, which
        also checks the head revision did not move (:mod:`store.neo4j_history`). An unchanged
        graph writes nothing (``meta["revision"]`` is ``None``).
        """
        self.conn.ensure_schema()
        # a swap a writer left unmarked (it died) is marked, so the head and snapshot this
        # load plans against are the published ones; an unfinished swap is waited for
        self.conn.guard(lambda: self.mark_ready())
        base_head, _ = self.conn.guard(
            lambda: neo4j_history.read_head(self.conn.driver, self.conn.database)
        )
        history.check_head(f"Neo4j at {self.conn.uri}", base_head, expect_head)
        if planned is None or planned.summary.number != base_head + 1:  # else: as planned
            stored = (
                self.conn.guard(
                    lambda: neo4j_history.stored_snapshot(self.conn.driver, self.conn.database)
                )
                if base_head
                else None
            )
            planned = history.plan_revision(base_head, stored, graph, revision, history.now())
        if planned is None and commit is not None:  # nothing to write but the request
            self.conn.guard(lambda: self.commit_only(commit, base_head))
        if planned is None:
            self.conn.guard(
                lambda: self.conn.driver.execute_query(
                    cy.SET_GRAPH_META,
                    meta=json.dumps(graph.meta, ensure_ascii=False, default=str),
                    digest=graph.meta.get("digest"),
                    database_=self.conn.database,
                )
            )
            # nothing to write, but what dead loads left behind still goes (as after a swap)
            self.conn.guard(lambda: neo4j_sweep.sweep(self.conn, []))
            unchanged = self.info()
            return dataclasses.replace(unchanged, meta={**unchanged.meta, "revision": None})
        # revision 1 of a first load: no change record per node and edge (store/neo4j_base.py)
        base_revision = not base_head and planned.whole is graph
        change_batches = neo4j_history.stage_batches(planned, base_revision)
        stage = uuid.uuid4().hex
        live = self.conn.guard(self.live_head)
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
        imported = False
        if plan is None:  # a full load: a new generation of its own
            gen = stage
            base = stage
            imported = self.import_offline(graph, stage, base_revision, total, live)
            batches = [] if imported else load_batches(graph)
            params: dict[str, Any] = {"gen": gen}
            swap_params["gen"] = gen
        else:
            gen = plan.gen
            base = plan.base
            batches = plan.batches
            total = sum(len(rows) for batch in batches for _, rows in batch)
            params = {"base": plan.base, "stage": stage, "seq": plan.prev_seq}

        self.last_path = "import" if imported else "transactions"

        def check_stage(tx: ManagedTransaction) -> None:
            if tx.run(cy.TOUCH_STAGE, gen=stage).single() is None:
                raise StoreError(
                    f"the staged load in Neo4j at {self.conn.uri} was removed by another load; "
                    "run the load again",
                    {"uri": self.conn.uri},
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
            neo4j_history.lock_and_check(tx, f"Neo4j at {self.conn.uri}", base_head)
            if commit is not None and not neo4j_ledger.write_change(tx, commit):
                raise race_lost(commit)  # rolls the swap back; the stage is discarded
            if plan is None:
                if tx.run(cy.SWAP_GENERATION, swap_params).single() is None:
                    return False
            elif not self.swap_versions(tx, plan, stage, swap_params):
                return False
            digest = graph.meta.get("digest") or ""
            neo4j_history.record(
                tx, stage, planned, digest, swap_params["meta"], base=base_revision
            )
            return True

        def run() -> None:
            if not imported:  # an import brought its stage record, in a store with nothing else
                neo4j_sweep.sweep(self.conn, [])
            with self.conn.driver.session(
                database=self.conn.database, bookmark_manager=self.conn.bookmarks
            ) as session:
                if not imported:
                    session.execute_write(lambda tx: tx.run(cy.REGISTER_STAGE, gen=stage).consume())
                done = 0
                try:
                    if imported and progress:
                        progress(total, total)
                    for batch in batches:
                        rows = sum(len(r) for _, r in batch)
                        written = session.execute_write(write_batch, batch)
                        if written != rows:
                            raise StoreError(
                                f"Neo4j at {self.conn.uri} wrote {written} of {rows} items of "
                                "a batch (an edge end missing from the load?); nothing was "
                                "changed",
                                {"uri": self.conn.uri},
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
                            f"another load recorded the same revision in Neo4j at {self.conn.uri}; "
                            "nothing was changed — run it again",
                            {"uri": self.conn.uri},
                        ) from exc
                    if not swapped:
                        raise StoreError(
                            f"the staged load in Neo4j at {self.conn.uri} was removed by another "
                            "load before it could be published; run the load again",
                            {"uri": self.conn.uri},
                        )
                except BaseException:
                    neo4j_sweep.discard(self.conn, stage)
                    raise
            # published already: readers pin it once marked, which the sweep does first (in a
            # transaction of its own, after the swap's: see "readable" in
            # store/neo4j_cypher_load.py). A failed mark or sweep is done by the next load or
            # `kpigraph serve` (readers read the previous revision until then) and must not
            # report the load as failed
            # (a full load: every node read, so none of the layout before generations stays;
            # an imported one replaced the whole database)
            with contextlib.suppress(Neo4jError, DriverError, OSError):
                neo4j_sweep.sweep(self.conn, [base], every_node=plan is None and not imported)

        self.conn.guard(run)
        if delta is None:  # a delta's generation builds its search index when first read
            self.indexes.published(  # kept in a file for servers to start with
                gen,
                lambda: SearchIndexBuilder.of_nodes(graph.nodes),
                IndexFile.of(self.indexes.store or "", gen, loaded_at, counts),
            )
        return StoreInfo(
            backend=self.backend,
            catalog=graph.name,
            loaded_at=loaded_at,
            counts=counts,
            meta={**graph.meta, "revision": planned.summary.number},
        )

    def import_offline(
        self,
        graph: CatalogGraph,
        stage: str,
        base_revision: bool,
        total: int,
        live: tuple[str, int, int] | None,
    ) -> bool:
        """Write the generation ``stage`` of a first load by an offline import
        (:mod:`store.neo4j_bulk`) when the server is a local one, the graph big enough and the
        store empty; ``False``: load it in transactions."""
        if self.offline is None or self.import_min <= 0 or total < self.import_min:
            return False
        if not base_revision or live is not None or not neo4j_bulk.is_empty(self.conn):
            return False
        offline = self.offline
        return self.conn.guard(
            lambda: neo4j_bulk.import_generation(self.conn, offline, graph, stage, node_row)
        )

    def commit_only(self, commit: LedgerCommit, base_head: int) -> None:
        """An apply whose graph is already as the request wants it: the request's ledger write
        alone, under the head's lock (so it orders with loads)."""

        def work(tx: ManagedTransaction) -> None:
            neo4j_history.lock_and_check(tx, f"Neo4j at {self.conn.uri}", base_head)
            if not neo4j_ledger.write_change(tx, commit):
                raise race_lost(commit)

        with self.conn.driver.session(
            database=self.conn.database, bookmark_manager=self.conn.bookmarks
        ) as s:
            s.execute_write(work)

    def mark_ready(self) -> None:
        """Let readers pin the published generation (:func:`store.neo4j_sweep.mark_ready`)."""
        with self.conn.driver.session(
            database=self.conn.database, bookmark_manager=self.conn.bookmarks
        ) as session:
            session.execute_write(neo4j_sweep.mark_ready)

    def live_head(self) -> tuple[str, int, int] | None:
        """(published generation, head revision, its sequence), read together."""
        records, _, _ = self.conn.driver.execute_query(
            cy.GET_LIVE_HEAD, database_=self.conn.database
        )
        if not records:
            return None
        gen = str(records[0]["gen"])
        return gen, int(records[0]["head"]), neo4j_versions.seq_of(gen)

    def swap_versions(
        self, tx: ManagedTransaction, plan: IncrementalPlan, stage: str, info: dict[str, Any]
    ) -> bool:
        """The swap of an incremental load (see :mod:`store.neo4j_cypher_load`, "load"), after
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
                f"Neo4j at {self.conn.uri}: the graph to update was not as planned (closed "
                f"{closed and closed['n']} of {len(plan.closed)} versions, published "
                f"{opened and opened['n']} of {len(plan.fresh)}); nothing was changed — run "
                "the load again",
                {"uri": self.conn.uri},
            )
        return True
