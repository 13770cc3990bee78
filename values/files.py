"""Reading ``values/`` and ``targets/`` (tidy CSV or Parquet) into one validated DuckDB table.

A file has the columns ``metric`` (id), ``period`` (``YYYY-MM`` or ``YYYY-MM-DD``), zero or
more dimension columns named by dimension id (an empty cell means "all") and ``value`` (in
``targets/``: ``target``). Every problem of every file is collected first — unknown metric or
dimension, bad period, non-numeric value, duplicate rows, a metric given at two period grains —
and reported with its file and line (CSV: the line in the file; Parquet: the row number);
when there is any, nothing is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core.confined import ADVICE, LINKED_OUT, escapes
from core.i18n import N_, _
from graph_schema.errors import CatalogIssue
from graph_schema.periods import PERIOD_PATTERN
from values.errors import ValuesFileError

SUFFIXES = (".csv", ".parquet")
#: Issues reported per check and file before "and N more".
MAX_ISSUES_PER_CHECK = 5
RESERVED = {"metric", "period", "value", "target"}


@dataclass
class ObservedTable:
    """What was loaded: the DuckDB table, its dimension columns, and per metric the grains
    present (a grain is a bit mask over ``dims``) and the period length (7 or 10)."""

    table: str
    dims: tuple[str, ...] = ()
    grains: dict[str, set[int]] = field(default_factory=dict)
    period_len: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    rows: int = 0


def _where(rel: str, parquet: bool, index: int) -> tuple[str, int | None]:
    """CSV rows are reported by line (header is line 1); Parquet rows by row number."""
    return (f"{rel} (row {index + 1})", None) if parquet else (rel, index + 2)


def load_table(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    folder: str,
    column: str,
    table: str,
    known_metrics: Callable[[Iterable[str]], set[str]],
    known_dims: Callable[[Iterable[str]], set[str]],
) -> ObservedTable:
    """Validate every file under ``root/folder`` and load them into ``table``.

    Raises
    ------
    ValuesFileError
        Listing every problem found, nothing loaded.
    """
    out = ObservedTable(table)
    base = root / folder
    paths = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []
    issues: list[CatalogIssue] = []
    staged: list[tuple[str, list[str]]] = []
    sources: list[tuple[str, bool]] = []  # (file, is parquet) of each staged table
    for n, path in enumerate(paths):
        rel = str(path.relative_to(root))
        if path.name.startswith(".") or path.suffix.lower() == ".md":
            continue
        if escapes(root, path):
            issues.append(CatalogIssue(rel, None, LINKED_OUT, ADVICE))
            continue
        if path.suffix.lower() not in SUFFIXES:
            issues.append(
                CatalogIssue(
                    rel,
                    None,
                    _("unexpected file"),
                    _("{folder}/ holds .csv or .parquet", folder=folder),
                )
            )
            continue
        name = f"_raw_{folder}_{n}"
        dims = _read_file(con, path, rel, name, column, known_dims, issues)
        if dims is not None:
            staged.append((name, dims))
            sources.append((rel, path.suffix.lower() == ".parquet"))
            out.files.append(rel)
            _check_rows(con, name, rel, path.suffix.lower() == ".parquet", column, issues)
    all_dims = sorted({d for _, dims in staged for d in dims})
    out.dims = tuple(all_dims)
    con.execute(f"DROP TABLE IF EXISTS {table}")
    _stage(con, staged, all_dims, column, table)
    _check_table(con, table, all_dims, known_metrics, issues, sources)
    for name, _dims in staged:
        _drop_raw(con, name)
    if issues:
        con.execute(f"DROP TABLE IF EXISTS {table}")
        raise ValuesFileError(issues)
    _finish(con, table, all_dims, out)
    return out


def _drop_raw(con: duckdb.DuckDBPyConnection, name: str) -> None:
    for kind, table in con.execute(
        "SELECT 'VIEW', view_name FROM duckdb_views() WHERE view_name IN ($a, $b) UNION ALL "
        "SELECT 'TABLE', table_name FROM duckdb_tables() WHERE table_name IN ($a, $b)",
        {"a": name, "b": f"{name}_t"},
    ).fetchall():
        con.execute(f"DROP {kind} IF EXISTS {table}")


def load_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    label: str,
    table: str,
    known_dims: Callable[[Iterable[str]], set[str]],
) -> ObservedTable:
    """Run a metric's ``sql`` and load its tidy result (``period``, dimension columns,
    ``value``) into ``table``, with the same checks as a values file.

    Raises
    ------
    ValuesFileError
        When the query fails or returns rows that are not tidy values.
    """
    raw = f"_raw_{table}"
    issues: list[CatalogIssue] = []
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM ({sql})")
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise ValuesFileError(
            [CatalogIssue(label, None, _("sql failed: {error}", error=first))]
        ) from exc
    cols = [r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()]
    if "metric" in [c.lower() for c in cols]:
        _drop_raw(con, raw)
        raise ValuesFileError(
            [
                CatalogIssue(
                    label,
                    None,
                    _("sql returns a 'metric' column"),
                    _("return period, dimension columns and value"),
                )
            ]
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT '_' AS metric, * FROM {raw}")
    dims = _columns(con, raw, label, "value", known_dims, issues)
    out = ObservedTable(table)
    if dims is not None:
        _check_rows(con, raw, label, True, "value", issues)
        if not issues:
            con.execute(f"DROP TABLE IF EXISTS {table}")
            _stage(con, [(raw, dims)], sorted(dims), "value", table)
            _check_table(con, table, sorted(dims), lambda ids: set(ids), issues, [(label, True)])
    _drop_raw(con, raw)
    if issues:
        con.execute(f"DROP TABLE IF EXISTS {table}")
        raise ValuesFileError(issues)
    out.dims = tuple(sorted(dims or []))
    _finish(con, table, list(out.dims), out)
    return out


def _read_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rel: str,
    name: str,
    column: str,
    known_dims: Callable[[Iterable[str]], set[str]],
    issues: list[CatalogIssue],
) -> list[str] | None:
    parquet = path.suffix.lower() == ".parquet"
    try:
        if parquet:  # read in place (no copy): a view, the row number the file's own
            literal = str(path).replace("'", "''")
            con.execute(
                f"CREATE TEMP VIEW {name} AS SELECT * FROM "
                f"read_parquet('{literal}', file_row_number = true)"
            )
        else:
            con.execute(
                f"CREATE TEMP TABLE {name} AS SELECT * FROM "
                "read_csv($p, all_varchar=true, header=true, encoding='utf-8')",
                {"p": str(path)},
            )
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        issues.append(
            CatalogIssue(
                rel,
                None,
                _("cannot read: {error}", error=first),
                _("save it as UTF-8 CSV with a header"),
            )
        )
        return None
    return _columns(con, name, rel, column, known_dims, issues, in_place=parquet)


def _columns(
    con: duckdb.DuckDBPyConnection,
    name: str,
    rel: str,
    column: str,
    known_dims: Callable[[Iterable[str]], set[str]],
    issues: list[CatalogIssue],
    *,
    in_place: bool = False,
) -> list[str] | None:
    """Check the header; rename columns to lower case, cast to text, number the rows.
    ``in_place``: ``name`` is a view of a Parquet file read with its ``file_row_number``."""
    described = con.execute(f"DESCRIBE {name}").fetchall()
    cols = [r[0] for r in described if not (in_place and r[0] == "file_row_number")]
    lowered = [c.strip().lower() for c in cols]
    missing = [c for c in ("metric", "period", column) if c not in lowered]
    if missing:
        issues.append(
            CatalogIssue(
                rel,
                1,
                _("missing column(s) {columns}", columns=", ".join(missing)),
                _("the header is metric, period, [dimension ids...], {column}", column=column),
            )
        )
        return None
    other = [c for c in lowered if c not in ("metric", "period", column)]
    wrong = [c for c in other if c in RESERVED or c == "time"]
    unknown = sorted(set(other) - known_dims(other) - set(wrong))
    for c in wrong:
        issues.append(
            CatalogIssue(
                rel,
                1,
                _("column {column} is not allowed here", column=repr(c)),
                _("time goes in 'period'"),
            )
        )
    for c in unknown:
        issues.append(
            CatalogIssue(
                rel,
                1,
                _("unknown dimension column {column}", column=repr(c)),
                _("dimension columns are named by dimension id (dimensions.yaml)"),
            )
        )
    if wrong or unknown:
        return None
    types = dict((r[0], r[1]) for r in described)
    # a numeric value column (Parquet) stays a number: no text round trip on a million rows
    renames = ", ".join(
        f'CAST("{c}" AS DOUBLE) AS "{lc}"'
        if lc == column and _numeric(types.get(c, ""))
        else f'CAST("{c}" AS VARCHAR) AS "{lc}"'
        for c, lc in zip(cols, lowered, strict=True)
    )
    # a view (no copy): the file's row number, lower-case names, text
    kind, row = ("VIEW", "file_row_number") if in_place else ("TABLE", "rowid")
    con.execute(f"ALTER {kind} {name} RENAME TO {name}_t")
    con.execute(f"CREATE TEMP VIEW {name} AS SELECT {row} AS _row, {renames} FROM {name}_t")
    return other


def _numeric(data_type: str) -> bool:
    base = data_type.upper().split("(")[0]
    return base in {
        "DOUBLE",
        "FLOAT",
        "REAL",
        "DECIMAL",
        "BIGINT",
        "INTEGER",
        "SMALLINT",
        "TINYINT",
        "HUGEINT",
        "UBIGINT",
        "UINTEGER",
        "USMALLINT",
        "UTINYINT",
    }


def _is_numeric_column(con: duckdb.DuckDBPyConnection, name: str, column: str) -> bool:
    types = dict((r[0], r[1]) for r in con.execute(f"DESCRIBE {name}").fetchall())
    return _numeric(types.get(column, ""))


def _check_rows(
    con: duckdb.DuckDBPyConnection,
    name: str,
    rel: str,
    parquet: bool,
    column: str,
    issues: list[CatalogIssue],
) -> None:
    numeric = _is_numeric_column(con, name, column)
    checks = [
        (
            "metric IS NULL OR trim(metric) = ''",
            N_("empty metric id"),
            N_("every row names a metric id"),
        ),
        (
            f"period IS NULL OR NOT regexp_full_match(trim(period), '{PERIOD_PATTERN}')",
            N_("bad period {period}"),
            N_("write YYYY-MM or YYYY-MM-DD, a year from 1900 to 2200"),
        ),
        (
            f"regexp_full_match(trim(period), '{PERIOD_PATTERN}') AND length(trim(period)) = 10 "
            "AND TRY_CAST(trim(period) AS DATE) IS NULL",
            N_("period {period} is not a calendar date"),
            N_("write a day that exists (2024-02-29, not 2024-02-31)"),
        ),
        (
            f'"{column}" IS NULL OR isnan("{column}")'
            if numeric
            else f'"{column}" IS NULL OR trim("{column}") = \'\'',
            N_("empty {column}"),
            N_("leave the row out instead of leaving the value empty"),
        ),
    ]
    as_number = f'"{column}"' if numeric else f'TRY_CAST(trim("{column}") AS DOUBLE)'
    if not numeric:
        checks.append(
            (
                f'"{column}" IS NOT NULL AND trim("{column}") <> \'\' AND '
                f'TRY_CAST(trim("{column}") AS DOUBLE) IS NULL',
                N_("{column} {value} is not a number"),
                N_("write plain numbers: 1250.5 (no thousands separators or units)"),
            )
        )
    # NaN, inf and 1e309 (which reads as inf) are numbers to DuckDB, not values to anyone
    checks.append(
        (
            f"{as_number} IS NOT NULL AND NOT isfinite({as_number})"
            + ("" if not numeric else f" AND NOT isnan({as_number})"),
            N_("{column} {value} is not a finite number"),
            N_("write a finite number; leave the row out when there is no value"),
        )
    )
    # how many rows fail each check, in one pass (those on metric and period alone over the
    # distinct pairs: a regular expression on a few values, not on every row); the rows of
    # a failing check only then
    on_pairs = [i for i, (c, _m, _h) in enumerate(checks) if f'"{column}"' not in c]
    on_rows = [i for i in range(len(checks)) if i not in on_pairs]
    failing: list[int] = []
    for which, source in (
        (on_pairs, f"(SELECT DISTINCT metric, period FROM {name})"),
        (on_rows, name),
    ):
        if which:
            counts = con.execute(
                "SELECT "
                + ", ".join(f"count(*) FILTER (WHERE {checks[i][0]})" for i in which)
                + f" FROM {source}"
            ).fetchone()
            failing += [i for i, n in zip(which, counts or (), strict=False) if n]
    for condition, message, hint in [checks[i] for i in sorted(failing)]:
        rows = con.execute(
            f'SELECT _row, period, "{column}" FROM {name} WHERE {condition} ORDER BY _row '
            f"LIMIT {MAX_ISSUES_PER_CHECK + 1}"
        ).fetchall()
        for row, period, value in rows[:MAX_ISSUES_PER_CHECK]:
            file, line = _where(rel, parquet, row)
            text = _(message).format(column=column, period=repr(period), value=repr(value))
            issues.append(CatalogIssue(file, line, text, _(hint)))
        if len(rows) > MAX_ISSUES_PER_CHECK:
            (total,) = con.execute(f"SELECT count(*) FROM {name} WHERE {condition}").fetchone()  # type: ignore[misc]
            issues.append(
                CatalogIssue(
                    rel, None, _("… {n} more rows like that", n=total - MAX_ISSUES_PER_CHECK)
                )
            )


def _stage(
    con: duckdb.DuckDBPyConnection,
    staged: list[tuple[str, list[str]]],
    all_dims: list[str],
    column: str,
    table: str,
) -> None:
    parts = []
    for n, (name, dims) in enumerate(staged):
        value = (
            f'"{column}"'
            if _is_numeric_column(con, name, column)
            else f'TRY_CAST(trim("{column}") AS DOUBLE)'
        )
        dim_cols = ", ".join(
            f'NULLIF(trim("{d}"), \'\') AS "{d}"' if d in dims else f'NULL::VARCHAR AS "{d}"'
            for d in all_dims
        )
        parts.append(
            f"SELECT {n} AS _file, _row, trim(metric) AS metric, trim(period) AS period"
            f"{', ' + dim_cols if dim_cols else ''}, "
            f"{value} AS value FROM {name}"
        )
    body = " UNION ALL ".join(parts) if parts else _empty_select(all_dims)
    mask = " + ".join(
        f'(CASE WHEN "{d}" IS NULL THEN 0 ELSE {1 << i} END)' for i, d in enumerate(all_dims)
    )
    # in file order (one thread keeps it); then sorted, unless each metric, grain and period
    # already lies in one run of rows, so that a query for one of them reads few row groups
    grain = f"({mask or '0'})::INTEGER AS grain"
    con.execute(f"CREATE TABLE {table} AS SELECT *, {grain} FROM ({body})")
    if not _clustered(con, table):
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} "
            "ORDER BY metric, grain, period"
        )


def _clustered(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the rows of each metric, grain and period of ``table`` are one run of rows."""
    runs = con.execute(
        f"SELECT min(rowid), max(rowid), count(*) FROM {table} GROUP BY metric, grain, period "
        "ORDER BY 1"
    ).fetchall()
    end = -1
    for lo, hi, n in runs:
        if lo <= end or hi - lo + 1 != n:
            return False
        end = hi
    return True


