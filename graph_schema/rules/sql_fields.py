"""sql.*: the SQL on a card against its declared ``fields`` and ``sources.yaml``.

What the SQL reads is worked out by the runner (sqlglot, in ``analysis.sql_lineage``) and
handed in through ``ctx.sql(metric)``; these rules compare it with the card.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from core.i18n import N_, _
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from graph_schema.rules.base import LintContext, LintIssue, LintRule, Scope, Severity, SqlCheck


def _checked(ctx: LintContext) -> Iterator[tuple[Metric, SqlCheck]]:
    for m in ctx.subjects():
        if m.sql:
            found = ctx.sql(m)
            if found is not None:
                yield m, found


def _views(ctx: LintContext) -> Iterator[tuple[NodeRef, SqlCheck]]:
    yield from sorted(ctx.views.items(), key=lambda kv: kv[0].id)


def _sql_line(ctx: LintContext, m: Metric, inner: int | None) -> int | None:
    """The catalog line of line ``inner`` of a metric's SQL (a block scalar starts below)."""
    _, line = ctx.where(m.ref, "sql")
    if line is None or inner is None:
        return line
    return line + inner if "\n" in (m.sql or "").strip() else line


class SqlParseError(LintRule):
    id = "sql.parse-error"
    scope = Scope.NODE  # a delta whose metrics have SQL is linted whole
    severity = Severity.ERROR
    summary = N_("the metric's SQL does not parse in its dialect")
    mandatory = True  # SQL that cannot be read cannot be judged safe to run

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for m, found in _checked(ctx):
            if found.error_kind == "syntax":
                yield self.issue(
                    ctx,
                    m.ref,
                    _(
                        "metric {id!r}: {error} (dialect {dialect})",
                        id=m.id,
                        error=found.error,
                        dialect=found.dialect or "generic",
                    ),
                    _(
                        "fix the SQL, or set the dialect: 'dialect:' in kpigraph.yaml or on the "
                        "system in sources.yaml"
                    ),
                    key="sql",
                    line=_sql_line(ctx, m, found.error_line),
                )
        for ref, found in _views(ctx):
            if found.error_kind == "syntax":
                yield self.issue(ctx, ref, str(found.error), _("fix the view's SQL"), key="sql")


class SqlUnsafe(LintRule):
    """The metric's SQL is not one read-only query over the catalog's tables with plain
    functions (:mod:`graph_schema.sql_safety`): it would not be run, so it may not be loaded or
    proposed. Mandatory: ``lint:`` settings cannot turn it off."""

    id = "sql.unsafe"
    scope = Scope.NODE  # a delta whose metrics have SQL is linted whole
    severity = Severity.ERROR
    summary = N_("the metric's SQL is not one read-only SELECT over the catalog's tables")
    mandatory = True

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for m, found in _checked(ctx):
            if found.unsafe:
                yield self.issue(
                    ctx,
                    m.ref,
                    _("metric {id!r}: SQL refused: {why}", id=m.id, why=found.unsafe),
                    _(
                        "a metric's SQL is one SELECT over the tables sources.yaml declares, with "
                        "plain scalar, aggregate and window functions (README 'Security model')"
                    ),
                    key="sql",
                )


class SqlDialect(LintRule):
    """The dialect of kpigraph.yaml or of a system in sources.yaml is not one sqlglot knows."""

    id = "sql.dialect"
    scope = Scope.NODE  # a delta whose metrics have SQL is linted whole
    severity = Severity.ERROR
    summary = N_("an unknown SQL dialect name")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        fix = _("use a dialect sqlglot knows: mysql, postgres, hive, spark, duckdb, …")
        problem = ctx.dialect_problem(ctx.dialect) if ctx.dialect else None
        if problem:
            yield LintIssue(self.id, self.severity, f"dialect: {problem}", "kpigraph.yaml", fix=fix)
        for system in ctx.of_kind(NodeKind.SYSTEM):
            name = getattr(system, "dialect", None)
            problem = ctx.dialect_problem(name) if name else None
            if problem:
                yield self.issue(
                    ctx,
                    system.ref,
                    _("system {id!r}: {problem}", id=system.id, problem=problem),
                    fix,
                    key="dialect",
                )


