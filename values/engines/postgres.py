"""PostgreSQL as a values engine, through SQLAlchemy and psycopg 3.

Every query runs in a READ ONLY transaction with ``statement_timeout`` and
``standard_conforming_strings = on`` set for it, and fetches at most ``max_rows + 1`` rows
through a server-side cursor (a client-side one receives every row of the result before the
first is read). The server refuses a result whose rows' text passes ``max_bytes``
(:func:`bounded_sql`) before sending it: without that, eight rows of
``lpad('', 100000000, 'x')`` took 1.7 GB of kpigraph's memory. The
transaction also sets ``work_mem`` (64 MB unless told): with the server's default 4 MB
PostgreSQL plans the GROUP BY of a refresh (tens of thousands of period × member groups) as a
sort of every fact row spilled to disk, 2–3× slower than the hash aggregation it picks when the
groups fit (EXPLAIN ANALYZE in BENCHMARKS.md, "Warehouse refresh"). The connection URL is only
ever handed to the driver; errors carry the server's
message with any password scrubbed.
"""

from __future__ import annotations

import threading
from typing import Any

from core.i18n import N_, Said
from values.engines.base import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    DEFAULT_TIMEOUT_S,
    TOO_LARGE,
    Result,
)
from values.engines.connections import SecretUrl
from values.errors import EngineConnectionError, EngineQueryError, ResultBytesError

#: rows fetched from the server-side cursor at a time, at most
STREAM_ROWS = 10_000


def bounded_sql(sql: str, max_bytes: int) -> str:
    """``sql`` with one more column, the running total of its rows' text (``octet_length`` of
    the whole row as text, what the driver receives), and an error raised by the server at the
    first row past ``max_bytes`` (a cast of :data:`TOO_LARGE` to an integer: PostgreSQL has no
    ``error()``; the text holds the row's total so that it is not folded at plan time).

    A column of ``sql`` named like the aliases cannot stand in for the row: ``ROW(q.*)`` is
    the row, and a second ``kpigraph_bytes`` makes the reference ambiguous (an error).

    >>> print(bounded_sql("SELECT 1 AS v", 10))  # doctest: +NORMALIZE_WHITESPACE
    SELECT * FROM (SELECT kpigraph_q.*, sum(octet_length(CAST(ROW(kpigraph_q.*) AS text)))
    OVER (ROWS UNBOUNDED PRECEDING) AS kpigraph_bytes FROM (SELECT 1 AS v) AS kpigraph_q) AS
    kpigraph_w WHERE CASE WHEN kpigraph_w.kpigraph_bytes > 10 THEN
    CAST('kpigraph-result-too-large:' || kpigraph_w.kpigraph_bytes AS integer) ELSE 0 END = 0
    """
    size = "octet_length(CAST(ROW(kpigraph_q.*) AS text))"
    return (
        f"SELECT * FROM (SELECT kpigraph_q.*, sum({size}) OVER (ROWS UNBOUNDED PRECEDING) "
        f"AS kpigraph_bytes FROM ({sql}) AS kpigraph_q) AS kpigraph_w "
        f"WHERE CASE WHEN kpigraph_w.kpigraph_bytes > {int(max_bytes)} THEN "
        f"CAST('{TOO_LARGE}:' || kpigraph_w.kpigraph_bytes AS integer) ELSE 0 END = 0"
    )


