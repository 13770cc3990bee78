"""The ledger of the Neo4j backend: records as nodes with labels of their own (``GovChange``,
``GovEvent``, ``GovOutbox``...) in the same database as the graph, so several API processes
share it. Every write is one managed transaction; a change request, its timeline event and its
outbox items commit together, compare-and-set on the request's ``seq`` under its write lock.
All Cypher is in :mod:`store.neo4j_ledger_cypher`."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

from neo4j import Driver, ManagedTransaction
from neo4j.exceptions import ConstraintError, DriverError, Neo4jError, ServiceUnavailable

from graph_schema.errors import BackendUnavailableError, StoreError
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
from store import neo4j_ledger_cypher as cy
from store.ledger import check_same_progress

T = TypeVar("T")

#: Expired nonces deleted per claim (as :data:`store.embedded_ledger.NONCE_SWEEP`).
NONCE_SWEEP = 64
#: claims of one nonce whose node a concurrent sweep deleted, before giving up
NONCE_ATTEMPTS = 5


class Neo4jLedger:
    """:class:`~store.ledger.Ledger` in a Neo4j database, over the graph store's driver."""

    backend = "neo4j"

    def __init__(self, driver: Driver, database: str = "neo4j", uri: str = "neo4j") -> None:
        self.driver = driver
        self.database = database
        self.uri = uri
        self._ready = False

    def _guard(self, action: Callable[[], T]) -> T:
        try:
            if not self._ready:
                for statement in cy.LEDGER_CONSTRAINTS:
                    self.driver.execute_query(statement, database_=self.database)
                self._ready = True
            return action()
        except (ServiceUnavailable, OSError) as exc:
            raise BackendUnavailableError(f"cannot reach Neo4j at {self.uri}: {exc}") from exc
        except ConstraintError as exc:
            raise KeyError(str(exc)) from exc
        except (Neo4jError, DriverError) as exc:
            raise StoreError(f"ledger in Neo4j at {self.uri} failed: {exc}") from exc

    def _write(self, work: Callable[[ManagedTransaction], T]) -> T:
        def run() -> T:
            with self.driver.session(database=self.database) as session:
                return session.execute_write(work)

        return self._guard(run)

    def _read(self, query: str, **params: Any) -> list[Any]:
        def run() -> list[Any]:
            with self.driver.session(database=self.database) as session:
                return session.execute_read(lambda tx: list(tx.run(query, params)))

        return self._guard(run)

    def close(self) -> None:
        """The driver belongs to the graph store, which closes it."""

    def clear(self) -> None:
        """Remove every ledger record (tests)."""
        self._write(lambda tx: tx.run(cy.GOV_CLEAR).consume())

    # -- meta -----------------------------------------------------------------------------------

    def secret_key(self) -> str:
        value = secrets.token_urlsafe(48)
        return str(self._write(lambda tx: _one(tx, cy.GOV_SECRET, value=value)["value"]))

    def _next_id(self, counter: str) -> int:
        return int(self._write(lambda tx: _one(tx, cy.GOV_NEXT_ID, counter=counter)["value"]))

    # -- users ----------------------------------------------------------------------------------

    def add_user(self, user: User, secret_hash: str) -> None:
        def work(tx: ManagedTransaction) -> bool:
            # every add takes one node's write lock first, so two adds of names that differ
            # only by case run one after the other and the second sees the first (the name
            # check alone read before either had committed: both were created)
            tx.run(cy.GOV_LOCK_USERS).consume()
            rec = tx.run(
                cy.GOV_ADD_USER,
                token_id=user.token_id,
                name=user.name,
                secret_hash=secret_hash,
                data=user.model_dump_json(),
            ).single()
            return rec is not None

        if not self._write(work):
            raise KeyError(f"an active user {user.name!r} exists")

    def user_by_token_id(self, token_id: str) -> tuple[User, str] | None:
        rows = self._read(cy.GOV_USER_BY_TOKEN, token_id=token_id)
        return (User.model_validate_json(rows[0]["data"]), rows[0]["h"]) if rows else None

    def user(self, name: str) -> User | None:
        rows = self._read(cy.GOV_USER_BY_NAME, name=name)
        return User.model_validate_json(rows[0]["data"]) if rows else None

    def users(self) -> list[User]:
        found = [User.model_validate_json(r["data"]) for r in self._read(cy.GOV_USERS)]
        return sorted(found, key=lambda u: (u.name, u.created_at, u.token_id))  # a total order

    def revoke_user(self, name: str, at: str) -> bool:
        def work(tx: ManagedTransaction) -> bool:
            rec = tx.run(cy.GOV_LOCK_USER, name=name).single()
            if rec is None:
                return False
            user = User.model_validate_json(rec["data"]).model_copy(update={"revoked_at": at})
            tx.run(
                cy.GOV_SET_USER, token_id=user.token_id, active=False, data=user.model_dump_json()
            ).consume()
            return True

        return self._write(work)

    def end_sessions(self, token_id: str) -> bool:
        def work(tx: ManagedTransaction) -> bool:
            rec = tx.run(cy.GOV_LOCK_USER_BY_TOKEN, token_id=token_id).single()
            if rec is None:
                return False
            user = User.model_validate_json(rec["data"])
            bumped = user.model_copy(update={"session_epoch": user.session_epoch + 1})
            tx.run(
                cy.GOV_SET_USER,
                token_id=token_id,
                active=bool(rec["active"]),
                data=bumped.model_dump_json(),
            ).consume()
            return True

        return self._write(work)

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
        commit = LedgerCommit(change, expected_seq, event, outbox)
        return self._write_cas(lambda tx: write_change(tx, commit))

    def submit_change(
        self, commit: LedgerCommit, same: Callable[[ChangeRequest], bool]
    ) -> ChangeRequest | None:
        def work(tx: ManagedTransaction) -> ChangeRequest | None:
            # every submit takes one node's write lock first, so two submits of the same
            # proposal run one after the other and the second reads the first's request
            tx.run(cy.GOV_LOCK_SUBMITS).consume()
            for rec in tx.run(cy.GOV_CHANGES, status=None, ref=commit.change.ref):
                stored = ChangeRequest.model_validate_json(rec["data"])
                if same(stored):
                    return stored
            if not write_change(tx, commit):
                raise ValueError(f"change request #{commit.change.id} exists already")
            return None

        return self._write(work)

    def _write_cas(self, work: Callable[[ManagedTransaction], bool]) -> bool:
        """A write whose ``False`` answer must leave nothing behind: the work raises to roll
        back (a managed transaction commits whatever ran when the function returns)."""

        class _Lost(Exception):
            pass

        def wrapped(tx: ManagedTransaction) -> bool:
            if not work(tx):
                raise _Lost
            return True

        try:
            return self._write(wrapped)
        except _Lost:
            return False

    def change(self, change_id: int) -> ChangeRequest | None:
        rows = self._read(cy.GOV_CHANGE, id=change_id)
        return ChangeRequest.model_validate_json(rows[0]["data"]) if rows else None

    def changes(self, status: str | None = None, ref: str | None = None) -> list[ChangeRequest]:
        rows = self._read(cy.GOV_CHANGES, status=status, ref=ref)
        return [ChangeRequest.model_validate_json(r["data"]) for r in rows]

    def events(self, change_id: int) -> list[ChangeEvent]:
        rows = self._read(cy.GOV_EVENTS, id=change_id)
        return [ChangeEvent.model_validate_json(r["data"]) for r in rows]

    # -- comments -------------------------------------------------------------------------------

    def next_comment_id(self) -> int:
        return self._next_id("comment_counter")

    def put_comment(self, comment: Comment, expected: Comment | None = None) -> bool:
        def work(tx: ManagedTransaction) -> bool:
            if expected is not None:  # lock the comment first (SET), then compare under it
                rec = tx.run(cy.GOV_LOCK_COMMENT, id=comment.id).single()
                if rec is None or Comment.model_validate_json(rec["data"]) != expected:
                    return False
            tx.run(
                cy.GOV_PUT_COMMENT,
                id=comment.id,
                metric=comment.metric,
                data=comment.model_dump_json(),
            ).consume()
            return True

        return self._write_cas(work)

    def comment(self, comment_id: int) -> Comment | None:
        rows = self._read(cy.GOV_COMMENT, id=comment_id)
        return Comment.model_validate_json(rows[0]["data"]) if rows else None

    def comments(self, metric: str | None = None) -> list[Comment]:
        return [
            Comment.model_validate_json(r["data"])
            for r in self._read(cy.GOV_COMMENTS, metric=metric)
        ]

    # -- outbox ---------------------------------------------------------------------------------

    @staticmethod
    def _item(rec: Any) -> OutboxItem:
        return OutboxItem.model_validate_json(rec["data"]).model_copy(update={"id": rec["id"]})

    def outbox(self, status: OutboxStatus | None = None, limit: int = 200) -> list[OutboxItem]:
        rows = self._read(cy.GOV_OUTBOX, status=status.value if status else None, limit=limit)
        return [self._item(r) for r in rows]

    def claim_due(self, now: str, lease_until: str, limit: int = 20) -> list[OutboxItem]:
        def work(tx: ManagedTransaction) -> list[OutboxItem]:
            rows = list(tx.run(cy.GOV_CLAIM_DUE, now=now, lease=lease_until, limit=limit))
            items = [self._item(r).model_copy(update={"next_at": lease_until}) for r in rows]
            for item in items:
                tx.run(
                    cy.GOV_UPDATE_OUTBOX,
                    id=item.id,
                    status=item.status.value,
                    next_at=item.next_at,
                    data=item.model_dump_json(),
                ).consume()
            return items

        return self._write(work)

    def update_outbox(self, item: OutboxItem) -> None:
        self._write(
            lambda tx: tx.run(
                cy.GOV_UPDATE_OUTBOX,
                id=item.id,
                status=item.status.value,
                next_at=item.next_at,
                data=item.model_dump_json(),
            ).consume()
        )

    # -- usage ----------------------------------------------------------------------------------

    def count_use(self, day: str, metric: str, kind: str, n: int = 1) -> None:
        key = f"{day}|{kind}|{metric}"
        self._write(
            lambda tx: tx.run(
                cy.GOV_COUNT_USE, key=key, day=day, metric=metric, kind=kind, n=n
            ).consume()
        )

    def usage(self, since: str) -> list[tuple[str, str, str, int]]:
        return [
            (r["day"], r["metric"], r["kind"], int(r["n"]))
            for r in self._read(cy.GOV_USAGE, since=since)
        ]

    # -- nonces ---------------------------------------------------------------------------------

    def claim_nonce(self, scope: str, key: str, expires_at: float) -> bool:
        node_key = f"{len(scope)}:{scope}:{key}"  # unambiguous whatever the scope holds

        class _Vanished(Exception):
            """A sweep deleted the node this claim had matched: roll back, claim again."""

        def work(tx: ManagedTransaction) -> bool:
            now = time.time()
            tx.run(cy.GOV_SWEEP_NONCES, now=now, key=node_key, limit=NONCE_SWEEP).consume()
            rec = _one(
                tx, cy.GOV_CLAIM_NONCE, key=node_key, scope=scope, now=now, expires_at=expires_at
            )
            if rec["claimed"] is None:
                raise _Vanished
            return bool(rec["claimed"])

        for _ in range(NONCE_ATTEMPTS):
            try:
                return self._write(work)
            except _Vanished:
                continue
        raise StoreError(f"ledger in Neo4j at {self.uri}: a nonce claim kept losing its node")

    # -- programme progress (#28) ---------------------------------------------------------------

    def put_progress(self, record: ProgressRecord) -> None:
        key = f"{record.user}|{record.kind.value}|{record.key}"
        self._write(
            lambda tx: tx.run(
                cy.GOV_PUT_PROGRESS,
                key=key,
                user=record.user,
                kind=record.kind.value,
                item=record.key,
                data=record.model_dump_json(),
            ).consume()
        )

    def change_progress(
        self,
        user: str,
        kind: ProgressKind,
        key: str,
        change: Callable[[ProgressRecord | None], ProgressRecord],
    ) -> ProgressRecord:
        node_key = f"{user}|{kind.value}|{key}"

        def work(tx: ManagedTransaction) -> ProgressRecord:
            data = _one(
                tx, cy.GOV_LOCK_PROGRESS, key=node_key, user=user, kind=kind.value, item=key
            )
            stored = data["data"]
            record = change(ProgressRecord.model_validate_json(stored) if stored else None)
            check_same_progress(record, user, kind, key)
            tx.run(
                cy.GOV_PUT_PROGRESS,
                key=node_key,
                user=user,
                kind=kind.value,
                item=key,
                data=record.model_dump_json(),
            ).consume()
            return record

        return self._write(work)

    def enqueue(self, items: list[OutboxItem]) -> int:
        def work(tx: ManagedTransaction) -> int:
            added = 0
            for item in items:
                if tx.run(cy.GOV_OUTBOX_HAS, key=item.key).single() is not None:
                    continue
                oid = int(_one(tx, cy.GOV_NEXT_ID, counter="outbox_counter")["value"])
                stored = item.model_copy(update={"id": oid})
                tx.run(
                    cy.GOV_ENQUEUE,
                    key=item.key,
                    id=oid,
                    status=item.status.value,
                    next_at=item.next_at,
                    data=stored.model_dump_json(),
                ).consume()
                added += 1
            return added

        result: int = self._write(work)
        return result

    def progress(self, kind: str, user: str | None = None) -> list[ProgressRecord]:
        return [
            ProgressRecord.model_validate_json(r["data"])
            for r in self._read(cy.GOV_PROGRESS, kind=kind, user=user)
        ]


