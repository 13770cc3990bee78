"""The :class:`Ledger` seam: the governance records kept beside the graph, in the same store.

Users, change requests with their timeline, comments, the notification outbox, usage counts and
the nonces of signed callbacks (one replay guard for every server process on the store).
Both backends implement it (:mod:`store.embedded_ledger` in the SQLite file of the embedded
store, :mod:`store.neo4j_ledger` in the Neo4j database) and pass one contract suite
(``tests/contract/test_ledger.py``). A change and its timeline event and outbox items are
written in one transaction (:meth:`Ledger.commit_change`); nothing is sent that was not
committed, and nothing committed is forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

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
from store.base import GraphStore


class ChangeConflictError(Exception):
    """Raised inside the ledger when a commit's expected ``seq`` is no longer current."""


@runtime_checkable
class Ledger(Protocol):
    backend: str

    # -- settings shared by every process on this store
    def secret_key(self) -> str:
        """The session-signing key, made on first use and shared through the store."""

    # -- users
    def add_user(self, user: User, secret_hash: str) -> None:
        """Insert ``user``; ``KeyError`` when an active user of that name exists."""

    def user_by_token_id(self, token_id: str) -> tuple[User, str] | None:
        """The user holding that token id and its stored secret hash (active or not)."""

    def user(self, name: str) -> User | None:
        """The active user called ``name``."""

    def users(self) -> list[User]:
        """All users, revoked included, by name."""

    def revoke_user(self, name: str, at: str) -> bool:
        """Mark the active user ``name`` revoked; ``False`` when there is none."""

    def end_sessions(self, token_id: str) -> bool:
        """Bump the session epoch of the user of ``token_id`` (every session cookie issued
        before is refused from now on); ``False`` when there is no such user."""

    # -- change requests
    def next_change_id(self) -> int: ...

    def commit_change(
        self,
        change: ChangeRequest,
        expected_seq: int | None,
        event: ChangeEvent,
        outbox: list[OutboxItem],
    ) -> bool:
        """Write ``change`` (its ``seq`` already bumped), its timeline ``event`` and the
        ``outbox`` items in one transaction, provided the stored request still has
        ``expected_seq`` (``None``: it must not exist yet). ``False`` when another writer won."""

    def submit_change(
        self, commit: LedgerCommit, same: Callable[[ChangeRequest], bool]
    ) -> ChangeRequest | None:
        """Write a new request (``commit.expected_seq`` is ``None``) with its event and outbox
        in one transaction, unless a stored request on the same ref is ``same`` as it: that
        request is returned and nothing is written. The check and the write are one
        transaction, serialised with every other submit, so of two processes submitting the
        same proposal at once one writes and the other gets the first's request. ``same``
        may be called again when the store retries, so it must only compute."""

    def change(self, change_id: int) -> ChangeRequest | None: ...

    def changes(self, status: str | None = None, ref: str | None = None) -> list[ChangeRequest]:
        """Requests, newest first, optionally filtered."""

    def events(self, change_id: int) -> list[ChangeEvent]:
        """The timeline of one request, oldest first."""

    # -- comments
    def next_comment_id(self) -> int: ...

    def put_comment(self, comment: Comment, expected: Comment | None = None) -> bool:
        """Insert or replace a comment (by id). With ``expected``: only if the stored comment
        is still exactly ``expected`` (compare-and-set, so that an edit made from an old read
        cannot undo a deletion another process made meanwhile); ``False``, nothing written,
        otherwise."""

    def comment(self, comment_id: int) -> Comment | None: ...

    def comments(self, metric: str | None = None) -> list[Comment]:
        """Comments of ``metric`` (all when ``None``), oldest first."""

    # -- outbox
    def outbox(self, status: OutboxStatus | None = None, limit: int = 200) -> list[OutboxItem]:
        """Items, newest first."""

    def claim_due(self, now: str, lease_until: str, limit: int = 20) -> list[OutboxItem]:
        """Pending items whose ``next_at`` has come, oldest first, each moved to
        ``next_at = lease_until`` in the same transaction, so that two delivering processes
        never take the same item (an item whose deliverer died comes due again after the
        lease)."""

    def update_outbox(self, item: OutboxItem) -> None:
        """Replace an item's delivery state (by id)."""

    def enqueue(self, items: list[OutboxItem]) -> int:
        """Add notifications that belong to no change request (reports, review notices, #28)
        in one transaction; an item whose key is already there is skipped. Returns how many
        were added."""

    # -- usage
    def count_use(self, day: str, metric: str, kind: str, n: int = 1) -> None:
        """Add ``n`` to the per-day use counter of ``metric`` (``kind``: view, api, ask)."""

    def usage(self, since: str) -> list[tuple[str, str, str, int]]:
        """``(day, metric, kind, count)`` rows from ``since`` (a day) on."""

    # -- nonces: signed requests already seen, shared by every process on this store
    def claim_nonce(self, scope: str, key: str, expires_at: float) -> bool:
        """Record ``key`` (in ``scope``, e.g. a chat platform) as used until ``expires_at``
        (Unix seconds), atomically: ``True`` for the first claim, ``False`` while an earlier
        claim has not expired — whichever process, thread or server made it. Expired entries
        are swept a bounded number at a time on each claim."""

    # -- programme progress (#28): cards read, quiz results
    def put_progress(self, record: ProgressRecord) -> None:
        """Store ``record``, replacing the one with the same (user, kind, key)."""

    def change_progress(
        self,
        user: str,
        kind: ProgressKind,
        key: str,
        change: Callable[[ProgressRecord | None], ProgressRecord],
    ) -> ProgressRecord:
        """Read, change and store the record (``user``, ``kind``, ``key``) in one transaction:
        ``change`` gets the stored record (``None`` when there is none) under its write lock
        and returns the record to store (same user, kind and key), which is returned. Two
        processes changing one record at once both keep their change; ``change`` may be
        called again when the store retries, so it must only compute."""

    def progress(self, kind: str, user: str | None = None) -> list[ProgressRecord]:
        """The records of ``kind`` (of ``user`` only, when given), by user then key."""

    def close(self) -> None: ...


def ledger_for(store: GraphStore) -> Ledger:
    """The ledger living in the same store as ``store``'s graph."""
    if store.backend == "embedded":
        from store.embedded_ledger import EmbeddedLedger

        path = store.path  # type: ignore[attr-defined]
        return EmbeddedLedger(path)
    if store.backend == "neo4j":
        from store.neo4j_ledger import Neo4jLedger

        driver, database, uri = store.driver, store.database, store.uri  # type: ignore[attr-defined]
        return Neo4jLedger(driver, database, uri)
    raise ValueError(f"no ledger for backend {store.backend!r}")


def check_same_progress(record: ProgressRecord, user: str, kind: ProgressKind, key: str) -> None:
    """``ValueError`` when a :meth:`Ledger.change_progress` callback returned another record's
    identity (a bug of the caller: it would write a record it never read)."""
    if (record.user, record.kind, record.key) != (user, kind, key):
        raise ValueError(
            f"change_progress({user!r}, {kind.value!r}, {key!r}) returned the record of "
            f"({record.user!r}, {record.kind.value!r}, {record.key!r})"
        )