class SqlUnknownTable(LintRule):
    id = "sql.unknown-table"
    scope = Scope.NODE  # a delta whose metrics have SQL is linted whole
    severity = Severity.ERROR
    summary = N_("the SQL reads a table sources.yaml does not declare")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for m, found in _checked(ctx):
            for name in found.unknown_tables:
                yield self.issue(
                    ctx,
                    m.ref,
                    _(
                        "metric {id!r}: SQL reads table {table!r}, which is not in sources",
                        id=m.id,
                        table=name,
                    ),
                    _("declare the table (and its fields) in sources.yaml, or fix the name"),
                    key="sql",
                )
        for ref, found in _views(ctx):
            for name in found.unknown_tables:
                yield self.issue(
                    ctx,
                    ref,
                    _(
                        "view {id!r}: SQL reads table {table!r}, which is not in sources",
                        id=ref.id,
                        table=name,
                    ),
                    _("declare the table (and its fields) in sources.yaml, or fix the name"),
                    key="sql",
                )


class SqlUnknownColumn(LintRule):
    id = "sql.unknown-column"
    scope = Scope.NODE  # a delta whose metrics have SQL is linted whole
    severity = Severity.ERROR
    summary = N_("the SQL reads a column its table does not declare")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for m, found in _checked(ctx):
            for col in found.unknown_columns:
                yield self.issue(
                    ctx,
                    m.ref,
                    _(
                        "metric {id!r}: SQL reads {column!r}, which sources.yaml does not declare",
                        id=m.id,
                        column=col,
                    ),
                    _("add the field to its table in sources.yaml, or fix the column name"),
                    key="sql",
                )
        for ref, found in _views(ctx):
            for col in found.unknown_columns:
                yield self.issue(
                    ctx,
                    ref,
                    _(
                        "view {id!r}: SQL reads {column!r}, which sources.yaml does not declare",
                        id=ref.id,
                        column=col,
                    ),
                    _("add the field to its table in sources.yaml, or fix the column name"),
                    key="sql",
                )
            for col in found.unresolved:
                yield self.issue(
                    ctx,
                    m.ref,
                    _(
                        "metric {id!r}: cannot tell which table column {column!r} belongs to",
                        id=m.id,
                        column=col,
                    ),
                    _("qualify it with its table or alias (t.column)"),
                    key="sql",
                    severity=Severity.WARNING,
                )


class SqlFieldNotRead(LintRule):
    id = "sql.field-not-read"
    scope = Scope.NODE  # a delta whose metrics have SQL is linted whole
    severity = Severity.WARNING
    summary = N_("a declared field the SQL does not read")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for m, found in _checked(ctx):
            if found.error_kind or found.unknown_tables:
                continue
            read = found.fields | found.view_fields
            for field_id in m.fields:
                if field_id not in read:
                    yield self.issue(
                        ctx,
                        m.ref,
                        _(
                            "metric {id!r}: declares field {field!r}, which its SQL does not read",
                            id=m.id,
                            field=field_id,
                        ),
                        _("drop it from 'fields' (or run 'kpigraph infer-fields'), or fix the SQL"),
                        key="fields",
                    )


class SqlColumnNotDeclared(LintRule):
    id = "sql.column-not-declared"
    scope = Scope.NODE  # a delta whose metrics have SQL is linted whole
    severity = Severity.WARNING
    summary = N_("a column the SQL reads that 'fields' does not declare")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for m, found in _checked(ctx):
            if found.error_kind:
                continue
            declared = set(m.fields)
            for view_field in declared & set(found.through_views):
                declared |= found.through_views[view_field]
            missing = sorted(found.fields - declared)
            if missing:
                yield self.issue(
                    ctx,
                    m.ref,
                    _(
                        "metric {id!r}: SQL reads {columns}, not declared in 'fields'",
                        id=m.id,
                        columns=_(", ").join(missing),
                    ),
                    _(
                        "add them to 'fields' (FEEDS edges make impact analysis see them), or run "
                        "'kpigraph infer-fields'"
                    ),
                    key="fields" if m.fields else "sql",
                )


RULES = (
    SqlParseError(),
    SqlUnsafe(),
    SqlDialect(),
    SqlUnknownTable(),
    SqlUnknownColumn(),
    SqlFieldNotRead(),
    SqlColumnNotDeclared(),
)