def _empty_select(all_dims: list[str]) -> str:
    dims = "".join(f', NULL::VARCHAR AS "{d}"' for d in all_dims)
    return (
        "SELECT 0 AS _file, 0::BIGINT AS _row, NULL::VARCHAR AS metric, "
        f"NULL::VARCHAR AS period{dims}, NULL::DOUBLE AS value WHERE false"
    )


def _check_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    all_dims: list[str],
    known_metrics: Callable[[Iterable[str]], set[str]],
    issues: list[CatalogIssue],
    sources: list[tuple[str, bool]],
) -> None:
    names = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT metric FROM {table} WHERE metric IS NOT NULL"
        ).fetchall()
    ]
    known = known_metrics(names)
    for metric in sorted(set(names) - known):
        f, row = con.execute(
            f"SELECT _file, min(_row) FROM {table} WHERE metric = $m GROUP BY _file "
            "ORDER BY _file LIMIT 1",
            {"m": metric},
        ).fetchone()  # type: ignore[misc]
        issues.append(
            _issue_at(
                sources,
                f,
                row,
                _("unknown metric {metric}", metric=repr(metric)),
                _("use a metric id from the catalog"),
            )
        )
    key = ", ".join(["metric", "period", *(f'"{d}"' for d in all_dims)])
    keys = _duplicate_keys(con, table, key)
    cols = ["metric", "period", *all_dims]
    dups = []
    for values in keys:
        match = " AND ".join(f'"{c}" IS NOT DISTINCT FROM $k{i}' for i, c in enumerate(cols))
        found = con.execute(
            f"SELECT _file, _row FROM {table} WHERE {match} ORDER BY _file, _row LIMIT 2",
            {f"k{i}": v for i, v in enumerate(values)},
        ).fetchall()
        dups.append((*values, [f for f, _ in found], [r for _, r in found]))
    for dup in dups:
        file_ids, rows = dup[-2], dup[-1]
        first = _issue_at(sources, file_ids[0], rows[0], "", None)
        where = f"{first.file}:{first.line}" if first.line else first.file
        issues.append(
            _issue_at(
                sources,
                file_ids[1],
                rows[1],
                _(
                    "duplicate row for metric {metric}, period {period} (first at {where})",
                    metric=repr(dup[0]),
                    period=dup[1],
                    where=where,
                ),
                _("keep one row per metric, period and dimension members"),
            )
        )
    mixed = con.execute(
        f"SELECT metric FROM (SELECT DISTINCT metric, period FROM {table}) "
        f"WHERE regexp_full_match(period, '{PERIOD_PATTERN}') "
        "GROUP BY metric HAVING count(DISTINCT length(period)) > 1"
    ).fetchall()
    for (metric,) in mixed:
        issues.append(
            CatalogIssue(
                sources[0][0].split("/")[0] + "/",
                None,
                _(
                    "metric {metric} mixes monthly (YYYY-MM) and daily (YYYY-MM-DD) periods",
                    metric=repr(metric),
                ),
                _("give one metric at one period grain; monthly values are rolled up from daily"),
            )
        )


