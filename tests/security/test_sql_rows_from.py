"""``FROM ROWS FROM (f(…))`` (PostgreSQL's table-function list, which sqlglot reads in every
dialect) crashed the SQL check with ``AttributeError`` instead of refusing it: the check that
lint, load, propose, apply and every values engine run raised a bare exception (a 500 from
``POST /api/changes``, a traceback from ``kpigraph validate``). Refused now, with its reason."""

from __future__ import annotations

import pytest

from graph_schema.sql_safety import UnsafeSQLError, check_metric_sql

SQL = [
    "SELECT count(*) AS value FROM t, ROWS FROM (generate_series(1, 3)) AS g",
    "SELECT * FROM ROWS FROM (pg_ls_dir('/'), sum(1))",
    "SELECT * FROM ROWS FROM (t)",
]


@pytest.mark.parametrize("dialect", ["postgres", "duckdb", "spark", None])
@pytest.mark.parametrize("sql", SQL)
def test_rows_from_is_refused_not_a_crash(sql: str, dialect: str | None) -> None:
    with pytest.raises(UnsafeSQLError) as caught:
        check_metric_sql(sql, tables={"t"}, dialect=dialect)
    assert "ROWS FROM" in caught.value.reason
