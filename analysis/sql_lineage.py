"""Which source columns a metric's SQL reads, checked against ``sources.yaml`` (sqlglot).

sqlglot is imported here (lineage) and in ``graph_schema.sql_safety`` (the SQL sandbox check).
A statement is parsed in the dialect of its system or catalog (MySQL, PostgreSQL, Hive/Spark,
DuckDB, …), its tables are matched to the catalog's tables (``dms_orders`` or
``dms.dms_orders``), columns are qualified against the declared fields, and every column is
followed through aliases, CTEs, subqueries, unions and *views* (tables of ``sources.yaml`` that
carry ``sql:``) down to base columns.

What a query reads = the columns its result is computed from plus the columns its filters,
joins and groupings use (a filter changes the number as much as a summed column does).

Examples
--------
>>> schema = SourceSchema([SourceTable("dms.dms_orders", "dms", "dms_orders",
...                                    ("order_id", "total_amount", "order_status"))])
>>> reads = sql_reads(
...     "WITH done AS (SELECT * FROM dms_orders WHERE order_status = 'completed') "
...     "SELECT SUM(d.total_amount) AS revenue FROM done AS d", schema, "mysql")
>>> sorted(reads.fields)
['dms.dms_orders.order_status', 'dms.dms_orders.total_amount']
>>> from core.i18n import use
>>> with use("en"):
...     sql_reads("SELECT FROM WHERE", schema)
Traceback (most recent call last):
...
analysis.sql_lineage.SqlSyntaxError: SQL does not parse at line 1, column 13: ...
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from core.i18n import _
from graph_schema.errors import KpigraphError
from graph_schema.models import BaseNode, FieldNode, System, Table

_TOKEN = re.compile(r"<Token token_type: [^,]+, text: (.*?), line: .*?>")
#: dialect spellings users write → sqlglot's names
DIALECT_ALIASES = {
    "postgresql": "postgres",
    "pg": "postgres",
    "sparksql": "spark",
    "mariadb": "mysql",
}


class SqlSyntaxError(KpigraphError, ValueError):
    """A metric's or view's SQL does not parse. ``line``/``column`` are 1-based, in the SQL."""

    code = "sql_syntax"

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        said = (
            _(
                "SQL does not parse at line {line}, column {column}: {reason}",
                line=line,
                column=column,
                reason=reason,
            )
            if line
            else _("SQL does not parse: {reason}", reason=reason)
        )
        super().__init__(said)
        self.reason, self.line, self.column = reason, line, column


class SqlDialectError(KpigraphError, ValueError):
    """A dialect name sqlglot does not know."""

    code = "sql_dialect"


def normalize_dialect(name: str | None) -> str | None:
    """The sqlglot name of a dialect; ``None`` means sqlglot's generic SQL.

    >>> normalize_dialect("PostgreSQL"), normalize_dialect(None)
    ('postgres', None)
    >>> from core.i18n import use
    >>> with use("en"):
    ...     normalize_dialect("cobol")
    Traceback (most recent call last):
    ...
    analysis.sql_lineage.SqlDialectError: unknown SQL dialect 'cobol'; use one of ...
    """
    if not name:
        return None
    key = DIALECT_ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        sqlglot.Dialect.get_or_raise(key)
    except (ValueError, SqlglotError) as exc:
        known = "mysql, postgres, hive, spark, duckdb, bigquery, snowflake, trino, clickhouse"
        raise SqlDialectError(
            _("unknown SQL dialect {name}; use one of {known}, …", name=repr(name), known=known)
        ) from exc
    return key


@dataclass(frozen=True)
class SourceTable:
    """A table (or view, when ``sql`` is set) of ``sources.yaml``."""

    id: str  #: ``system.table``
    system: str
    name: str  #: the local name SQL uses
    columns: tuple[str, ...]
    sql: str | None = None
    dialect: str | None = None


class SourceSchema:
    """The catalog's tables, looked up the way SQL names them."""

    def __init__(self, tables: Iterable[SourceTable]) -> None:
        self.tables = {t.id: t for t in tables}
        self._by_name: dict[str, list[str]] = {}
        for t in self.tables.values():
            self._by_name.setdefault(t.name.lower(), []).append(t.id)
        self._views: dict[str, _ViewLineage] = {}
        self._resolving: set[str] = set()

    def find(self, name: str, db: str | None, prefer: Iterable[str] = ()) -> list[str]:
        """Table ids a reference ``db.name`` may mean (one when unambiguous)."""
        ids = self._by_name.get(name.lower(), [])
        if db:
            exact = [i for i in ids if self.tables[i].system.lower() == db.lower()]
            if exact:
                return exact
        if len(ids) > 1:
            preferred = [i for i in ids if self.tables[i].system in set(prefer)]
            if preferred:
                return preferred
        return ids

    def view(self, table_id: str) -> _ViewLineage:
        if table_id not in self._views:
            if table_id in self._resolving:
                raise SqlSyntaxError(
                    _("view {table_id} is defined in terms of itself", table_id=table_id)
                )
            table = self.tables[table_id]
            self._resolving.add(table_id)
            try:
                self._views[table_id] = _view_lineage(table, self)
            except SqlSyntaxError as exc:
                if exc.reason.startswith("view "):
                    raise
                raise SqlSyntaxError(
                    _("view {table_id}: {reason}", table_id=table_id, reason=exc.reason),
                    exc.line,
                    exc.column,
                ) from exc
            finally:
                self._resolving.discard(table_id)
        return self._views[table_id]

    def columns_of(self, table_id: str) -> tuple[str, ...]:
        table = self.tables[table_id]
        if table.columns or not table.sql:
            return table.columns
        return tuple(self.view(table_id).outputs)


