"""The SQL half of the lint runner: what each metric's SQL and each view reads (sqlglot, via
:mod:`analysis.sql_lineage`) and whether the sandbox lets it run. :mod:`analysis.lint` imports
this module only for a catalog that has SQL, so a load that checks no SQL imports no sqlglot."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from analysis.sql_lineage import (
    SourceSchema,
    SqlDialectError,
    SqlSyntaxError,
    metric_dialect,
    normalize_dialect,
    schema_from_nodes,
    sql_reads,
    view_reads,
)
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from graph_schema.rules.base import SqlCheck
from graph_schema.sql_safety import UnsafeSQLError, check_metric_sql


def sql_checks(
    nodes: Iterable[Any], dialect: str | None, tables_reported: bool
) -> tuple[Callable[[Metric], SqlCheck | None], dict[NodeRef, SqlCheck]]:
    """The SQL checker of the metrics and the checks of the views of ``nodes``."""
    schema = schema_from_nodes(list(nodes), None if dialect_problem(dialect or "") else dialect)
    return _sql_checker(schema, dialect, tables_reported), _view_checks(schema)


def _sql_checker(
    schema: SourceSchema, default_dialect: str | None, tables_reported: bool = False
) -> Callable[[Metric], SqlCheck | None]:
    """``tables_reported``: ``sql.unknown-table`` reports undeclared tables as errors, so
    ``sql.unsafe`` does not say it twice."""
    cache: dict[str, SqlCheck] = {}

    def check(metric: Metric) -> SqlCheck | None:
        if not metric.sql:
            return None
        if metric.id not in cache:
            found = _check_sql(metric, schema, default_dialect)
            if tables_reported and found.unsafe_kind == "table" and found.unknown_tables:
                # sql.unknown-table names the table; anything else wrong is still said here
                other = _unsafe(metric.sql, None, found.dialect)
                found = replace(
                    found,
                    unsafe=other.reason if other is not None else None,
                    unsafe_kind=other.kind if other is not None else None,
                )
            cache[metric.id] = found
        return cache[metric.id]

    return check


def _unsafe(sql: str, schema: SourceSchema | None, dialect: str | None) -> UnsafeSQLError | None:
    """Why ``sql`` may not run (the sandbox check over the catalog's tables; any plain table
    name when ``schema`` is ``None``), or ``None``."""
    tables = (
        None if schema is None else {t.name for t in schema.tables.values()} | set(schema.tables)
    )
    try:
        check_metric_sql(sql, tables=tables, dialect=dialect)
    except UnsafeSQLError as exc:
        return exc
    return None


def _check_sql(metric: Metric, schema: SourceSchema, default: str | None) -> SqlCheck:
    assert metric.sql is not None
    dialect = metric_dialect(metric.fields, schema, default)
    try:
        dialect = normalize_dialect(dialect)
    except SqlDialectError as exc:
        refused = _unsafe(metric.sql, schema, None)
        return SqlCheck(
            dialect=dialect,
            error_kind="dialect",
            error=exc.message,
            unsafe=refused.reason if refused is not None else None,
            unsafe_kind=refused.kind if refused is not None else None,
        )
    refused = _unsafe(metric.sql, schema, dialect)
    try:
        prefer = {f.split(".", 1)[0] for f in metric.fields}
        reads = sql_reads(metric.sql, schema, dialect, prefer)
    except SqlSyntaxError as exc:
        if refused is not None and refused.kind != "parse":  # e.g. "; COPY …": say that
            return SqlCheck(dialect=dialect, unsafe=refused.reason, unsafe_kind=refused.kind)
        # a parse failure is reported once, by sql.parse-error (mandatory as well)
        return SqlCheck(
            dialect=dialect, error_kind="syntax", error=exc.message, error_line=exc.line
        )
    if refused is not None and refused.kind == "parse":
        # sqlglot read it as a query for lineage, yet the sandbox cannot: refused all the same
        refused = UnsafeSQLError(refused.why, "unsafe")
    return SqlCheck(
        unsafe=refused.reason if refused is not None else None,
        unsafe_kind=refused.kind if refused is not None else None,
        dialect=dialect,
        fields=reads.fields,
        view_fields=reads.view_fields,
        through_views=reads.through_views,
        unknown_tables=reads.unknown_tables,
        unknown_columns=reads.unknown_columns,
        unresolved=reads.unresolved,
    )


def _view_checks(schema: SourceSchema) -> dict[NodeRef, SqlCheck]:
    """What each view of sources.yaml reads, or why its SQL cannot be used."""
    out: dict[NodeRef, SqlCheck] = {}
    for table in schema.tables.values():
        if not table.sql:
            continue
        ref = NodeRef(NodeKind.TABLE, table.id)
        try:
            dialect = normalize_dialect(table.dialect)
            reads = view_reads(schema, table.id)
        except SqlDialectError as exc:
            out[ref] = SqlCheck(dialect=table.dialect, error_kind="dialect", error=exc.message)
            continue
        except SqlSyntaxError as exc:
            out[ref] = SqlCheck(
                dialect=table.dialect, error_kind="syntax", error=exc.message, error_line=exc.line
            )
            continue
        out[ref] = SqlCheck(
            dialect=dialect,
            fields=reads.fields,
            unknown_tables=reads.unknown_tables,
            unknown_columns=reads.unknown_columns,
        )
    return out


def dialect_problem(name: str) -> str | None:
    try:
        normalize_dialect(name)
    except SqlDialectError as exc:
        return exc.message
    return None
