"""Talking to a Neo4j server: the driver (:func:`connect`), and :class:`Neo4jSession`, the
plumbing every part of the Neo4j backend shares — driver failures mapped to kpigraph errors
that name the server, single-statement reads retried when the driver calls an error
retryable, the schema created once per process, and one bookmark manager for every session."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import neo4j
from neo4j import Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import (
    AuthError,
    ClientError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graph_schema.errors import BackendUnavailableError, StoreError
from store import neo4j_cypher as cy
from store import neo4j_history

T = TypeVar("T")
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


class Neo4jSession:
    """The driver, database and server name of one store, and how it runs statements.

    Parameters
    ----------
    driver
        An official ``neo4j`` driver; its configuration is the caller's.
    database
        The database name (Community edition has one user database, ``neo4j``).
    uri
        For error messages only.
    """

    def __init__(self, driver: Driver, database: str, uri: str) -> None:
        self.driver = driver
        self.database = database
        self.uri = uri
        self._schema_ready = False
        #: Every session of this store shares the driver's bookmark manager (the one
        #: ``execute_query`` uses): a read after a write of this process sees that write.
        self.bookmarks = driver.execute_query_bookmark_manager
        #: ``neo4j://`` (a cluster, or a single server through routing): see :meth:`read`.
        self.routing = self.uri.split("://", 1)[0] in ("neo4j", "neo4j+s", "neo4j+ssc")

    @property
    def where(self) -> str:
        return f"Neo4j at {self.uri} (database {self.database!r})"

    def guard(self, action: Callable[[], T]) -> T:
        """Run ``action``, mapping driver failures to kpigraph errors that name the server."""
        try:
            return action()
        except TransientError as exc:
            if "MemoryPoolOutOfMemoryError" in (exc.code or ""):
                raise StoreError(
                    f"Neo4j at {self.uri} ran out of transaction memory: {short(exc)}; give the "
                    "server more heap (kpigraph neo4j start --heap 16g) or raise "
                    "dbms.memory.transaction.total.max; nothing was changed",
                    {"uri": self.uri},
                ) from exc
            raise BackendUnavailableError(
                f"cannot reach Neo4j at {self.uri}: {short(exc)}", {"uri": self.uri}
            ) from exc
        except (ServiceUnavailable, SessionExpired, AuthError) as exc:
            raise BackendUnavailableError(
                f"cannot reach Neo4j at {self.uri}: {short(exc)}",
                {"uri": self.uri},
            ) from exc
        except (ClientError, Neo4jError, DriverError) as exc:
            raise StoreError(f"Neo4j at {self.uri} failed: {short(exc)}") from exc
        except OSError as exc:
            raise BackendUnavailableError(f"cannot reach Neo4j at {self.uri}: {exc}") from exc

    def read(self, query: str, *, pin: bool = False, **params: Any) -> list[neo4j.Record]:
        """One read statement, auto-committed: every read is a single statement, so this
        saves the COMMIT round trip of a managed transaction (~1 ms of a 2 ms query).
        Failures the driver calls retryable (leader switch, lost connection) are retried.

        Reads go to readers (``READ_ACCESS``; on a ``neo4j://`` cluster, a follower or read
        replica) carrying the process's bookmarks. ``pin``: the read that takes the live
        generation; on a cluster it goes to the leader, whose bookmark then makes the
        readers wait until they have applied what it saw (see :attr:`routing`)."""
        self.ensure_schema()
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

        return self.guard(run)

    def read_tx(self, work: Callable[[ManagedTransaction], T]) -> T:
        """``work`` in one managed read transaction (statements in order, one round trip each)."""
        self.ensure_schema()

        def run() -> T:
            with self.driver.session(
                database=self.database,
                default_access_mode=neo4j.READ_ACCESS,
                bookmark_manager=self.bookmarks,
            ) as session:
                return session.execute_read(work)

        return self.guard(run)

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return

        def run() -> None:
            self.driver.verify_connectivity()  # fail fast, before retrying queries
            for statement in self.schema_statements():
                self.driver.execute_query(statement, database_=self.database)
            self.driver.execute_query(cy.AWAIT_INDEXES, database_=self.database)

        self.guard(run)
        self._schema_ready = True

    def restarted(self) -> None:
        """The server's database was replaced (an offline import, :mod:`store.neo4j_bulk`):
        create the schema again, and forget the bookmarks of the database before, whose
        transaction numbers the new one has not reached (a read carrying them would wait
        for them until it timed out)."""
        self._schema_ready = False

        def create(tx: ManagedTransaction, statement: str) -> None:
            tx.run(statement).consume()

        def run() -> None:
            with self.driver.session(database=self.database, bookmark_manager=None) as session:
                for statement in self.schema_statements():
                    session.execute_write(create, statement)
                session.run(cy.AWAIT_INDEXES).consume()
                fresh = session.last_bookmarks()
            stale = self.bookmarks.get_bookmarks()
            self.bookmarks.update_bookmarks(stale, fresh.raw_values)

        self.guard(run)
        self._schema_ready = True

    @staticmethod
    def schema_statements() -> list[str]:
        return [
            *cy.DROP_LEGACY_CONSTRAINTS,
            cy.CREATE_GEN_REF_INDEX,
            cy.CREATE_TO_INDEX,
            cy.CREATE_STAGE_INDEX,
            cy.CREATE_META_CONSTRAINT,
            *neo4j_history.schema_statements(),
        ]

    def ping(self) -> None:
        """One statement, one try: a health check must not wait out the driver's retries
        (``execute_query`` retries for ``max_transaction_retry_time``, 5 s)."""

        def run() -> None:
            with self.driver.session(
                database=self.database, default_access_mode=neo4j.READ_ACCESS
            ) as session:
                session.run(cy.PING).consume()

        self.guard(run)


def short(exc: BaseException) -> str:
    """The first line of a driver error's message, at most 300 characters."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text).strip().splitlines()[0][:300].rstrip(" :")
