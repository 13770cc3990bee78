"""Is a metric's ``sql`` safe to run? One engine-independent check, pure (no I/O).

A metric's SQL is written by anyone who may propose a change, and it is run by the values
engines (DuckDB in-process; PostgreSQL, Spark). So before it is stored and again before it
runs, :func:`check_metric_sql` refuses anything but **one read-only query** over the catalog's
own tables:

- exactly one statement, a ``SELECT`` (or ``WITH … SELECT``, ``UNION`` …); no ``COPY``,
  ``ATTACH``, ``INSTALL``/``LOAD``, ``SET``/``PRAGMA``/``CALL``, ``EXPORT``/``IMPORT``, DDL or
  DML anywhere (not in a CTE either), no ``SELECT … INTO``, no recursive CTEs;
- tables only by name, and only names in ``tables`` (``sources.yaml`` tables, or the tables an
  engine has registered) or the query's own CTEs: no file paths (``FROM 'x.csv'``), no
  ``information_schema``/system catalogs, no casts to PostgreSQL's catalog-reading types
  (``::regclass``, ``::regrole``, …) or schema-qualified types, no system catalog even when
  declared (``pg_*``, ``information_schema``, ``duckdb_*``, ``sqlite_*``), no table functions
  (``read_csv``, ``range``, ``glob``, ``*_scan``, ``query_table``, …);
- functions only from an **allow-list** of plain scalar, aggregate and window functions
  (``sum``, ``count``, ``coalesce``, ``strftime``, ``date_trunc``, ``row_number``, …); anything
  else — ``read_text``, ``getenv``, ``current_setting``, ``duckdb_settings`` — is refused by
  name;
- no invisible or control characters anywhere (bidi overrides, zero-width spaces), no
  non-ASCII punctuation or spaces outside string literals, quoted names and comments (a
  fullwidth ``；`` is not a statement separator to one parser and may be to another), and no
  ``;`` or nested ``/*`` inside a comment (a comment that may hide a second statement);
- no ``${`` anywhere, not in a string or a quoted name either (Spark replaces ``${env:NAME}``,
  ``${system:…}``, ``${spark:…}`` before it parses: the server's environment would show), and
  no ``TRANSFORM … USING 'program'`` (Spark runs the program);
- SQL that does not parse in its dialect is refused too: what cannot be read cannot be judged.

A refusal is an :class:`UnsafeSQLError` whose ``reason`` names the function, table, statement
or character. Every values engine calls this before running a metric's SQL; the lint rule
``sql.unsafe`` (an error no catalog setting can turn off) calls it at validate, load and
propose.

Examples
--------
>>> check_metric_sql("SELECT strftime(d, '%Y-%m') AS period, sum(x) AS value FROM t GROUP BY 1",
...                  tables={"t"}, dialect="duckdb")
>>> from core.i18n import use
>>> def refusal(sql: str) -> UnsafeSQLError:
...     try:
...         check_metric_sql(sql, tables={"t"}, dialect="duckdb")
...     except UnsafeSQLError as exc:
...         return exc
...     raise AssertionError("not refused")
>>> with use("en"):
...     print(refusal("SELECT read_text('/proc/self/cmdline')"))
SQL refused: function read_text is not allowed ...
>>> with use("en"):
...     print(refusal("SELECT 1 FROM t; COPY t TO '/tmp/x'"))
SQL refused: more than one statement (';' then COPY …); ...

The reason is worded when it is read, in the language in use then (``why`` holds it unworded):

>>> refused = refusal("SELECT 1; SELECT 2")
>>> with use("zh"):
...     refused.reason
"不止一条语句（';' 之后是 SELECT …）；指标的 SQL 只能是一条 SELECT"
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

import sqlglot
from sqlglot import Token, TokenType, exp
from sqlglot.errors import SqlglotError

from core.i18n import N_, Said
from graph_schema.errors import KpigraphError
from graph_schema.sql_allowlist import (
    ALLOWED_FUNCS,
    ALLOWED_NAMES,
    CATALOG_TYPE,
    INVISIBLE,
    REFUSED_NODES,
    REFUSED_TYPES,
    SESSION_WORDS,
    SYSTEM_PREFIXES,
    SYSTEM_SCHEMAS,
    TEXT_TOKENS,
)

#: longer SQL is refused before parsing (a metric's query is a few lines)
MAX_SQL_CHARS = 20_000


class UnsafeSQLError(KpigraphError, ValueError):
    """A metric's SQL is refused; ``reason`` says what (a function, table, statement or
    character, by name); ``kind`` is ``parse`` when it does not parse, ``table`` when it reads
    a plain table name the catalog does not declare, else ``unsafe``."""

    code = "sql_unsafe"

    def __init__(self, reason: str | Said, kind: str = "unsafe", **values: object) -> None:
        #: the reason, worded when read (``reason``) in the language in use then
        self.why = reason if isinstance(reason, Said) else Said.of(reason, **values)
        super().__init__(Said.of(N_("SQL refused: {reason}"), reason=self.why))
        self.kind = kind

    @property
    def reason(self) -> str:
        return str(self.why)


def check_metric_sql(sql: str, *, tables: Collection[str] | None, dialect: str | None) -> None:
    """Raise :class:`UnsafeSQLError` unless ``sql`` is one read-only query over ``tables``.

    ``tables`` are the names the query may read: ``name`` or ``system.name`` (compared
    case-insensitively; a name of its own CTEs is always allowed); ``None`` lets any plain
    table name pass (for a caller that reports undeclared tables itself — file paths and
    qualified system names are still refused). ``dialect`` is a sqlglot dialect name
    (``duckdb``, ``postgres``, ``spark``, …) or ``None`` for generic SQL.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise UnsafeSQLError(N_("the SQL is empty"), "parse")
    if len(sql) > MAX_SQL_CHARS:
        raise UnsafeSQLError(
            N_("the SQL is {n} characters long (at most {most})"),
            n=f"{len(sql):,}",
            most=f"{MAX_SQL_CHARS:,}",
        )
    _check_characters(sql)
    if VARIABLE in sql:
        raise _variable()
    tokens = _tokens(sql, dialect)
    _check_tokens(sql, tokens)
    tree = _one_query(sql, tokens, dialect)
    _check_tree(tree, None if tables is None else {t.lower() for t in tables}, dialect)


