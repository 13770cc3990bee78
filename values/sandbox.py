"""The DuckDB sandbox metric SQL runs in: a checked query on a locked-down connection, with a
memory limit and a time limit.

What holds, in order:

1. **Checked before it runs**: :func:`graph_schema.sql_safety.check_metric_sql` (sqlglot, the
   DuckDB dialect, the tables this engine registered), then DuckDB's *own* parser
   (:func:`duckdb_refusal`): exactly one ``SELECT`` statement, whose parse tree
   (``json_serialize_sql``) names only registered tables (or its CTEs), no table function and
   only allowed functions. Two parsers must agree, so a comment or quoting trick that fools
   one of them is refused by the other.
2. **Locked down** (:func:`lock_down`) once the catalog's files are registered: external
   access off (no file, network, ``COPY``, ``ATTACH``), only the catalog's ``data/`` files in
   ``allowed_paths``, extensions neither installed nor loaded on demand, and the configuration
   locked (a ``SET`` cannot undo any of it).
3. **Bounded**: ``memory_limit`` (``KPIGRAPH_VALUES_SQL_MEMORY``), what a query may spill to
   disk past it (``KPIGRAPH_VALUES_SQL_SPILL``, in a private temporary directory: DuckDB's
   default is ``.tmp`` in the current directory, up to 90% of the free disk) and a time limit
   (``KPIGRAPH_VALUES_SQL_TIMEOUT`` seconds): a timer interrupts the query
   (:class:`Deadline`); the connection stays usable.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import json
import shutil
import tempfile
import threading
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.i18n import N_
from graph_schema.sql_allowlist import ALLOWED_NAMES
from graph_schema.sql_safety import UnsafeSQLError, check_metric_sql

#: DuckDB's names for operators and the spellings of allowed functions in its parse tree
DUCKDB_OPERATORS = frozenset(
    {"+", "-", "*", "/", "//", "%", "**", "^", "||", "~~", "!~~", "~~*", "!~~*", "~~~", "!~~~"}
)
DUCKDB_NAMES = ALLOWED_NAMES | DUCKDB_OPERATORS | {"count_star", "date_part", "datepart"}


class SandboxLimits(BaseSettings):
    """Limits of metric SQL in the values engine (``KPIGRAPH_VALUES_SQL_*``)."""

    model_config = SettingsConfigDict(env_prefix="KPIGRAPH_VALUES_", extra="ignore")

    sql_timeout: float = Field(
        default=10.0, gt=0, description="seconds a metric's SQL may run before it is stopped"
    )
    sql_memory: str = Field(
        default="1GB",
        pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB memory_limit of the values engine",
    )
    sql_spill: str = Field(
        default="16GB",  # explain --localize over 48 million rows spills a few GB
        pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB max_temp_directory_size: what a query may write to disk past "
        "memory_limit (in a private temporary directory)",
    )


_spill_root: Path | None = None
_spill_lock = threading.Lock()
_spill_count = itertools.count()


def spill_config(limits: SandboxLimits, database: str | None = None) -> dict[str, str]:
    """DuckDB settings for where a query past ``memory_limit`` spills, and how much: a folder
    of this process's private temporary directory (DuckDB makes it when it first spills and
    removes it when the database closes) and ``limits.sql_spill``. Connections to one
    ``database`` file share DuckDB's instance, so they get one folder (equal settings)."""
    global _spill_root
    with _spill_lock:
        if _spill_root is None:
            _spill_root = Path(tempfile.mkdtemp(prefix="kpigraph-duckdb-"))  # mode 0700
            atexit.register(shutil.rmtree, _spill_root, True)
        key = (
            "f" + hashlib.sha256(database.encode()).hexdigest()[:16]
            if database
            else f"m{next(_spill_count)}"
        )
    return {"temp_directory": str(_spill_root / key), "max_temp_directory_size": limits.sql_spill}


