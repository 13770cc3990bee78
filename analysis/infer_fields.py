"""``kpigraph infer-fields``: the ``fields:`` each metric's SQL implies (a plan; no writes).

For every metric with SQL, the new list keeps the declared fields the SQL still reads (in their
order; a declared view column counts for the base columns behind it) and appends the columns
it reads that were not declared (sorted). SQL that does not parse, or reads tables/columns
``sources.yaml`` does not declare, is an error: the caller then writes nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.sql_lineage import (
    SqlDialectError,
    SqlSyntaxError,
    metric_dialect,
    normalize_dialect,
    schema_from_nodes,
    sql_reads,
)
from graph_schema.models import Metric


@dataclass(frozen=True)
class FieldsChange:
    metric: str
    file: str
    line: int | None  #: where the metric's mapping starts
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True)
class InferPlan:
    changes: tuple[FieldsChange, ...]
    #: ``file:line: message`` for each metric whose SQL cannot be used
    errors: tuple[str, ...]
    unchanged: int


def infer_fields(
    metrics: list[tuple[Metric, str, int | None]],
    nodes: list[object],
    catalog_dialect: str | None,
    only: set[str] | None = None,
) -> InferPlan:
    """Plan the ``fields`` of each ``(metric, file, line)`` that has SQL.

    ``nodes``: every node of the catalog (systems, tables, fields make the schema).
    """
    schema = schema_from_nodes(nodes)  # type: ignore[arg-type]
    changes: list[FieldsChange] = []
    errors: list[str] = []
    unchanged = 0
    for metric, file, line in metrics:
        if not metric.sql or (only is not None and metric.id not in only):
            continue
        where = f"{file}:{line}" if line else file
        try:
            dialect = normalize_dialect(metric_dialect(metric.fields, schema, catalog_dialect))
            prefer = {f.split(".", 1)[0] for f in metric.fields}
            reads = sql_reads(metric.sql, schema, dialect, prefer)
        except (SqlSyntaxError, SqlDialectError) as exc:
            errors.append(f"{where}: metric {metric.id!r}: {exc.message}")
            continue
        problems = [f"table {t!r} is not in sources" for t in reads.unknown_tables]
        problems += [f"column {c!r} is not in sources" for c in reads.unknown_columns]
        problems += [f"column {c!r} belongs to no known table" for c in reads.unresolved]
        if problems:
            errors.append(f"{where}: metric {metric.id!r}: " + "; ".join(problems))
            continue
        read = reads.fields | reads.view_fields
        kept = [f for f in metric.fields if f in read]
        covered = set(kept)
        for view_field in covered & set(reads.through_views):
            covered |= reads.through_views[view_field]
        new = (*kept, *sorted(reads.fields - covered))
        if new == tuple(metric.fields):
            unchanged += 1
        else:
            changes.append(FieldsChange(metric.id, file, line, tuple(metric.fields), new))
    return InferPlan(tuple(changes), tuple(errors), unchanged)