#: what Spark replaces before it parses (``spark.sql.variable.substitute``)
VARIABLE = "${"


def _variable() -> UnsafeSQLError:
    return UnsafeSQLError(
        N_(
            "'${' is not allowed, not in a string either (Spark replaces ${env:NAME} and the "
            "like with the server's settings before it reads the SQL)"
        )
    )


def _refuse_char(ch: str, where: str, **values: object) -> UnsafeSQLError:
    name = unicodedata.name(ch, "unnamed")
    return UnsafeSQLError(
        N_("character U+{code} ({name}) {where}"),
        code=f"{ord(ch):04X}",
        name=name,
        where=Said.of(where, **values),
    )


def _check_characters(sql: str) -> None:
    for ch in sql:
        if ch in "\t\n\r" or " " <= ch <= "~":
            continue
        if unicodedata.category(ch) in INVISIBLE:
            raise _refuse_char(ch, N_("is invisible or a control character; remove it"))


def _tokens(sql: str, dialect: str | None) -> list[Token]:
    try:
        return list(sqlglot.Dialect.get_or_raise(dialect).tokenize(sql))
    except (SqlglotError, ValueError) as exc:
        raise UnsafeSQLError(
            N_("it does not parse: {error}"), "parse", error=_first_line(exc)
        ) from exc


def _check_tokens(sql: str, tokens: list[Token]) -> None:
    """Non-ASCII punctuation only inside strings, quoted names and comments; comments hide
    nothing; one statement (a trailing ``;`` aside)."""
    previous_end = -1
    for i, tok in enumerate(tokens):
        gap = sql[previous_end + 1 : tok.start]
        _check_gap(gap)
        previous_end = tok.end
        for comment in tok.comments:
            _check_comment(comment)
        if tok.token_type in TEXT_TOKENS:
            continue
        for ch in tok.text:
            if ch.isascii() or ch == "_":
                continue
            if unicodedata.category(ch)[0] not in "LNM":  # letters in names are fine
                raise _refuse_char(
                    ch, N_("in {token} outside a string or a quoted name"), token=repr(tok.text)
                )
        if tok.token_type is TokenType.SEMICOLON and i != len(tokens) - 1:
            after = tokens[i + 1].text.upper()
            raise UnsafeSQLError(
                N_("more than one statement (';' then {after} …); a metric's SQL is one SELECT"),
                after=after,
            )
    _check_gap(sql[previous_end + 1 :])


