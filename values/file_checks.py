"""The checks of ``values/`` and ``targets/`` rows (:mod:`values.files`): each row's metric,
period and value, then over the staged table unknown metrics, duplicate keys and metrics at two
period grains — every problem with its file and line (CSV) or row number (Parquet)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import duckdb

from core.i18n import N_, Said
from graph_schema.errors import CatalogIssue
from graph_schema.periods import PERIOD_PATTERN

#: Issues reported per check and file before "and N more".
MAX_ISSUES_PER_CHECK = 5


def row_place(rel: str, parquet: bool, index: int) -> tuple[str, int | None]:
    """CSV rows are reported by line (header is line 1); Parquet rows by row number."""
    return (f"{rel} (row {index + 1})", None) if parquet else (rel, index + 2)


def numeric(data_type: str) -> bool:
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


def is_numeric_column(con: duckdb.DuckDBPyConnection, name: str, column: str) -> bool:
    types = dict((r[0], r[1]) for r in con.execute(f"DESCRIBE {name}").fetchall())
    return numeric(types.get(column, ""))


def check_rows(
    con: duckdb.DuckDBPyConnection,
    name: str,
    rel: str,
    parquet: bool,
    column: str,
    issues: list[CatalogIssue],
) -> None:
    numeric = is_numeric_column(con, name, column)
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
            file, line = row_place(rel, parquet, row)
            text = Said.of(message, column=column, period=repr(period), value=repr(value))
            issues.append(CatalogIssue(file, line, text, Said.of(hint)))
        if len(rows) > MAX_ISSUES_PER_CHECK:
            (total,) = con.execute(f"SELECT count(*) FROM {name} WHERE {condition}").fetchone()  # type: ignore[misc]
            issues.append(
                CatalogIssue(
                    rel,
                    None,
                    Said.of(N_("… {n} more rows like that"), n=total - MAX_ISSUES_PER_CHECK),
                )
            )


def check_table(
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
            issue_at(
                sources,
                f,
                row,
                Said.of(N_("unknown metric {metric}"), metric=repr(metric)),
                Said.of(N_("use a metric id from the catalog")),
            )
        )
    key = ", ".join(["metric", "period", *(f'"{d}"' for d in all_dims)])
    keys = duplicate_keys(con, table, key)
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
        first = issue_at(sources, file_ids[0], rows[0], "", None)
        where = f"{first.file}:{first.line}" if first.line else first.file
        issues.append(
            issue_at(
                sources,
                file_ids[1],
                rows[1],
                Said.of(
                    N_("duplicate row for metric {metric}, period {period} (first at {where})"),
                    metric=repr(dup[0]),
                    period=dup[1],
                    where=where,
                ),
                Said.of(N_("keep one row per metric, period and dimension members")),
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
                Said.of(
                    N_("metric {metric} mixes monthly (YYYY-MM) and daily (YYYY-MM-DD) periods"),
                    metric=repr(metric),
                ),
                Said.of(
                    N_(
                        "give one metric at one period grain; monthly values are rolled up from "
                        "daily"
                    )
                ),
            )
        )


def duplicate_keys(con: duckdb.DuckDBPyConnection, table: str, key: str) -> list[tuple[Any, ...]]:
    """Up to :data:`MAX_ISSUES_PER_CHECK` keys (``key``'s columns) that more than one row of
    ``table`` has. Every row's 64-bit hash of its key, sorted: no two equal hashes, no
    duplicate (one pass, no hash table of millions of keys); else the keys of the rows with
    a repeated hash are grouped exactly (a collision is no duplicate)."""
    import numpy as np

    hashes = con.execute(f"SELECT hash({key}) AS h FROM {table}").fetchnumpy()["h"]
    hashes = np.asarray(hashes, dtype=np.uint64)
    if not hashes.flags.writeable:
        hashes = hashes.copy()
    hashes.sort()  # in place: 8 bytes a row, once
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


def issue_at(
    sources: list[tuple[str, bool]],
    file_id: int,
    row: int,
    message: str | Said,
    hint: str | Said | None,
) -> CatalogIssue:
    rel, parquet = sources[file_id]
    file, line = row_place(rel, parquet, row)
    return CatalogIssue(file, line, message, hint)
