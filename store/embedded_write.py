"""Writing the embedded store: a load or a delta, with its revision and the request's ledger
write, in one ``BEGIN IMMEDIATE`` transaction of the SQLite file — all or nothing (the caller
rolls a failed write back, :meth:`store.embedded.EmbeddedStore.load`). A reload writes only
the rows its revision changed (:func:`write_changes`); the first load writes every row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from graph_schema.diff import GraphDiff
from graph_schema.governance import LedgerCommit
from graph_schema.graph import CatalogGraph
from graph_schema.revisions import ChangeOp, RevisionDraft
from store import embedded_history, embedded_keys, embedded_ledger, history
from store.base import ProgressFn, StoreInfo
from store.history import race_lost

SCHEMA_VERSION = "1"
#: Rows per ``executemany`` of a first load (its progress is reported per batch).
BATCH = 5000
#: SQLite's page cache while a first load writes (KiB; pages are taken as they are used)
LOAD_CACHE_KIB = 256 * 1024
#: SQLite's default page cache (``PRAGMA cache_size``: -2000 = about 2 MB)
DEFAULT_CACHE = -2000


def now() -> str:
    """The time a write records (``loaded_at``)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def load_meta(graph: CatalogGraph) -> dict[str, str]:
    """The meta rows a load of ``graph`` writes (a new generation, loaded now)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "catalog": graph.name,
        "loaded_at": now(),
        "catalog_meta": json.dumps(graph.meta, ensure_ascii=False, default=str),
        "generation": uuid.uuid4().hex,
        "counts": json.dumps(graph.counts()),  # info without scanning the tables
    }


def write_graph(
    conn: sqlite3.Connection,
    path: Path,
    graph: CatalogGraph,
    meta: dict[str, str],
    progress: ProgressFn | None,
    revision: RevisionDraft | None,
    expect_head: int | None,
    planned: history.PlannedRevision | None,
    commit: LedgerCommit | None,
) -> history.PlannedRevision | None:
    """Replace the graph in the file, with the ``meta`` rows (:func:`load_meta`), and record
    the revision, committed; returns the revision written (``None``: the graph was unchanged,
    only the catalog's meta was refreshed). See :meth:`store.embedded.EmbeddedStore.load`."""
    total = len(graph.nodes) + len(graph.edges)
    loaded_at = meta["loaded_at"]
    conn.execute("BEGIN IMMEDIATE")
    head = embedded_history.head(conn)
    history.check_head(str(path), head, expect_head)
    if commit is not None and not embedded_ledger.write_change(conn, commit):
        raise race_lost(commit)
    if planned is None or planned.summary.number != head + 1:
        stored = embedded_history.stored_snapshot(conn) if head else None
        planned = history.plan_revision(head, stored, graph, revision, loaded_at)
    if planned is None:  # nothing changed: only the catalog's meta is refreshed
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'catalog_meta'",
            (meta["catalog_meta"],),
        )
        conn.execute("COMMIT")
        return None
    keyed = bool(head) and embedded_keys.complete(conn)
    conn.execute("DELETE FROM meta")
    if head:  # rows as stored = the diff's old side: write the changes
        write_changes(conn, planned.diff)
        if keyed:
            embedded_keys.write_diff(conn, planned.diff)
        if progress:
            progress(total, total)
    else:
        node_texts, edge_texts = graph.texts  # shared with revision 1's change records
        node_rows = [
            (n.kind.value, n.id, text) for n, text in zip(graph.nodes, node_texts, strict=True)
        ]
        edge_rows = [
            (str(e.source), str(e.target), e.type.value, text)
            for e, text in zip(graph.edges, edge_texts, strict=True)
        ]
        conn.execute("DELETE FROM edges")
        conn.execute("DELETE FROM nodes")
        # a page cache for the whole write: with SQLite's 2 MB default the tables' B-trees
        # spill to the WAL again and again (at L: a third less CPU, half the wall)
        conn.execute(f"PRAGMA cache_size = {-LOAD_CACHE_KIB}")
        done = 0
        for chunk in chunks(node_rows, BATCH):
            conn.executemany("INSERT INTO nodes VALUES (?, ?, ?)", chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
        for chunk in chunks(edge_rows, BATCH):
            conn.executemany("INSERT INTO edges VALUES (?, ?, ?, ?)", chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    if not keyed:  # a first load, or a file written before the index: every metric's keys
        embedded_keys.write_all(conn, graph.nodes)
    meta = {**meta, embedded_keys.MARK: "1"}
    conn.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
    # revision 1 over an empty store adds exactly the rows just written: kept compactly
    # (store/embedded_base.py), not one change record per row
    base = not head and planned.whole is graph
    try:
        embedded_history.record(conn, planned, graph.meta, base=base)
        conn.execute("COMMIT")
    finally:
        conn.execute(f"PRAGMA cache_size = {DEFAULT_CACHE}")  # what readers need
    return planned


@dataclasses.dataclass(frozen=True)
class Written:
    """What :func:`write_delta` wrote: the meta rows as they were before (``stored``) and
    those it replaced (``meta``), and the catalog's settings after it."""

    stored: dict[str, str]
    meta: dict[str, str]
    catalog_meta: dict[str, Any]


def write_delta(
    conn: sqlite3.Connection,
    path: Path,
    planned: history.PlannedRevision,
    expect_head: int,
    counts: dict[str, int],
    digest: str,
    commit: LedgerCommit | None,
    meta: Mapping[str, Any] | None,
    loaded_at: str,
) -> Written:
    """Write a delta: the rows its diff changes, the revision and the request's ledger write,
    committed. See :meth:`store.embedded.EmbeddedStore.apply`."""
    conn.execute("BEGIN IMMEDIATE")
    head = embedded_history.head(conn)
    history.check_head(str(path), head, expect_head)
    if planned.summary.number != head + 1:
        raise ValueError(f"the delta is revision {planned.summary.number}, not {head + 1}")
    if commit is not None and not embedded_ledger.write_change(conn, commit):
        raise race_lost(commit)
    stored = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if meta is not None:  # a load of files: their graph's settings and digests
        catalog_meta = {**meta, "digest": digest}
    else:
        catalog_meta = {
            **json.loads(stored.get("catalog_meta", "{}")),
            "digest": digest,
        }
        catalog_meta.pop("source_digest", None)  # no longer the graph of any files
    write_changes(conn, planned.diff)
    embedded_keys.write_diff(conn, planned.diff)  # kept as complete as it was
    rows = {
        "catalog_meta": json.dumps(catalog_meta, ensure_ascii=False, default=str),
        "counts": json.dumps(counts),
        "generation": uuid.uuid4().hex,
        "loaded_at": loaded_at,
    }
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(rows.items()))
    embedded_history.record(conn, planned, catalog_meta)
    conn.execute("COMMIT")
    return Written(stored, rows, catalog_meta)


def write_changes(conn: sqlite3.Connection, diff: GraphDiff) -> None:
    """Write only what ``diff`` (stored rows → the new graph) changed: a reload that edits one
    metric writes that metric's row and its edges' rows, not the whole graph."""

    def text(props: Any) -> str:
        return json.dumps(props, ensure_ascii=False)

    gone = [tuple(c.ref.split(":", 1)) for c in diff.nodes if c.op is ChangeOp.REMOVED]
    put = [(*c.ref.split(":", 1), text(c.new)) for c in diff.nodes if c.op is not ChangeOp.REMOVED]
    gone_edges = [(c.source, c.target, c.type) for c in diff.edges if c.op is ChangeOp.REMOVED]
    put_edges = [
        (c.source, c.target, c.type, text(c.new))
        for c in diff.edges
        if c.op is not ChangeOp.REMOVED
    ]
    conn.executemany("DELETE FROM edges WHERE source = ? AND target = ? AND type = ?", gone_edges)
    conn.executemany("DELETE FROM nodes WHERE kind = ? AND id = ?", gone)
    conn.executemany("INSERT OR REPLACE INTO nodes VALUES (?, ?, ?)", put)
    conn.executemany("INSERT OR REPLACE INTO edges VALUES (?, ?, ?, ?)", put_edges)


def with_revision(info: StoreInfo, number: int | None) -> StoreInfo:
    """What a load returns: the store's info, ``meta["revision"]`` the revision it recorded."""
    return dataclasses.replace(info, meta={**info.meta, "revision": number})


def chunks(rows: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