class PostgresEngine:
    kind = "postgres"
    dialect = "postgres"

    def __init__(
        self,
        url: SecretUrl,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        connect_timeout_s: int = 10,
        work_mem_mb: int | None = 64,
    ) -> None:
        import sqlalchemy as sa

        self.timeout_s, self.max_rows, self.max_bytes = timeout_s, max_rows, max_bytes
        #: ``None``: the server's own setting
        self.work_mem_mb = None if work_mem_mb is None else max(1, int(work_mem_mb))
        self._url = url
        raw = url.reveal()
        if raw.startswith(("postgresql://", "postgres://")):  # the driver kpigraph installs
            raw = "postgresql+psycopg://" + raw.split("://", 1)[1]
        try:
            self._engine = sa.create_engine(
                raw,
                pool_size=2,
                max_overflow=0,
                pool_pre_ping=True,
                hide_parameters=True,
                connect_args={
                    "connect_timeout": connect_timeout_s,
                    "application_name": "kpigraph-values",
                    # a second line of defence behind the READ ONLY transaction
                    "options": "-c default_transaction_read_only=on "
                    "-c standard_conforming_strings=on",
                },
            )
        except Exception as exc:
            raise EngineConnectionError(
                Said.of(
                    N_("cannot use the connection {url}: {error}"),
                    url=str(url),
                    error=self._scrub(exc),
                )
            ) from None
        self._lock = threading.Lock()

    def _scrub(self, exc: BaseException) -> str:
        orig: Any = getattr(exc, "orig", None) or exc
        text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        text = self._url.scrub(text)
        password = _password(self._url)
        return text.replace(password, "***") if password else text

    def run(self, sql: str, *, hash_groups: bool = False) -> Result:
        import sqlalchemy as sa

        try:
            conn = self._engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise EngineConnectionError(
                Said.of(
                    N_("cannot reach PostgreSQL at {url}: {error}"),
                    url=str(self._url),
                    error=self._scrub(exc),
                )
            ) from None
        try:
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                # the SQL is sqlglot's, which writes a backslash in a string as is ('a\'): with
                # the legacy "off" (a server's, database's or role's default) that quote is
                # escaped and the next string literal of a metric's SQL would run as SQL
                conn.exec_driver_sql("SET LOCAL standard_conforming_strings = on")
                ms = max(1, int(self.timeout_s * 1000))
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
                # per sort/hash node of this transaction only; the groups of one refresh query
                # fit, so PostgreSQL hashes them instead of sorting the fact rows to disk
                if self.work_mem_mb is not None:
                    conn.exec_driver_sql(f"SET LOCAL work_mem = '{self.work_mem_mb}MB'")
                # a fused refresh: PostgreSQL estimates a group per date × members (876,000
                # for 10 M rows; 28,800 exist) and sorted every row to disk (EXPLAIN in
                # BENCHMARKS.md); the hash of the real groups fits in work_mem
                if hash_groups:
                    conn.exec_driver_sql("SET LOCAL enable_sort = off")
                # a cursor's plan is otherwise one for the first 10% of the rows
                conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")
                # the driver reads '%' as a placeholder (SQLAlchemy passes an empty
                # parameter tuple): a LIKE '%…' or a member named 'a%b' must reach the
                # server as written
                bounded = bounded_sql(sql, self.max_bytes).replace("%", "%%")
                streamed = conn.execution_options(stream_results=True, max_row_buffer=STREAM_ROWS)
                cur = streamed.exec_driver_sql(bounded)
                columns = list(cur.keys())[:-1]
                types = _types(cur.cursor.description)[:-1]
                rows = [tuple(r)[:-1] for r in cur.fetchmany(self.max_rows + 1)]
                cur.close()
        except sa.exc.SQLAlchemyError as exc:
            if _too_large(exc):
                raise ResultBytesError.over(self.max_bytes) from None
            raise EngineQueryError(self._scrub(exc)) from None
        finally:
            conn.close()
        return Result(columns, rows, types)

    def close(self) -> None:
        self._engine.dispose()


def _too_large(exc: BaseException) -> bool:
    """The error is the server refusing a result past ``max_bytes`` (:func:`bounded_sql`)."""
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    primary = getattr(diag, "message_primary", None) or ""
    return getattr(diag, "sqlstate", None) == "22P02" and f'"{TOO_LARGE}:' in primary


def _types(description: Any) -> list[str | None]:
    """The result's column types by name (``date``, ``timestamptz`` …; ``None`` for a type
    that is not built in), from the type OIDs the server sent with the result."""
    from psycopg import postgres

    out: list[str | None] = []
    for column in description or ():
        info = postgres.types.get(column.type_code)
        out.append(info.name if info is not None else None)
    return out


def _password(url: SecretUrl) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url.reveal()).password
    except Exception:
        return None
