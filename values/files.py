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
from core.i18n import N_, Said
from graph_schema.errors import CatalogIssue
from values.errors import ValuesFileError
from values.file_checks import (
    check_rows,
    check_table,
    is_numeric_column,
    numeric,
)

SUFFIXES = (".csv", ".parquet")
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
            issues.append(CatalogIssue(rel, None, Said.of(LINKED_OUT), Said.of(ADVICE)))
            continue
        if path.suffix.lower() not in SUFFIXES:
            issues.append(
                CatalogIssue(
                    rel,
                    None,
                    Said.of(N_("unexpected file")),
                    Said.of(N_("{folder}/ holds .csv or .parquet"), folder=folder),
                )
            )
            continue
        name = f"_raw_{folder}_{n}"
        dims = _read_file(con, path, rel, name, column, known_dims, issues)
        if dims is not None:
            try:  # a Parquet file is read where it lies: a damaged page shows here
                check_rows(con, name, rel, path.suffix.lower() == ".parquet", column, issues)
            except duckdb.Error as exc:
                issues.append(_unreadable(rel, exc))
                _drop_raw(con, name)
                continue
            staged.append((name, dims))
            sources.append((rel, path.suffix.lower() == ".parquet"))
            out.files.append(rel)
    all_dims = sorted({d for _, dims in staged for d in dims})
    out.dims = tuple(all_dims)
    con.execute(f"DROP TABLE IF EXISTS {table}")
    try:
        _stage(con, staged, all_dims, column, table)
        check_table(con, table, all_dims, known_metrics, issues, sources)
    except duckdb.Error as exc:  # a damaged page of a column the row checks do not read
        issues.append(_unreadable(f"{folder}/", exc))
    for name, _dims in staged:
        _drop_raw(con, name)
    if issues:
        con.execute(f"DROP TABLE IF EXISTS {table}")
        raise ValuesFileError(issues)
    _finish(con, table, all_dims, out)
    return out


def _unreadable(rel: str, exc: duckdb.Error) -> CatalogIssue:
    first = str(exc).splitlines()[0]
    return CatalogIssue(
        rel,
        None,
        Said.of(N_("cannot read: {error}"), error=first),
        Said.of(N_("save it as UTF-8 CSV with a header")),
    )


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
            [CatalogIssue(label, None, Said.of(N_("sql failed: {error}"), error=first))]
        ) from exc
    cols = [r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()]
    if "metric" in [c.lower() for c in cols]:
        _drop_raw(con, raw)
        raise ValuesFileError(
            [
                CatalogIssue(
                    label,
                    None,
                    Said.of(N_("sql returns a 'metric' column")),
                    Said.of(N_("return period, dimension columns and value")),
                )
            ]
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT '_' AS metric, * FROM {raw}")
    dims = _columns(con, raw, label, "value", known_dims, issues)
    out = ObservedTable(table)
    if dims is not None:
        check_rows(con, raw, label, True, "value", issues)
        if not issues:
            con.execute(f"DROP TABLE IF EXISTS {table}")
            _stage(con, [(raw, dims)], sorted(dims), "value", table)
            check_table(con, table, sorted(dims), lambda ids: set(ids), issues, [(label, True)])
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
                Said.of(N_("cannot read: {error}"), error=first),
                Said.of(N_("save it as UTF-8 CSV with a header")),
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
                Said.of(N_("missing column(s) {columns}"), columns=", ".join(missing)),
                Said.of(
                    N_("the header is metric, period, [dimension ids...], {column}"), column=column
                ),
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
                Said.of(N_("column {column} is not allowed here"), column=repr(c)),
                Said.of(N_("time goes in 'period'")),
            )
        )
    for c in unknown:
        issues.append(
            CatalogIssue(
                rel,
                1,
                Said.of(N_("unknown dimension column {column}"), column=repr(c)),
                Said.of(N_("dimension columns are named by dimension id (dimensions.yaml)")),
            )
        )
    if wrong or unknown:
        return None
    types = dict((r[0], r[1]) for r in described)
    # a numeric value column (Parquet) stays a number: no text round trip on a million rows
    renames = ", ".join(
        f'CAST("{c}" AS DOUBLE) AS "{lc}"'
        if lc == column and numeric(types.get(c, ""))
        else f'CAST("{c}" AS VARCHAR) AS "{lc}"'
        for c, lc in zip(cols, lowered, strict=True)
    )
    # a view (no copy): the file's row number, lower-case names, text
    kind, row = ("VIEW", "file_row_number") if in_place else ("TABLE", "rowid")
    con.execute(f"ALTER {kind} {name} RENAME TO {name}_t")
    con.execute(f"CREATE TEMP VIEW {name} AS SELECT {row} AS _row, {renames} FROM {name}_t")
    return other


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
            if is_numeric_column(con, name, column)
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


def _finish(
    con: duckdb.DuckDBPyConnection, table: str, dims: list[str], out: ObservedTable
) -> None:
    for metric, grain, plen in con.execute(
        f"SELECT metric, grain, max(length(period)) FROM {table} GROUP BY ALL"
    ).fetchall():
        out.grains.setdefault(metric, set()).add(int(grain))
        out.period_len[metric] = int(plen)
    (out.rows,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[misc]
