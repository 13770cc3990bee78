"""Values engines: where a metric's SQL runs (DuckDB, PostgreSQL, Spark SQL), one module each,
behind the :class:`values.engines.base.SqlEngine` protocol."""

from __future__ import annotations

from pathlib import Path

from core.i18n import N_, Said
from values.engines.base import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, SqlEngine
from values.engines.connections import SecretUrl
from values.errors import EngineConnectionError


def open_engine(
    url: SecretUrl,
    *,
    data_dir: Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> SqlEngine:
    """The engine a connection URL names, by its scheme.

    Raises
    ------
    EngineConnectionError
        An URL of a kind kpigraph has no engine for, or an engine that cannot start.
    """
    scheme = url.scheme
    if scheme.startswith(("postgresql", "postgres")):
        from values.engines.postgres import PostgresEngine

        return PostgresEngine(url, timeout_s=timeout_s, max_rows=max_rows)
    if scheme == "duckdb":
        from values.engines.duckdb_engine import DuckDBEngine

        return DuckDBEngine(url, data_dir=data_dir, timeout_s=timeout_s, max_rows=max_rows)
    from values.engines.spark import SparkEngine, is_spark_url

    if is_spark_url(url):
        return SparkEngine(url, timeout_s=timeout_s, max_rows=max_rows)
    raise EngineConnectionError(
        Said.of(
            N_(
                "no values engine for the connection {url} (kpigraph runs postgresql://, "
                "duckdb://, sc:// / spark:// / local[N] Spark URLs)"
            ),
            url=str(url),
        )
    )


__all__ = ["EngineConnectionError", "SecretUrl", "SqlEngine", "open_engine"]
