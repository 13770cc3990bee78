"""DuckDB as a values engine: a database file (``duckdb:///srv/dms.duckdb``, opened read-only)
or, with ``duckdb://`` alone, the catalog's ``data/`` files (each CSV/Parquet file a view named
after it). One thread (sums come out the same on every run); the statement timeout interrupts
the query from a timer thread. Behind the SQL check, the connection is locked down as the
embedded engine's is (:func:`values.sandbox.lock_down`: no file or network but the ``data/``
files, no extension loaded on demand, the configuration locked, a memory limit). The embedded
default — metric SQL over ``data/`` without any ``connection`` — is still run by
:class:`values.engine.ValuesEngine` itself.

As on PostgreSQL, a result whose rows' text passes ``max_bytes`` is refused by DuckDB before
any row reaches Python (:func:`bounded_sql`): the memory limit bounds DuckDB, not the copies
of a result it spilled to disk."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import duckdb

from core.confined import ADVICE, escapes
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
from values.sandbox import SandboxLimits, lock_down, spill_config

_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def bounded_sql(sql: str, max_bytes: int) -> str:
    """``sql`` refused by DuckDB (``error()``) at the first row where the running total of its
    rows' text (every column, ``concat(*COLUMNS(*))``: no alias a column could shadow) passes
    ``max_bytes``; the rows and columns otherwise as ``sql`` gives them.

    >>> con = duckdb.connect()
    >>> con.execute(bounded_sql("SELECT 1 AS a, 'xy' AS b", 10)).fetchall()
    [(1, 'xy')]
    >>> con.execute(bounded_sql("SELECT lpad('', 20, 'x') AS b", 10)).fetchall()
    Traceback (most recent call last):
    ...
    _duckdb.InvalidInputException: Invalid Input Error: kpigraph-result-too-large:20
    """
    return (
        "SELECT * EXCLUDE (kpigraph_bytes) FROM (SELECT *, "
        "sum(strlen(concat(*COLUMNS(*)))) OVER (ROWS UNBOUNDED PRECEDING) AS kpigraph_bytes "
        f"FROM ({sql}) AS kpigraph_q) AS kpigraph_w WHERE CASE WHEN kpigraph_bytes > "
        f"{int(max_bytes)} THEN error('{TOO_LARGE}:' || kpigraph_bytes) ELSE true END"
    )


class DuckDBEngine:
    kind = "duckdb"
    dialect = "duckdb"

    def __init__(
        self,
        url: SecretUrl,
        *,
        data_dir: Path | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.timeout_s, self.max_rows, self.max_bytes = timeout_s, max_rows, max_bytes
        self._lock = threading.Lock()
        path = url.reveal().partition("://")[2].lstrip("/")
        limits = SandboxLimits()
        database = "/" + path if path and path != ":memory:" else None
        config: dict[str, str | bool | int | float | list[str]] = {
            "threads": 1,
            "memory_limit": limits.sql_memory,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            **spill_config(limits, database),
        }
        try:
            if path and path != ":memory:":
                self._con = duckdb.connect("/" + path, read_only=True, config=config)
                _lock(self._con, [])
            else:
                self._con = duckdb.connect(":memory:", config=config)
                _lock(self._con, self._views(data_dir))
        except duckdb.Error as exc:
            raise EngineConnectionError(
                Said.of(
                    N_("cannot open the DuckDB database {url}: {error}"),
                    url=str(url),
                    error=str(exc).splitlines()[0],
                )
            ) from None

    def _views(self, data_dir: Path | None) -> list[Path]:
        """A view per data file; the files (what the locked-down connection may read)."""
        files: list[Path] = []
        if data_dir is None or not data_dir.is_dir():
            return files
        for path in sorted(data_dir.iterdir()):
            suffix = path.suffix.lower()
            name = path.stem.lower()
            if path.is_file() and suffix in (".csv", ".parquet") and _TABLE_NAME.match(name):
                if escapes(data_dir, path):
                    self._con.close()
                    raise EngineConnectionError(
                        Said.of(
                            N_("data/{name} is a link to a file outside the data folder; {advice}"),
                            name=path.name,
                            advice=Said.of(ADVICE),
                        )
                    )
                reader = "read_parquet" if suffix == ".parquet" else "read_csv"
                literal = str(path.resolve()).replace("'", "''")
                self._con.execute(f"CREATE VIEW {name} AS SELECT * FROM {reader}('{literal}')")
                files.append(path.resolve())
        return files

    def run(self, sql: str, *, hash_groups: bool = False) -> Result:
        with self._lock:
            timer = threading.Timer(self.timeout_s, self._con.interrupt)
            timer.start()
            try:
                cur = self._con.execute(bounded_sql(sql, self.max_bytes))
                columns = [d[0] for d in cur.description or []]
                rows = cur.fetchmany(self.max_rows + 1)
            except duckdb.InterruptException:
                raise EngineQueryError(
                    Said.of(
                        N_("cancelled after the statement timeout ({seconds} s)"),
                        seconds=f"{self.timeout_s:g}",
                    )
                ) from None
            except duckdb.Error as exc:
                if f"{TOO_LARGE}:" in str(exc):
                    raise ResultBytesError.over(self.max_bytes) from None
                raise EngineQueryError(str(exc)) from None
            finally:
                timer.cancel()
        return Result(columns, rows)

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _lock(con: duckdb.DuckDBPyConnection, files: list[Path]) -> None:
    """:func:`lock_down`, unless the database is locked already: DuckDB shares one database
    instance (and its settings) between the connections of a process to one file."""
    row = con.execute("SELECT current_setting('lock_configuration')").fetchone()
    if not (row and row[0]):
        lock_down(con, files)
