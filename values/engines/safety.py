"""The static SQL safety check every engine runs before a metric's SQL reaches it.

LEAD / MERGE NOTE: the helper "sec-sql" is writing the real check, ``check_metric_sql(sql, *,
tables, dialect)`` raising ``UnsafeSQLError``, in a module of its own. This file is a small local
shim with the same signature, so that :func:`values.engines.base.checked_sql` (the ONE call site)
needs only its import changed when that module lands. Until then the shim refuses what the
engines must never run: anything but one SELECT (or UNION of SELECTs), and reads of tables
outside ``tables``.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlglot
from sqlglot import exp

from graph_schema.errors import InvalidQueryError

try:  # pragma: no cover - the real check, once merged (see the note above)
    from values.sql_safety import (  # type: ignore[import-not-found,unused-ignore]
        UnsafeSQLError,
        check_metric_sql,
    )
except ImportError:

    class UnsafeSQLError(InvalidQueryError):  # type: ignore[no-redef]
        """A metric's SQL does something a values query must not (write, call out, read a
        table the catalog does not declare)."""

        code = "unsafe_sql"

    _WRITES = (
        exp.Insert,
        exp.Update,
        exp.Delete,
        exp.Create,
        exp.Drop,
        exp.Alter,
        exp.Merge,
        exp.Command,
        exp.Set,
        exp.Use,
        exp.Copy,
        exp.TruncateTable,
    )

    def check_metric_sql(sql: str, *, tables: Iterable[str] | None, dialect: str | None) -> None:
        """Refuse anything but one read-only SELECT over ``tables`` (``None``: any table)."""
        try:
            parsed = sqlglot.parse(sql, read=dialect)
        except sqlglot.errors.ParseError as exc:
            raise UnsafeSQLError(f"the SQL does not parse: {str(exc).splitlines()[0]}") from None
        statements = [p for p in parsed if p is not None]
        if len(statements) != 1:
            raise UnsafeSQLError("a metric's SQL is one SELECT statement")
        root = statements[0]
        if not isinstance(root, exp.Query):
            raise UnsafeSQLError(f"a metric's SQL is a SELECT, not {root.key.upper()}")
        for node in root.walk():
            if isinstance(node, _WRITES):
                raise UnsafeSQLError(f"a metric's SQL may not contain {node.key.upper()}")
        if tables is None:
            return
        allowed = {t.lower() for t in tables}
        ctes = {c.alias_or_name.lower() for c in root.find_all(exp.CTE)}
        for table in root.find_all(exp.Table):
            if not table.name:  # a table function (read_csv(...)): never allowed
                raise UnsafeSQLError("a metric's SQL reads tables, not table functions")
            name = table.name.lower()
            if name not in allowed and name not in ctes:
                raise UnsafeSQLError(
                    f"a metric's SQL reads {table.sql()!r}, not a table of its system",
                    {"allowed": sorted(allowed)},
                )


__all__ = ["UnsafeSQLError", "check_metric_sql"]
