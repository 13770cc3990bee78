"""The ledger of the embedded backend: tables of their own in the store's SQLite file.

Every write is one ``BEGIN IMMEDIATE`` transaction, so several processes sharing the file see
each commit whole; a change request is written with its timeline event and outbox items
together, compare-and-set on its ``seq``.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from core.i18n import _
from graph_schema.errors import BackendUnavailableError
from graph_schema.governance import (
    ChangeEvent,
    ChangeRequest,
    Comment,
    LedgerCommit,
    OutboxItem,
    OutboxStatus,
    User,
)
from graph_schema.programme import ProgressKind, ProgressRecord
from store.ledger import check_same_progress
from store.sqlite_file import opening, signature, unavailable

T = TypeVar("T")

#: Expired nonces deleted per claim: bounded work on each callback, still faster than they come.
NONCE_SWEEP = 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS gov_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gov_users (
    token_id TEXT PRIMARY KEY, name TEXT NOT NULL, active INTEGER NOT NULL,
    secret_hash TEXT NOT NULL, data TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS gov_users_active ON gov_users (name) WHERE active = 1;
CREATE TABLE IF NOT EXISTS gov_changes (
    id INTEGER PRIMARY KEY, ref TEXT NOT NULL, status TEXT NOT NULL, seq INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gov_events (
    change_id INTEGER NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (change_id, seq)
);
CREATE TABLE IF NOT EXISTS gov_comments (
    id INTEGER PRIMARY KEY, metric TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gov_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    next_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gov_usage (
    day TEXT NOT NULL, metric TEXT NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (day, metric, kind)
);
CREATE TABLE IF NOT EXISTS gov_nonces (
    scope TEXT NOT NULL, key TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS gov_nonces_expiry ON gov_nonces (expires_at);
CREATE TABLE IF NOT EXISTS gov_progress (
    user TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (user, kind, key)
);
"""