def _check_gap(gap: str) -> None:
    """Text between tokens: whitespace and comments only."""
    body = gap.strip()
    if not body:
        for ch in gap:
            if not ch.isascii():
                raise _refuse_char(ch, N_("is not an ASCII space; use a plain space"))
        return
    if not (body.startswith("--") or body.startswith("/*") or body.startswith("//")):
        return  # the tokenizer's own business (e.g. a dialect's comment marker)
    lead = gap[: len(gap) - len(gap.lstrip())]
    for ch in lead:
        if not ch.isascii():
            raise _refuse_char(ch, N_("is not an ASCII space; use a plain space"))


def _check_comment(text: str) -> None:
    if ";" in text:
        raise UnsafeSQLError(N_("a comment holds ';' (it may hide a second statement); remove it"))
    if "/*" in text or "*/" in text:
        raise UnsafeSQLError(N_("a comment holds '/*' or '*/' (nested comments); remove them"))
    if "\r" in text:
        raise UnsafeSQLError(N_("a comment holds a carriage return; use plain line ends"))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _one_query(sql: str, tokens: list[Token], dialect: str | None) -> exp.Expression:
    try:
        parsed = sqlglot.Dialect.get_or_raise(dialect).parser().parse(tokens, sql)
    except (SqlglotError, ValueError) as exc:
        raise UnsafeSQLError(
            N_("it does not parse: {error}"), "parse", error=_first_line(exc)
        ) from exc
    except RecursionError as exc:
        raise UnsafeSQLError(N_("it is nested too deeply to check")) from exc
    statements = [s for s in parsed if isinstance(s, exp.Expression)]
    if not statements:
        raise UnsafeSQLError(N_("the SQL is empty"), "parse")
    if len(statements) > 1:
        others = ", ".join(_statement_name(s) for s in statements[1:])
        raise UnsafeSQLError(
            N_("{n} statements ({others}); a metric's SQL is one SELECT"),
            n=len(statements),
            others=others,
        )
    tree = statements[0]
    query = tree.this if isinstance(tree, exp.Subquery) else tree
    if not isinstance(query, exp.Query):
        raise UnsafeSQLError(
            N_("{statement} is not a query; a metric's SQL is a SELECT"),
            statement=_statement_name(tree),
        )
    return tree


def _statement_name(node: exp.Expression) -> str:
    for cls, label in REFUSED_NODES:
        if isinstance(node, cls):
            if isinstance(node, exp.Command):
                return str(node.this).upper()
            return label
    if isinstance(node, exp.Query | exp.DML | exp.DDL):
        return node.key.upper()
    words = node.sql().split()  # e.g. CHECKPOINT, which sqlglot reads as a column name
    return (words[0] if words else node.key).upper()


def _check_tree(tree: exp.Expression, tables: set[str] | None, dialect: str | None) -> None:
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        if isinstance(node, REFUSED_TYPES):
            what = str(node.this).upper() if isinstance(node, exp.Command) else None
            label = next(label for cls, label in REFUSED_NODES if isinstance(node, cls))
            raise UnsafeSQLError(N_("{what} is not allowed in a metric's SQL"), what=what or label)
        if isinstance(node, exp.With) and node.args.get("recursive"):
            raise UnsafeSQLError(N_("WITH RECURSIVE is not allowed (it may never end)"))
        if isinstance(text := node.args.get("this"), str) and VARIABLE in text:
            raise _variable()  # a string or name with escapes ('$\{', E'\x24{'), unescaped
        if isinstance(node, exp.Table):
            _check_table(node, tables, ctes, dialect)
        elif isinstance(node, exp.Func):
            _check_function(node, dialect)
        elif isinstance(node, exp.Placeholder | exp.Parameter):
            raise UnsafeSQLError(N_("query parameters ($1, ?) are not allowed in a metric's SQL"))
        elif isinstance(node, exp.Column):
            _check_column(node)
        elif isinstance(node, exp.DataType):
            _check_type(node)