@dataclass(frozen=True)
class SqlReads:
    """What one SQL statement reads, as catalog ids."""

    #: base columns read (``system.table.column``), through views
    fields: frozenset[str]
    #: view columns read directly (``system.view.column``)
    view_fields: frozenset[str] = frozenset()
    #: table ids read (views and the tables under them)
    tables: frozenset[str] = frozenset()
    #: table names the SQL uses that sources.yaml does not declare
    unknown_tables: tuple[str, ...] = ()
    #: ``system.table.column`` of columns a declared table does not have
    unknown_columns: tuple[str, ...] = ()
    #: columns whose table could not be told (e.g. several unknown tables joined)
    unresolved: tuple[str, ...] = ()
    #: view column read → the base columns behind it
    through_views: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass
class _ViewLineage:
    outputs: dict[str, frozenset[str]]
    cond: frozenset[str]
    tables: frozenset[str]
    unknown_tables: tuple[str, ...] = ()
    unknown_columns: tuple[str, ...] = ()


@dataclass
class _Walk:
    schema: SourceSchema
    keys: dict[str, str]  # normalised synthetic table key → table id
    fields: set[str] = field(default_factory=set)
    view_fields: set[str] = field(default_factory=set)
    tables: set[str] = field(default_factory=set)
    unknown_columns: set[str] = field(default_factory=set)
    unresolved: set[str] = field(default_factory=set)
    through_views: dict[str, frozenset[str]] = field(default_factory=dict)
    memo: dict[int, tuple[list[tuple[str, frozenset[str]]], frozenset[str]]] = field(
        default_factory=dict
    )


