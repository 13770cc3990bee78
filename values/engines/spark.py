"""Spark SQL as a values engine (PySpark): ``local[N]`` (a Spark inside this process — the
tests), a cluster master URL (``spark://host:7077``, ``yarn``) or Spark Connect (``sc://…``).

The tables are the session's: a metastore's (Hive) tables on a cluster, or temporary views a
caller registers (the tests load the demo's files). Only SELECTs built by
:mod:`values.engines.base` reach ``spark.sql`` (a metric's SQL is wrapped as a sub-query, so a
statement that writes cannot even parse); at most ``max_rows + 1`` rows are collected; a query
running past the statement timeout is cancelled (its job group / tag is interrupted).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from core.i18n import N_, Said
from graph_schema.sql_safety import VARIABLE
from values.engines.base import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, Result
from values.engines.connections import SecretUrl
from values.errors import EngineConnectionError, EngineQueryError

#: The one local session per process (starting Spark takes seconds and a JVM).
_SESSION_LOCK = threading.Lock()


def is_spark_url(url: SecretUrl) -> bool:
    raw = url.reveal()
    return raw.startswith(("sc://", "spark://", "local", "yarn", "spark+"))


class SparkEngine:
    kind = "spark"
    dialect = "spark"

    def __init__(
        self,
        url: SecretUrl,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
        session: Any = None,
    ) -> None:
        self.timeout_s, self.max_rows = timeout_s, max_rows
        self._url = url
        self._connect = url.reveal().startswith("sc://")
        self.spark = session if session is not None else self._session(url)
        # behind the SQL check: no `csv.`/path`` tables, no ${env:…} replaced in the text
        for key in ("spark.sql.runSQLOnFiles", "spark.sql.variable.substitute"):
            self.spark.conf.set(key, "false")

    def _session(self, url: SecretUrl) -> Any:
        try:
            from pyspark.sql import SparkSession
        except ImportError:  # pragma: no cover - pyspark is a dependency
            raise EngineConnectionError(
                Said.of(N_("Spark needs pyspark (pip install pyspark)"))
            ) from None
        raw = url.reveal()
        if raw.startswith("spark+"):  # spark+local[2]:// style, for symmetry with other URLs
            raw = raw[len("spark+") :].rstrip("/").removesuffix(":/")
        builder = SparkSession.builder.appName("kpigraph-values")
        try:
            with _SESSION_LOCK:
                if self._connect:
                    return builder.remote(raw).getOrCreate()
                return (
                    builder.master(raw)
                    .config("spark.ui.enabled", "false")
                    .config("spark.sql.ansi.enabled", "false")
                    .config("spark.sql.session.timeZone", "UTC")
                    .getOrCreate()
                )
        except Exception as exc:
            first = url.scrub((str(exc).strip().splitlines() or [type(exc).__name__])[0])
            raise EngineConnectionError(
                Said.of(
                    N_("cannot start or reach Spark at {url}: {error}"), url=str(url), error=first
                )
            ) from None

    def run(self, sql: str, *, hash_groups: bool = False) -> Result:
        if VARIABLE in sql:  # Spark would replace ${env:…} with the server's environment
            raise EngineQueryError(
                Said.of(N_("refused: '${' in the SQL (Spark's variable substitution)"))
            )
        tag = f"kpigraph-{uuid.uuid4().hex}"
        timer = threading.Timer(self.timeout_s, self._cancel, (tag,))
        try:
            self._tag(tag)
            timer.start()
            frame = self.spark.sql(sql)
            columns = list(frame.columns)
            rows = [tuple(r) for r in frame.limit(self.max_rows + 1).collect()]
        except Exception as exc:
            if timer.finished.is_set() and not timer.is_alive():
                raise EngineQueryError(
                    Said.of(
                        N_("cancelled after the statement timeout ({seconds} s)"),
                        seconds=f"{self.timeout_s:g}",
                    )
                ) from None
            first = self._url.scrub((str(exc).strip().splitlines() or [type(exc).__name__])[0])
            raise EngineQueryError(first) from None
        finally:
            timer.cancel()
            self._untag(tag)
        return Result(columns, rows)

    def _tag(self, tag: str) -> None:
        if self._connect:
            self.spark.addTag(tag)
        else:
            self.spark.sparkContext.setJobGroup(tag, "kpigraph values query", True)

    def _untag(self, tag: str) -> None:
        try:
            if self._connect:
                self.spark.removeTag(tag)
            else:
                self.spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        except Exception:
            pass

    def _cancel(self, tag: str) -> None:
        if self._connect:
            self.spark.interruptTag(tag)
        else:
            self.spark.sparkContext.cancelJobGroup(tag)

    def close(self) -> None:
        """The session is shared by the process (Spark allows one); stopped at exit."""