class EmbeddedLedger:
    """:class:`~store.ledger.Ledger` over the embedded store's SQLite file."""

    backend = "embedded"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None

    def _drop(self) -> None:
        """Forget the connection (after an error, or when the file was replaced): the next
        call opens the file anew instead of failing forever or holding its lock."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None
        self._file_id = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            try:
                same = signature(self.path).file_id == self._file_id
            except OSError:
                same = False
            if not same:
                self._drop()
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with opening(self.path):  # never while the store's handle opens the file
                    conn = sqlite3.connect(
                        self.path, isolation_level=None, check_same_thread=False, timeout=30
                    )
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.executescript(SCHEMA)
            except (sqlite3.Error, OSError) as exc:
                raise BackendUnavailableError(
                    _("cannot open the ledger in {path}: {error}", path=self.path, error=exc),
                    {"path": str(self.path)},
                ) from exc
            self._conn = conn
            with contextlib.suppress(OSError):
                self._file_id = signature(self.path).file_id
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.IntegrityError):
                    raise KeyError(str(exc)) from exc
                if isinstance(exc, sqlite3.Error):
                    self._drop()
                    raise unavailable(self.path, exc) from exc
                raise

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return fn(self._connection())
            except sqlite3.Error as exc:
                self._drop()
                raise unavailable(self.path, exc) from exc

    def _rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self._read(lambda c: c.execute(sql, params).fetchall())

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- meta -----------------------------------------------------------------------------------

    def secret_key(self) -> str:
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO gov_meta VALUES ('secret_key', ?)",
                (secrets.token_urlsafe(48),),
            )
            row = conn.execute("SELECT value FROM gov_meta WHERE key='secret_key'").fetchone()
        return str(row[0])

    def _next_id(self, counter: str) -> int:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO gov_meta VALUES (?, '1') ON CONFLICT(key) DO UPDATE "
                "SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
                (counter,),
            )
            row = conn.execute("SELECT value FROM gov_meta WHERE key=?", (counter,)).fetchone()
        return int(row[0])

    # -- users ----------------------------------------------------------------------------------

    def add_user(self, user: User, secret_hash: str) -> None:
        with self._write() as conn:
            # active names are unique ignoring case (names are ASCII or CJK: lower() suffices)
            clash = conn.execute(
                "SELECT name FROM gov_users WHERE active = 1 AND lower(name) = lower(?)",
                (user.name,),
            ).fetchone()
            if clash is not None:
                raise KeyError(_("an active user {clash} exists", clash=repr(clash[0])))
            conn.execute(
                "INSERT INTO gov_users VALUES (?, ?, 1, ?, ?)",
                (user.token_id, user.name, secret_hash, user.model_dump_json()),
            )

    def user_by_token_id(self, token_id: str) -> tuple[User, str] | None:
        rows = self._rows("SELECT data, secret_hash FROM gov_users WHERE token_id=?", token_id)
        return (User.model_validate_json(rows[0][0]), rows[0][1]) if rows else None

    def user(self, name: str) -> User | None:
        rows = self._rows("SELECT data FROM gov_users WHERE name=? AND active=1", name)
        return User.model_validate_json(rows[0][0]) if rows else None

    def users(self) -> list[User]:
        rows = self._rows("SELECT data FROM gov_users")
        found = [User.model_validate_json(r[0]) for r in rows]
        return sorted(found, key=lambda u: (u.name, u.created_at, u.token_id))  # a total order

    def revoke_user(self, name: str, at: str) -> bool:
        with self._write() as conn:
            row = conn.execute(
                "SELECT token_id, data FROM gov_users WHERE name=? AND active=1", (name,)
            ).fetchone()
            if row is None:
                return False
            user = User.model_validate_json(row[1]).model_copy(update={"revoked_at": at})
            conn.execute(
                "UPDATE gov_users SET active=0, data=? WHERE token_id=?",
                (user.model_dump_json(), row[0]),
            )
        return True

    def end_sessions(self, token_id: str) -> bool:
        with self._write() as conn:
            row = conn.execute(
                "SELECT data FROM gov_users WHERE token_id=?", (token_id,)
            ).fetchone()
            if row is None:
                return False
            user = User.model_validate_json(row[0])
            bumped = user.model_copy(update={"session_epoch": user.session_epoch + 1})
            conn.execute(
                "UPDATE gov_users SET data=? WHERE token_id=?",
                (bumped.model_dump_json(), token_id),
            )
        return True

    # -- change requests ------------------------------------------------------------------------

    def next_change_id(self) -> int:
        return self._next_id("change_counter")

    def commit_change(
        self,
        change: ChangeRequest,
        expected_seq: int | None,
        event: ChangeEvent,
        outbox: list[OutboxItem],
    ) -> bool:
        with self._write() as conn:
            return write_change(conn, LedgerCommit(change, expected_seq, event, outbox))

    def submit_change(
        self, commit: LedgerCommit, same: Callable[[ChangeRequest], bool]
    ) -> ChangeRequest | None:
        with self._write() as conn:  # BEGIN IMMEDIATE: one submitter at a time, every process
            rows = conn.execute(
                "SELECT data FROM gov_changes WHERE ref=? ORDER BY id", (commit.change.ref,)
            ).fetchall()
            for (data,) in rows:
                stored = ChangeRequest.model_validate_json(data)
                if same(stored):
                    return stored
            if not write_change(conn, commit):
                raise ValueError(f"change request #{commit.change.id} exists already")
            return None

    def change(self, change_id: int) -> ChangeRequest | None:
        rows = self._rows("SELECT data FROM gov_changes WHERE id=?", change_id)
        return ChangeRequest.model_validate_json(rows[0][0]) if rows else None

    def changes(self, status: str | None = None, ref: str | None = None) -> list[ChangeRequest]:
        sql = "SELECT data FROM gov_changes WHERE (?1 IS NULL OR status=?1) AND "
        sql += "(?2 IS NULL OR ref=?2) ORDER BY id DESC"
        return [ChangeRequest.model_validate_json(r[0]) for r in self._rows(sql, status, ref)]

    def events(self, change_id: int) -> list[ChangeEvent]:
        rows = self._rows("SELECT data FROM gov_events WHERE change_id=? ORDER BY seq", change_id)
        return [ChangeEvent.model_validate_json(r[0]) for r in rows]

    # -- comments -------------------------------------------------------------------------------

    def next_comment_id(self) -> int:
        return self._next_id("comment_counter")

    def put_comment(self, comment: Comment, expected: Comment | None = None) -> bool:
        with self._write() as conn:  # BEGIN IMMEDIATE: the check and the write are one
            if expected is not None:
                row = conn.execute(
                    "SELECT data FROM gov_comments WHERE id=?", (comment.id,)
                ).fetchone()
                if row is None or Comment.model_validate_json(row[0]) != expected:
                    return False
            conn.execute(
                "INSERT OR REPLACE INTO gov_comments VALUES (?, ?, ?)",
                (comment.id, comment.metric, comment.model_dump_json()),
            )
        return True

    def comment(self, comment_id: int) -> Comment | None:
        rows = self._rows("SELECT data FROM gov_comments WHERE id=?", comment_id)
        return Comment.model_validate_json(rows[0][0]) if rows else None

    def comments(self, metric: str | None = None) -> list[Comment]:
        rows = self._rows(
            "SELECT data FROM gov_comments WHERE (?1 IS NULL OR metric=?1) ORDER BY id", metric
        )
        return [Comment.model_validate_json(r[0]) for r in rows]

    # -- outbox ---------------------------------------------------------------------------------

    def _outbox_item(self, row: tuple[Any, ...]) -> OutboxItem:
        return OutboxItem.model_validate_json(row[1]).model_copy(update={"id": int(row[0])})

    def outbox(self, status: OutboxStatus | None = None, limit: int = 200) -> list[OutboxItem]:
        rows = self._rows(
            "SELECT id, data FROM gov_outbox WHERE (?1 IS NULL OR status=?1) "
            "ORDER BY id DESC LIMIT ?2",
            status.value if status else None,
            limit,
        )
        return [self._outbox_item(r) for r in rows]

    def claim_due(self, now: str, lease_until: str, limit: int = 20) -> list[OutboxItem]:
        with self._write() as conn:
            rows = conn.execute(
                "SELECT id, data FROM gov_outbox WHERE status='pending' AND next_at <= ? "
                "ORDER BY id LIMIT ?",
                (now, limit),
            ).fetchall()
            items = []
            for row in rows:
                item = self._outbox_item(row).model_copy(update={"next_at": lease_until})
                conn.execute(
                    "UPDATE gov_outbox SET next_at=?, data=? WHERE id=?",
                    (lease_until, item.model_dump_json(), item.id),
                )
                items.append(item)
        return items

    def enqueue(self, items: list[OutboxItem]) -> int:
        added = 0
        with self._write() as conn:
            for item in items:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO gov_outbox (key, status, next_at, data) "
                    "VALUES (?, ?, ?, ?)",
                    (item.key, item.status.value, item.next_at, item.model_dump_json()),
                )
                added += cur.rowcount
        return added

    def update_outbox(self, item: OutboxItem) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE gov_outbox SET status=?, next_at=?, data=? WHERE id=?",
                (item.status.value, item.next_at, item.model_dump_json(), item.id),
            )

    # -- usage ----------------------------------------------------------------------------------

    def count_use(self, day: str, metric: str, kind: str, n: int = 1) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO gov_usage VALUES (?, ?, ?, ?) ON CONFLICT(day, metric, kind) "
                "DO UPDATE SET n = n + excluded.n",
                (day, metric, kind, n),
            )

    def usage(self, since: str) -> list[tuple[str, str, str, int]]:
        rows = self._rows(
            "SELECT day, metric, kind, n FROM gov_usage WHERE day >= ? ORDER BY day, metric, kind",
            since,
        )
        return [(str(d), str(m), str(k), int(n)) for d, m, k, n in rows]

    # -- nonces ---------------------------------------------------------------------------------

    def claim_nonce(self, scope: str, key: str, expires_at: float) -> bool:
        now = time.time()
        with self._write() as conn:  # BEGIN IMMEDIATE: one claimer at a time, every process
            conn.execute(
                "DELETE FROM gov_nonces WHERE rowid IN "
                "(SELECT rowid FROM gov_nonces WHERE expires_at <= ? LIMIT ?)",
                (now, NONCE_SWEEP),
            )
            cur = conn.execute(  # inserted, or an expired claim taken over: one row changed
                "INSERT INTO gov_nonces VALUES (?, ?, ?) ON CONFLICT (scope, key) "
                "DO UPDATE SET expires_at = excluded.expires_at WHERE gov_nonces.expires_at <= ?",
                (scope, key, expires_at, now),
            )
            return cur.rowcount == 1

    # -- programme progress (#28) ---------------------------------------------------------------

    def put_progress(self, record: ProgressRecord) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO gov_progress VALUES (?, ?, ?, ?)",
                (record.user, record.kind.value, record.key, record.model_dump_json()),
            )

    def change_progress(
        self,
        user: str,
        kind: ProgressKind,
        key: str,
        change: Callable[[ProgressRecord | None], ProgressRecord],
    ) -> ProgressRecord:
        with self._write() as conn:  # BEGIN IMMEDIATE: the read and the write are one
            row = conn.execute(
                "SELECT data FROM gov_progress WHERE user = ? AND kind = ? AND key = ?",
                (user, kind.value, key),
            ).fetchone()
            record = change(ProgressRecord.model_validate_json(row[0]) if row else None)
            check_same_progress(record, user, kind, key)
            conn.execute(
                "INSERT OR REPLACE INTO gov_progress VALUES (?, ?, ?, ?)",
                (record.user, record.kind.value, record.key, record.model_dump_json()),
            )
        return record

    def progress(self, kind: str, user: str | None = None) -> list[ProgressRecord]:
        rows = self._rows(
            "SELECT data FROM gov_progress WHERE kind = ? AND (? IS NULL OR user = ?) "
            "ORDER BY user, key",
            kind,
            user,
            user,
        )
        return [ProgressRecord.model_validate_json(r[0]) for r in rows]


def write_change(conn: sqlite3.Connection, commit: LedgerCommit) -> bool:
    """Write ``commit`` inside the caller's transaction on ``conn``, compare-and-set on the
    request's ``seq``; ``False`` (nothing written) when the request moved. The ledger uses it
    for every transition, the store for an apply (in the revision's transaction)."""
    change = commit.change
    row = conn.execute("SELECT seq FROM gov_changes WHERE id=?", (change.id,)).fetchone()
    current = None if row is None else int(row[0])
    if current != commit.expected_seq:
        return False
    conn.execute(
        "INSERT OR REPLACE INTO gov_changes VALUES (?, ?, ?, ?, ?)",
        (change.id, change.ref, change.status.value, change.seq, change.model_dump_json()),
    )
    event = commit.event
    conn.execute(
        "INSERT INTO gov_events VALUES (?, ?, ?)",
        (event.change_id, event.seq, event.model_dump_json()),
    )
    for item in commit.outbox:
        conn.execute(
            "INSERT OR IGNORE INTO gov_outbox (key, status, next_at, data) VALUES (?, ?, ?, ?)",
            (item.key, item.status.value, item.next_at, item.model_dump_json()),
        )
    return True
