"""Revision 1 of the embedded store kept compactly: its change records are not written.

A first load's revision adds every node and edge of the graph, so each of its change records
would repeat the row written beside it (at L 1.7 million records: two thirds of the first
load's SQLite writes). Such a revision is marked in ``base_revisions`` instead, and its records
are derived when read: what an entity was after it is the ``old`` side of the entity's first
recorded change (every later write of a row records a change whose ``old`` is the row as it
was), or its stored row when no change was recorded since; an entity whose first recorded
change adds it was not in it. The records read are those a stored revision 1 holds — the same
JSON (:func:`store.history.added_record`), so every history answer is the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from store import history

SCHEMA = """
CREATE TABLE IF NOT EXISTS base_revisions (number INTEGER PRIMARY KEY);
"""

#: ``(entity, key, data)``: one change record of a base revision
Record = tuple[str, str, str]


def mark(conn: sqlite3.Connection, number: int) -> None:
    """Record revision ``number`` as a base revision (inside the load's transaction)."""
    conn.execute("INSERT INTO base_revisions (number) VALUES (?)", (number,))


def base(conn: sqlite3.Connection) -> int | None:
    """The base revision's number (``None``: every revision's records are stored)."""
    row = conn.execute("SELECT min(number) FROM base_revisions").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def record_of(conn: sqlite3.Connection, entity: str, key: str) -> str | None:
    """The base revision's change record of one node or edge (``None``: not in it)."""
    first = conn.execute(
        "SELECT op, data FROM revision_changes WHERE entity = ? AND key = ? "
        "ORDER BY revision LIMIT 1",
        (entity, key),
    ).fetchone()
    if first is not None:
        op, data = first
        if op == "added":
            return None
        return history.added_as_old(entity, key, data)
    if entity == "node":
        kind, _, node_id = key.partition(":")
        row = conn.execute(
            "SELECT props FROM nodes WHERE kind = ? AND id = ?", (kind, node_id)
        ).fetchone()
    else:
        source, rtype, target = key.split("|", 2)
        row = conn.execute(
            "SELECT props FROM edges WHERE source = ? AND target = ? AND type = ?",
            (source, target, rtype),
        ).fetchone()
    return history.added_record(entity, key, row[0]) if row is not None else None


def records(conn: sqlite3.Connection) -> Iterator[Record]:
    """Every change record of the base revision."""
    recorded: set[tuple[str, str]] = set()
    firsts = conn.execute(
        "SELECT c.entity, c.key, c.op, c.data FROM revision_changes c JOIN ("
        "  SELECT entity, key, min(revision) AS revision FROM revision_changes "
        "  GROUP BY entity, key"
        ") m ON m.entity = c.entity AND m.key = c.key AND m.revision = c.revision"
    ).fetchall()
    for entity, key, op, data in firsts:
        recorded.add((entity, key))
        if op != "added":
            yield entity, key, history.added_as_old(entity, key, data)
    for kind, node_id, props in conn.execute("SELECT kind, id, props FROM nodes"):
        key = f"{kind}:{node_id}"
        if ("node", key) not in recorded:
            yield "node", key, history.added_record("node", key, props)
    for source, target, rtype, props in conn.execute(
        "SELECT source, target, type, props FROM edges"
    ):
        key = f"{source}|{rtype}|{target}"
        if ("edge", key) not in recorded:
            yield "edge", key, history.added_record("edge", key, props)
