"""Revisions of the embedded store: two tables in the same SQLite file as the graph.

:func:`record` runs inside the load's own transaction (``BEGIN IMMEDIATE`` … ``COMMIT``), so a
revision exists exactly when its graph does; ``BEGIN IMMEDIATE`` also serialises concurrent
loads, so revision numbers never fork.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from graph_schema.diff import Snapshot
from graph_schema.errors import RevisionNotFoundError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import BaseNode
from graph_schema.revisions import NodeChange, NodeHistoryEntry, Revision, RevisionSummary
from store import embedded_base, history

SCHEMA = """
CREATE TABLE IF NOT EXISTS revisions (
    number INTEGER PRIMARY KEY, created_at TEXT NOT NULL, summary TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS revision_changes (
    revision INTEGER NOT NULL, entity TEXT NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (revision, entity, key)
);
CREATE INDEX IF NOT EXISTS revision_changes_key ON revision_changes (entity, key, revision);
"""


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    conn.executescript(embedded_base.SCHEMA)


def head(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(number) FROM revisions").fetchone()
    return int(row[0] or 0)


def stored_snapshot(conn: sqlite3.Connection) -> Snapshot:
    """The graph as stored now (read inside the caller's transaction)."""
    nodes = {
        f"{kind}:{node_id}": json.loads(props)
        for kind, node_id, props in conn.execute("SELECT kind, id, props FROM nodes")
    }
    edges = {
        (source, rtype, target): json.loads(props)
        for source, target, rtype, props in conn.execute(
            "SELECT source, target, type, props FROM edges"
        )
    }
    return Snapshot(nodes, edges)


def rows_of(conn: sqlite3.Connection, wanted: list[str]) -> Snapshot:
    """The rows of the nodes ``wanted`` (refs) and of every edge touching one of them, read by
    key in one read transaction (:meth:`store.embedded.EmbeddedStore.stored_rows`)."""
    if len(wanted) <= _FEW_ROWS:
        return _few_rows_of(conn, wanted)
    conn.execute("BEGIN")
    try:
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS wanted_refs (ref TEXT PRIMARY KEY, kind TEXT, id TEXT)"
        )
        conn.execute("DELETE FROM wanted_refs")
        conn.executemany(
            "INSERT OR IGNORE INTO wanted_refs VALUES (?, ?, ?)",
            [(r, *r.split(":", 1)) for r in wanted],
        )
        nodes = {
            f"{kind}:{node_id}": json.loads(props)
            for kind, node_id, props in conn.execute(
                "SELECT n.kind, n.id, n.props FROM wanted_refs w "
                "JOIN nodes n ON n.kind = w.kind AND n.id = w.id"
            )
        }
        edges = {
            (source, rtype, target): json.loads(props)
            for source, target, rtype, props in conn.execute(
                "SELECT e.source, e.target, e.type, e.props FROM wanted_refs w "
                "JOIN edges e ON e.source = w.ref UNION "
                "SELECT source, target, type, props FROM edges "
                "WHERE target IN (SELECT ref FROM wanted_refs)"
            )
        }
        conn.execute("DELETE FROM wanted_refs")
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
    return Snapshot(nodes, edges)


#: up to this many refs, :func:`rows_of` names them in the query (a delta's few metrics:
#: 5 ms at M instead of 12 ms through the temporary table, whose edge half probed it per edge)
_FEW_ROWS = 200


def _few_rows_of(conn: sqlite3.Connection, wanted: list[str]) -> Snapshot:
    """:func:`rows_of` with the refs as the query's parameters (no temporary table)."""
    if not wanted:
        return Snapshot({}, {})
    marks = ", ".join("?" * len(wanted))
    keys = " OR ".join(["(kind = ? AND id = ?)"] * len(wanted))  # each by the primary key
    conn.execute("BEGIN")
    try:
        nodes = {
            f"{kind}:{node_id}": json.loads(props)
            for kind, node_id, props in conn.execute(
                f"SELECT kind, id, props FROM nodes WHERE {keys}",
                [part for ref in wanted for part in ref.split(":", 1)],
            )
        }
        edges = {
            (source, rtype, target): json.loads(props)
            for source, target, rtype, props in conn.execute(
                f"SELECT source, target, type, props FROM edges WHERE source IN ({marks}) "
                f"UNION SELECT source, target, type, props FROM edges WHERE target IN ({marks})",
                [*wanted, *wanted],
            )
        }
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
    return Snapshot(nodes, edges)


def record(
    conn: sqlite3.Connection,
    planned: history.PlannedRevision,
    meta: dict[str, Any],
    *,
    base: bool = False,
) -> None:
    """Write ``planned`` (inside the caller's open transaction). ``base``: the revision adds
    the whole graph just written to an empty store (``planned.whole``), and its change records
    are not written but derived when read (:mod:`store.embedded_base`)."""
    summary = planned.summary
    conn.execute(
        "INSERT INTO revisions (number, created_at, summary, meta) VALUES (?, ?, ?, ?)",
        (
            summary.number,
            summary.created_at,
            history.summary_json(summary),
            json.dumps(meta, ensure_ascii=False, default=str),
        ),
    )
    if base:
        embedded_base.mark(conn, summary.number)
        return
    conn.executemany(
        "INSERT INTO revision_changes (revision, entity, key, op, data) VALUES (?, ?, ?, ?, ?)",
        (
            (summary.number, entity, key, op, data)
            for entity, key, op, data in history.revision_rows(planned)
        ),
    )


def revisions(
    conn: sqlite3.Connection, ref: NodeRef | None, limit: int, before: int | None
) -> list[RevisionSummary]:
    """Newest first; with ``ref``, only revisions that changed that node."""
    upper = before if before is not None else 2**62
    if ref is None:
        rows = conn.execute(
            "SELECT summary FROM revisions WHERE number < ? ORDER BY number DESC LIMIT ?",
            (upper, limit),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT r.summary FROM revision_changes c JOIN revisions r ON r.number = c.revision "
            "WHERE c.entity = 'node' AND c.key = ? AND r.number < ? "
            "ORDER BY r.number DESC LIMIT ?",
            (str(ref), upper, limit),
        ).fetchall()
        first = embedded_base.base(conn)
        if (
            first is not None
            and first < upper
            and len(rows) < limit
            and embedded_base.record_of(conn, "node", str(ref)) is not None
        ):  # the base revision (the oldest) changed it: it added it
            rows += conn.execute("SELECT summary FROM revisions WHERE number = ?", (first,))
    return [RevisionSummary.model_validate_json(s) for (s,) in rows]


def revision(conn: sqlite3.Connection, number: int) -> Revision:
    row = conn.execute("SELECT summary FROM revisions WHERE number = ?", (number,)).fetchone()
    if row is None:
        raise RevisionNotFoundError(number, head(conn))
    if embedded_base.base(conn) == number:
        changes = [(entity, data) for entity, _key, data in embedded_base.records(conn)]
    else:
        changes = conn.execute(
            "SELECT entity, data FROM revision_changes WHERE revision = ?", (number,)
        ).fetchall()
    return history.revision_from(row[0], changes)


def node_history(conn: sqlite3.Connection, ref: NodeRef) -> list[NodeHistoryEntry]:
    """Every revision that changed ``ref``, oldest first."""
    rows = conn.execute(
        "SELECT r.summary, c.data FROM revision_changes c JOIN revisions r "
        "ON r.number = c.revision WHERE c.entity = 'node' AND c.key = ? ORDER BY r.number",
        (str(ref),),
    ).fetchall()
    first = embedded_base.base(conn)
    if first is not None:
        data = embedded_base.record_of(conn, "node", str(ref))
        if data is not None:
            summary = conn.execute(
                "SELECT summary FROM revisions WHERE number = ?", (first,)
            ).fetchone()
            rows.insert(0, (summary[0], data))
    return [
        NodeHistoryEntry(
            revision=RevisionSummary.model_validate_json(s),
            change=NodeChange.model_validate_json(d),
        )
        for s, d in rows
    ]


def node_at(conn: sqlite3.Connection, ref: NodeRef, number: int) -> BaseNode | None:
    _require(conn, number)
    row = conn.execute(
        "SELECT data FROM revision_changes WHERE entity = 'node' AND key = ? AND revision <= ? "
        "ORDER BY revision DESC LIMIT 1",
        (str(ref), number),
    ).fetchone()
    if row is None:
        first = embedded_base.base(conn)
        if first is not None and first <= number:  # as the base revision left it
            return history.node_as_of(ref, embedded_base.record_of(conn, "node", str(ref)))
    return history.node_as_of(ref, row[0] if row else None)


def catalog_at(conn: sqlite3.Connection, number: int) -> CatalogGraph:
    """The whole catalog as it was after revision ``number``."""
    row = _require(conn, number)
    summary = RevisionSummary.model_validate_json(row[0])
    latest = conn.execute(
        "SELECT c.entity, c.data FROM revision_changes c JOIN ("
        "  SELECT entity, key, max(revision) AS revision FROM revision_changes "
        "  WHERE revision <= ? GROUP BY entity, key"
        ") m ON m.entity = c.entity AND m.key = c.key AND m.revision = c.revision",
        (number,),
    ).fetchall()
    first = embedded_base.base(conn)
    if first is not None and first <= number:  # what no stored record after it changed
        seen = set(
            conn.execute(
                "SELECT DISTINCT entity, key FROM revision_changes WHERE revision <= ?", (number,)
            ).fetchall()
        )
        latest += [
            (entity, data)
            for entity, key, data in embedded_base.records(conn)
            if (entity, key) not in seen
        ]
    meta = json.loads(row[1] or "{}")
    return history.catalog_from_changes(summary.catalog or "", meta, latest)


def _require(conn: sqlite3.Connection, number: int) -> tuple[str, str]:
    row = conn.execute("SELECT summary, meta FROM revisions WHERE number = ?", (number,)).fetchone()
    if row is None:
        raise RevisionNotFoundError(number, head(conn))
    return (row[0], row[1])