def parse_sql(sql: str, dialect: str | None = None) -> exp.Query:
    """One SQL statement as a sqlglot tree; :class:`SqlSyntaxError` with line/column if not."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        reason = _TOKEN.sub(r"'\1'", str(first.get("description") or exc).split("\n")[0])
        col = first.get("col")
        if isinstance(col, int) and first.get("highlight"):
            col = max(1, col - len(str(first["highlight"])) + 1)  # sqlglot points at the end
        raise SqlSyntaxError(reason, first.get("line"), col) from exc
    except TokenError as exc:
        raise SqlSyntaxError(str(exc).split("\n")[0]) from exc
    if len(statements) != 1:
        raise SqlSyntaxError(
            _("expected one statement, found {statements}", statements=len(statements))
        )
    if not isinstance(statements[0], exp.Query):
        raise SqlSyntaxError(
            _("expected a SELECT query, found {value}", value=statements[0].key.upper())
        )
    return statements[0]


def sql_reads(
    sql: str, schema: SourceSchema, dialect: str | None = None, prefer: Iterable[str] = ()
) -> SqlReads:
    """The catalog columns ``sql`` reads. ``prefer``: systems to pick when a name is ambiguous."""
    tree = parse_sql(sql, dialect)
    walk, unknown = _prepare(tree, schema, dialect, tuple(prefer))
    root = build_scope(tree)
    if root is None:
        raise SqlSyntaxError(_("not a query sqlglot can analyse"))
    outputs, cond = _scope_info(root, walk)
    reads = set(cond)
    for _out, cols in outputs:
        reads |= cols
    walk.fields |= reads
    return SqlReads(
        fields=frozenset(walk.fields),
        view_fields=frozenset(walk.view_fields),
        tables=frozenset(walk.tables),
        unknown_tables=tuple(sorted(unknown)),
        unknown_columns=tuple(sorted(walk.unknown_columns)),
        unresolved=tuple(sorted(walk.unresolved)),
        through_views=dict(walk.through_views),
    )


def _prepare(
    tree: exp.Query, schema: SourceSchema, dialect: str | None, prefer: tuple[str, ...]
) -> tuple[_Walk, set[str]]:
    """Rename catalog tables to unique keys, then qualify every column against the schema."""
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    keys: dict[str, str] = {}
    unknown: set[str] = set()
    mapping: dict[str, object] = {}
    for table in list(tree.find_all(exp.Table)):
        name, db = table.name, table.db
        if not name or (not db and name.lower() in ctes):
            continue
        found = schema.find(name, db or None, prefer)
        if len(found) != 1:
            label = f"{db}.{name}" if db else name
            unknown.add(label if not found else f"{label} (ambiguous: {', '.join(found)})")
            continue
        table_id = found[0]
        key = "t__" + table_id.replace(".", "__")
        keys[key] = table_id
        mapping[key] = {c: "text" for c in schema.columns_of(table_id)}
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
        table.set("this", exp.to_identifier(key))
        table.set("db", None)
        table.set("catalog", None)
    try:
        qualify(
            tree,
            schema=mapping,
            dialect=dialect,
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
    except SqlglotError as exc:
        raise SqlSyntaxError(_("cannot resolve columns: {error}", error=exc)) from exc
    walk = _Walk(schema, {k.lower(): v for k, v in keys.items()})
    return walk, unknown


def _lookup(scope: Scope, alias: str) -> exp.Table | Scope | None:
    current: Scope | None = scope
    while current is not None:
        if alias in current.sources:
            source: exp.Table | Scope = current.sources[alias]
            return source
        current = current.parent
    return None


def _resolve(
    scope: Scope, col: exp.Column, walk: _Walk, in_projection: bool = False
) -> frozenset[str]:
    """Base columns behind one column reference."""
    name = col.name.lower()
    table_alias = col.table
    if not table_alias:
        selected = {s.alias_or_name.lower() for s in _selects(scope)}
        if name in selected and not in_projection:
            return frozenset()  # a reference to an output alias (ORDER BY revenue)
        if len(scope.selected_sources) != 1:
            walk.unresolved.add(col.sql())
            return frozenset()
        table_alias = next(iter(scope.selected_sources))
    source = _lookup(scope, table_alias)
    if isinstance(source, Scope):
        outputs, _ = _scope_info(source, walk)
        for out, cols in outputs:
            if out.lower() == name:
                return cols
        return frozenset().union(*(c for _, c in outputs)) if outputs else frozenset()
    if not isinstance(source, exp.Table):
        return frozenset()
    table_id = walk.keys.get(source.name.lower())
    if table_id is None:
        return frozenset()  # an unknown table: reported once, as such
    walk.tables.add(table_id)
    table = walk.schema.tables[table_id]
    known = {c.lower(): c for c in walk.schema.columns_of(table_id)}
    if name not in known:
        walk.unknown_columns.add(f"{table_id}.{name}")
        return frozenset()
    column_id = f"{table_id}.{known[name]}"
    if not table.sql:
        return frozenset({column_id})
    view = walk.schema.view(table_id)
    walk.view_fields.add(column_id)
    walk.tables |= view.tables
    behind = view.outputs.get(known[name], frozenset()) | view.cond
    walk.through_views[column_id] = behind
    return behind


def _selects(scope: Scope) -> list[exp.Expression]:
    expression = scope.expression
    return list(expression.expressions) if isinstance(expression, exp.Select) else []


def _scope_info(
    scope: Scope, walk: _Walk
) -> tuple[list[tuple[str, frozenset[str]]], frozenset[str]]:
    """(output column → base columns, in order; base columns the filters/joins read)."""
    key = id(scope)
    if key in walk.memo:
        return walk.memo[key]
    walk.memo[key] = ([], frozenset())  # guards recursive CTEs
    if isinstance(scope.expression, exp.SetOperation):
        left, right = (_scope_info(s, walk) for s in scope.set_operation_scopes)
        outputs = [
            (name, cols | (right[0][i][1] if i < len(right[0]) else frozenset()))
            for i, (name, cols) in enumerate(left[0])
        ]
        result = (outputs, left[1] | right[1])
        walk.memo[key] = result
        return result
    in_projection: set[int] = set()
    outputs = []
    own = {id(c) for c in scope.columns}
    for projection in _selects(scope):
        cols: frozenset[str] = frozenset()
        for col in projection.find_all(exp.Column):
            in_projection.add(id(col))
            if id(col) in own:
                cols |= _resolve(scope, col, walk, in_projection=True)
        outputs.append((projection.alias_or_name, cols))
    cond: set[str] = set()
    for col in scope.columns:
        if id(col) not in in_projection:
            cond |= _resolve(scope, col, walk)
    for source in scope.sources.values():
        if isinstance(source, Scope):
            cond |= _scope_info(source, walk)[1]
    for sub in scope.subquery_scopes:
        sub_out, sub_cond = _scope_info(sub, walk)
        cond |= sub_cond
        for _out, cols in sub_out:
            cond |= cols
    result = (outputs, frozenset(cond))
    walk.memo[key] = result
    return result


def _view_lineage(table: SourceTable, schema: SourceSchema) -> _ViewLineage:
    assert table.sql is not None
    dialect = normalize_dialect(table.dialect)
    tree = parse_sql(table.sql, dialect)
    walk, unknown = _prepare(tree, schema, dialect, (table.system,))
    root = build_scope(tree)
    if root is None:
        raise SqlSyntaxError(_("view {id}: not a query sqlglot can analyse", id=table.id))
    outputs, cond = _scope_info(root, walk)
    return _ViewLineage(
        outputs={name: cols for name, cols in outputs},
        cond=cond,
        tables=frozenset(walk.tables),
        unknown_tables=tuple(sorted(unknown)),
        unknown_columns=tuple(sorted(walk.unknown_columns)),
    )


def view_reads(schema: SourceSchema, table_id: str) -> SqlReads:
    """What the view ``table_id`` reads (its problems are reported once, at the view).

    >>> orders = SourceTable("d.o", "d", "o", ("id", "amt", "state"))
    >>> view = SourceTable("d.v", "d", "v", (), sql="SELECT amt FROM o WHERE state = 'done'")
    >>> sorted(view_reads(SourceSchema([orders, view]), "d.v").fields)
    ['d.o.amt', 'd.o.state']
    """
    view = schema.view(table_id)
    fields = set(view.cond)
    for cols in view.outputs.values():
        fields |= cols
    return SqlReads(
        fields=frozenset(fields),
        tables=view.tables,
        unknown_tables=view.unknown_tables,
        unknown_columns=view.unknown_columns,
    )


def schema_from_nodes(nodes: Iterable[BaseNode], dialect: str | None = None) -> SourceSchema:
    """The :class:`SourceSchema` of a catalog's systems, tables and fields; ``dialect`` is the
    catalog's, used for views of systems that declare none."""
    nodes = list(nodes)
    systems = {n.id: n for n in nodes if isinstance(n, System)}
    columns: dict[str, list[str]] = {}
    for n in nodes:
        if isinstance(n, FieldNode):
            columns.setdefault(n.table, []).append(n.id.rsplit(".", 1)[-1])
    tables = []
    for n in nodes:
        if isinstance(n, Table):
            system = systems.get(n.system)
            tables.append(
                SourceTable(
                    id=n.id,
                    system=n.system,
                    name=n.id.split(".", 1)[-1],
                    columns=tuple(columns.get(n.id, ())),
                    sql=n.sql,
                    dialect=(system.dialect if system else None) or dialect,
                )
            )
    return SourceSchema(tables)


def metric_dialect(
    declared_fields: Iterable[str], schema: SourceSchema, default: str | None
) -> str | None:
    """The dialect to read a metric's SQL in: its fields' system's, else the catalog's.

    >>> s = SourceSchema([SourceTable("hv.t", "hv", "t", ("a",), dialect="hive")])
    >>> metric_dialect(["hv.t.a"], s, "mysql"), metric_dialect([], s, "mysql")
    ('hive', 'mysql')
    """
    found = set()
    for field_id in declared_fields:
        table = schema.tables.get(field_id.rsplit(".", 1)[0])
        if table is not None and table.dialect:
            found.add(table.dialect)
    return next(iter(found)) if len(found) == 1 else default