def connect(limits: SandboxLimits) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never installs or loads an extension on its own.

    One thread: a parallel SUM over doubles adds partial sums in whichever order the threads
    finish, so the last digits of a value could differ between two runs of one question.
    """
    con = duckdb.connect(
        ":memory:",
        config={
            "threads": 1,
            "memory_limit": limits.sql_memory,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            **spill_config(limits),
        },
    )
    # its bar goes to stdout on a long query, in the middle of --json output
    con.execute("SET enable_progress_bar = false")
    return con


def lock_down(con: duckdb.DuckDBPyConnection, files: Iterable[Path]) -> None:
    """No external access from now on but reading ``files``; configuration locked."""
    allowed = [str(p) for p in files]
    con.execute("SET allowed_paths = $paths", {"paths": allowed})
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def duckdb_refusal(
    con: duckdb.DuckDBPyConnection, sql: str, tables: Collection[str]
) -> UnsafeSQLError | None:
    """Why ``sql`` may not run on this engine, or ``None``: the engine-independent check,
    then DuckDB's own parser."""
    try:
        check_metric_sql(sql, tables=tables, dialect="duckdb")
        _check_duckdb_parse(con, sql, {t.lower() for t in tables})
    except UnsafeSQLError as exc:
        return exc
    return None


def _check_duckdb_parse(con: duckdb.DuckDBPyConnection, sql: str, tables: set[str]) -> None:
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise UnsafeSQLError(
            N_("DuckDB cannot parse it: {error}"), "parse", error=_first(exc)
        ) from exc
    if len(statements) != 1:
        raise UnsafeSQLError(
            N_("DuckDB reads {n} statements; one SELECT is allowed"), n=len(statements)
        )
    kind = str(statements[0].type).rsplit(".", 1)[-1]
    if kind != "SELECT":
        raise UnsafeSQLError(
            N_("DuckDB reads a {kind} statement; one SELECT is allowed"), kind=kind
        )
    row = con.execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise UnsafeSQLError(
            N_("DuckDB cannot read it: {error}"), "parse", error=tree.get("error_message", "?")
        )
    ctes = {name.lower() for name in _cte_names(tree)}
    for node in _nodes(tree):
        _check_node(node, tables, ctes)


def _check_node(node: dict[str, Any], tables: set[str], ctes: set[str]) -> None:
    klass, kind = node.get("class"), node.get("type")
    if klass in ("FUNCTION", "WINDOW", "AGGREGATE") and "function_name" in node:
        name = str(node.get("function_name", ""))
        if node.get("schema") or node.get("catalog") or name.lower() not in DUCKDB_NAMES:
            raise UnsafeSQLError(N_("function {name} is not allowed in a metric's SQL"), name=name)
    elif klass == "LAMBDA":
        raise UnsafeSQLError(N_("a lambda is not allowed in a metric's SQL"))
    if kind == "TABLE_FUNCTION":
        function = node.get("function") or {}
        name = function.get("function_name", "?") if isinstance(function, dict) else "?"
        raise UnsafeSQLError(
            N_("table function {name} is not allowed; read tables by name"), name=name
        )
    if kind == "BASE_TABLE":
        name = str(node.get("table_name", ""))
        qualified = node.get("schema_name") or node.get("catalog_name")
        if qualified or name.lower() not in tables | ctes:
            label = ".".join(
                p for p in (node.get("catalog_name"), node.get("schema_name"), name) if p
            )
            raise UnsafeSQLError(
                N_("table {table} is not a table of the catalog's data/"), table=repr(label)
            )


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _cte_names(tree: Any) -> Iterator[str]:
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map") or []:
                if isinstance(entry, dict) and entry.get("key"):
                    yield str(entry["key"])


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Deadline:
    """Interrupt what ``con`` runs after ``seconds`` (a timer thread); ``fired`` tells
    afterwards whether it did. The interrupt is sent only while the block runs.

    >>> con = duckdb.connect()
    >>> with Deadline(con, 5) as d:
    ...     con.execute("SELECT 42").fetchall()
    [(42,)]
    >>> d.fired
    False
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.con, self.seconds = con, seconds
        self.fired = False
        self._active = False
        self._guard = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        with self._guard:
            if self._active:
                self.fired = True
                self.con.interrupt()

    def __enter__(self) -> Deadline:
        self._active = True
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._guard:
            self._active = False
        self._timer.cancel()
