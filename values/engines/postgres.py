"""PostgreSQL as a values engine, through SQLAlchemy and psycopg 3.

Every query runs in a READ ONLY transaction with ``statement_timeout`` and
``standard_conforming_strings = on`` set for it, and fetches at most ``max_rows + 1`` rows. The
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
from values.engines.base import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, Result
from values.engines.connections import SecretUrl
from values.errors import EngineConnectionError, EngineQueryError


class PostgresEngine:
    kind = "postgres"
    dialect = "postgres"

    def __init__(
        self,
        url: SecretUrl,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
        connect_timeout_s: int = 10,
        work_mem_mb: int | None = 64,
    ) -> None:
        import sqlalchemy as sa

        self.timeout_s, self.max_rows = timeout_s, max_rows
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
                # the driver reads '%' as a placeholder (SQLAlchemy passes an empty
                # parameter tuple): a LIKE '%…' or a member named 'a%b' must reach the
                # server as written
                cur = conn.exec_driver_sql(sql.replace("%", "%%"))
                columns = list(cur.keys())
                types = _types(cur.cursor.description)
                rows = [tuple(r) for r in cur.fetchmany(self.max_rows + 1)]
                cur.close()
        except sa.exc.SQLAlchemyError as exc:
            raise EngineQueryError(self._scrub(exc)) from None
        finally:
            conn.close()
        return Result(columns, rows, types)

    def close(self) -> None:
        self._engine.dispose()


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