def _duplicate_keys(
    con: duckdb.DuckDBPyConnection, table: str, key: str
) -> list[tuple[object, ...]]:
    """Up to :data:`MAX_ISSUES_PER_CHECK` keys (``key``'s columns) that more than one row of
    ``table`` has. Every row's 64-bit hash of its key, sorted: no two equal hashes, no
    duplicate (one pass, no hash table of millions of keys); else the keys of the rows with
    a repeated hash are grouped exactly (a collision is no duplicate)."""
    import numpy as np

    hashes = con.execute(f"SELECT hash({key}) AS h FROM {table}").fetchnumpy()["h"]
    hashes = np.sort(np.asarray(hashes, dtype=np.uint64))
    repeated = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
    del hashes
    if not len(repeated):
        return []
    only = (
        f" WHERE hash({key}) IN ({', '.join(str(int(h)) for h in repeated)})"
        if len(repeated) <= 1000
        else ""
    )
    return con.execute(
        f"SELECT {key} FROM {table}{only} GROUP BY ALL HAVING count(*) > 1 "
        f"LIMIT {MAX_ISSUES_PER_CHECK}"
    ).fetchall()


def _issue_at(
    sources: list[tuple[str, bool]],
    file_id: int,
    row: int,
    message: str,
    hint: str | None,
) -> CatalogIssue:
    rel, parquet = sources[file_id]
    file, line = _where(rel, parquet, row)
    return CatalogIssue(file, line, message, hint)


def _finish(
    con: duckdb.DuckDBPyConnection, table: str, dims: list[str], out: ObservedTable
) -> None:
    for metric, grain, plen in con.execute(
        f"SELECT metric, grain, max(length(period)) FROM {table} GROUP BY ALL"
    ).fetchall():
        out.grains.setdefault(metric, set()).add(int(grain))
        out.period_len[metric] = int(plen)
    (out.rows,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[misc]