def _one(tx: ManagedTransaction, query: str, **params: Any) -> Any:
    """The single record a statement that always returns one answers."""
    record = tx.run(query, params).single()
    if record is None:
        raise StoreError("the ledger statement returned nothing")
    return record


def write_change(tx: ManagedTransaction, commit: LedgerCommit) -> bool:
    """Write ``commit`` inside the caller's transaction, compare-and-set on the request's
    ``seq``; ``False`` when the request moved — the caller must then roll back (the lock
    MERGE may have created a node). The ledger uses it for every transition, the store for an
    apply (in the revision's swap transaction)."""
    change, event = commit.change, commit.event
    rec = _one(tx, cy.GOV_LOCK_CHANGE, id=change.id)
    current = None if rec["created"] else int(rec["seq"])
    if current != commit.expected_seq:
        return False
    rows = []
    for item in commit.outbox:
        oid = int(_one(tx, cy.GOV_NEXT_ID, counter="outbox_counter")["value"])
        stored = item.model_copy(update={"id": oid})
        rows.append(
            {
                "key": item.key,
                "id": oid,
                "status": item.status.value,
                "next_at": item.next_at,
                "data": stored.model_dump_json(),
            }
        )
    tx.run(
        cy.GOV_WRITE_CHANGE,
        id=change.id,
        ref=change.ref,
        status=change.status.value,
        seq=change.seq,
        data=change.model_dump_json(),
        event_key=f"{event.change_id}:{event.seq}",
        event=event.model_dump_json(),
        outbox=rows,
    ).consume()
    return True