def _check_type(node: exp.DataType) -> None:
    if isinstance(node, exp.ObjectIdentifier):
        name = str(node.this)
    elif node.this == exp.DataType.Type.USERDEFINED:
        kind = node.args.get("kind")
        if isinstance(kind, exp.Dot):
            raise UnsafeSQLError(
                N_(
                    "the type {type} is not allowed in a metric's SQL (a schema-qualified "
                    "type); use a plain type such as numeric, text or date"
                ),
                type=kind.sql(),
            )
        name = kind.name if isinstance(kind, exp.Expression) else str(kind or "")
    else:
        return
    if CATALOG_TYPE.fullmatch(name):
        raise UnsafeSQLError(
            N_(
                "the type {type} is not allowed in a metric's SQL (a cast to it reads the "
                "database's system catalogs: role, table and schema names)"
            ),
            type=name.lower(),
        )


def _check_column(node: exp.Column) -> None:
    ident = node.this
    if (
        not node.table
        and isinstance(ident, exp.Identifier)
        and not ident.quoted
        and ident.name.lower() in SESSION_WORDS
    ):
        raise UnsafeSQLError(
            N_(
                "{word} names the database session and is not allowed in a metric's SQL (a "
                'column of that name: write it quoted, "{name}")'
            ),
            word=ident.name.upper(),
            name=ident.name,
        )


def _check_table(
    node: exp.Table, tables: set[str] | None, ctes: set[str], dialect: str | None
) -> None:
    target = node.this
    if not isinstance(target, exp.Identifier):
        if isinstance(target, exp.Func):
            raise UnsafeSQLError(
                N_("table function {name} is not allowed; read the catalog's tables by name"),
                name=_func_name(target, dialect),
            )
        # no name at all: ROWS FROM (…) keeps its functions in ``rows_from``
        shown = target if isinstance(target, exp.Expression) else node
        raise UnsafeSQLError(N_("FROM {what} is not a table name"), what=shown.sql(dialect=dialect))
    name = target.name
    label = ".".join(p for p in (node.catalog, node.db, name) if p)
    if node.catalog:
        raise UnsafeSQLError(
            N_("table {table}: a catalog-qualified name is not allowed"), table=repr(label)
        )
    if _system_name(name) or (node.db and _system_name(node.db, schema=True)):
        raise UnsafeSQLError(
            N_(
                "table {table} is the database's own catalog (settings, roles, schemas), not a "
                "table of the catalog — not even when sources.yaml declares it"
            ),
            table=repr(label),
        )
    path = any(c in name for c in "/\\.:")
    if tables is None and not path and not node.db:
        return
    if node.db:
        if tables is not None and f"{node.db}.{name}".lower() in tables:
            return
    elif name.lower() in ctes or (tables is not None and name.lower() in tables):
        return
    raise UnsafeSQLError(
        N_(
            "table {table} (a file path) is not a table of the catalog; a metric reads only the "
            "tables sources.yaml declares"
        )
        if path
        else N_(
            "table {table} is not a table of the catalog; a metric reads only the tables "
            "sources.yaml declares"
        ),
        "unsafe" if path else "table",
        table=repr(label),
    )


def _system_name(name: str, *, schema: bool = False) -> bool:
    lowered = name.lower()
    return lowered.startswith(SYSTEM_PREFIXES) or (schema and lowered in SYSTEM_SCHEMAS)


def _func_name(node: exp.Func, dialect: str | None) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    try:
        text = node.sql(dialect=dialect)
    except SqlglotError:
        text = node.key
    return text.split("(", 1)[0].strip() or node.key


def _check_function(node: exp.Func, dialect: str | None) -> None:
    if isinstance(node, exp.Anonymous):
        name = str(node.name)
        if name.lower() in ALLOWED_NAMES and name.isascii():
            return
    elif type(node) in ALLOWED_FUNCS:
        return
    raise UnsafeSQLError(
        N_(
            "function {name} is not allowed in a metric's SQL (allowed: plain scalar, aggregate "
            "and window functions such as sum, count, coalesce, strftime, date_trunc)"
        ),
        name=_func_name(node, dialect),
    )
