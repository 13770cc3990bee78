"""The embedded store's conflict-key index (issue #23): a table of (key, metric id) —
:func:`graph_schema.rules.conflict.stored_keys` of every metric — written in the transaction of
every load and delta, so that a proposal finds the metrics sharing a conflict key with it by a
keyed lookup (:meth:`store.base.GraphReader.metrics_keyed`) instead of reading every metric.

A file written before the index existed has no ``conflict_keys`` meta row: its lookups read the
metrics of the graph held in memory instead (:func:`store.base.keyed`), until a load writes the
whole table (a delta alone keeps it as it was, incomplete)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from typing import Any

from graph_schema.diff import GraphDiff
from graph_schema.ids import NodeKind
from graph_schema.models import BaseNode, Metric, node_from_props
from graph_schema.rules.conflict import stored_keys

SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_keys (
    key TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (key, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS metric_keys_id ON metric_keys (id);
"""
#: the meta row saying the table holds every metric of the file's graph
MARK = "conflict_keys"
#: keys per ``IN (...)`` of a lookup (SQLite's default limit of parameters is 32,766)
CHUNK = 500


def complete(conn: sqlite3.Connection) -> bool:
    """Whether the table holds every metric (read inside the writer's transaction)."""
    return conn.execute("SELECT 1 FROM meta WHERE key = ?", (MARK,)).fetchone() is not None


def rows_of(nodes: Iterable[BaseNode]) -> list[tuple[str, str]]:
    return [(k, n.id) for n in nodes if isinstance(n, Metric) for k in stored_keys(n)]


def write_all(conn: sqlite3.Connection, nodes: Iterable[BaseNode]) -> None:
    """The table of a whole graph's ``nodes`` (in the caller's transaction)."""
    conn.execute("DELETE FROM metric_keys")
    conn.executemany("INSERT OR IGNORE INTO metric_keys VALUES (?, ?)", rows_of(nodes))


def write_diff(conn: sqlite3.Connection, diff: GraphDiff) -> None:
    """The keys of the metrics ``diff`` adds, changes or removes (in the caller's
    transaction): only the rows of keys that changed are written."""
    prefix = f"{NodeKind.METRIC.value}:"
    for c in diff.nodes:
        if not c.ref.startswith(prefix):
            continue
        mid = c.ref[len(prefix) :]
        old = {r[0] for r in conn.execute("SELECT key FROM metric_keys WHERE id = ?", (mid,))}
        node = node_from_props(NodeKind.METRIC, c.new) if c.new is not None else None
        new = set(stored_keys(node)) if isinstance(node, Metric) else set()
        conn.executemany(
            "DELETE FROM metric_keys WHERE key = ? AND id = ?", [(k, mid) for k in old - new]
        )
        conn.executemany(
            "INSERT OR IGNORE INTO metric_keys VALUES (?, ?)", [(k, mid) for k in new - old]
        )


def lookup(conn: sqlite3.Connection, generation: str, keys: Collection[str]) -> list[str] | None:
    """The ids of the metrics indexed by one of ``keys`` in the file's graph, if it is the
    generation ``generation`` and its table is complete (else ``None``), in one read
    transaction."""
    conn.execute("BEGIN")
    try:
        meta: dict[str, Any] = dict(
            conn.execute(
                "SELECT key, value FROM meta WHERE key IN ('generation', ?)", (MARK,)
            ).fetchall()
        )
        if meta.get("generation") != generation or MARK not in meta:
            return None
        wanted = sorted(set(keys))
        found: set[str] = set()
        for i in range(0, len(wanted), CHUNK):
            chunk = wanted[i : i + CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT DISTINCT id FROM metric_keys WHERE key IN ({marks})"
            found.update(row[0] for row in conn.execute(query, chunk))
        return sorted(found)
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
