"""Errors of the values package, each named after the failure."""

from __future__ import annotations

from graph_schema.errors import CatalogError, InvalidQueryError, NoTotalError, NoValuesError

__all__ = [
    "EngineConnectionError",
    "EngineQueryError",
    "NoTotalError",
    "NoValuesError",
    "NotValuesQueryError",
    "RateTotalError",
    "ResultBytesError",
    "RowLimitError",
    "UnknownNameError",
    "ValuesFileError",
    "ValuesQueryError",
]


class ValuesFileError(CatalogError):
    """A file under ``values/``, ``targets/`` or ``data/`` failed validation; nothing was
    loaded. Every issue names the file and the line (or row)."""

    code = "values_invalid"


class ValuesQueryError(InvalidQueryError):
    """A question about values cannot be answered as asked (a refused aggregation, a period
    of the wrong grain, too many inputs for an exact decomposition)."""

    code = "values_query"


class EngineConnectionError(ValuesQueryError):
    """A system's connection cannot be resolved or reached (a missing variable, an unreadable
    secrets file, a URL of an unknown kind, a server that does not answer). The message never
    holds the connection's password."""

    code = "values_connection"


class EngineQueryError(ValuesQueryError):
    """A metric's SQL failed on its system's engine (or was refused before it ran): the message
    names the metric, the system and the engine's own message."""

    code = "values_engine"


class RowLimitError(EngineQueryError):
    """A query's result has more rows than the engine's bound (``max_rows``). A refresh asks
    for fewer periods at a time instead (:func:`values.chunks.by_periods`); anything else
    reports it."""

    code = "values_rows"


class ResultBytesError(RowLimitError):
    """A query's result passes the engine's bound in bytes (``max_bytes``: the text of its
    rows, a hostile or mistaken SQL's ``lpad('', 100000000, 'x')`` among them), refused before
    it reaches kpigraph's memory. A refresh asks for fewer periods at a time, as for too many
    rows; one period over the bound is the error."""

    code = "values_bytes"

    @classmethod
    def over(cls, max_bytes: int) -> ResultBytesError:
        """An engine's refusal at its bound of ``max_bytes`` (worded when read)."""
        from core.i18n import N_, Said

        limit = f"{max_bytes / 1_048_576:g}"
        return cls(Said.of(N_("the result passes {limit} MiB"), limit=limit), {"limit": max_bytes})


class NotValuesQueryError(EngineQueryError):
    """A metric's SQL that does not select ``period`` and ``value``: it documents the
    calculation (seed 001 gives each metric its SQL for one month) but cannot be asked for
    values by period. ``values refresh`` lists it as skipped, not failed."""

    code = "values_not_a_query"


class RateTotalError(ValuesQueryError, NoTotalError):
    """The total (or a coarser period's total) asked of a rate whose values are by some
    dimensions only (:class:`graph_schema.errors.NoTotalError`, a refused aggregation too)."""

    code = "no_total"


class UnknownNameError(InvalidQueryError):
    """A name in the question (a dimension, a grain) is not in the catalog; ``suggestions``
    holds the close ones. The command line exits 2 on it (a usage error), the API answers 422."""

    code = "unknown_name"


def no_total_message(metric: str, by: str) -> str:
    """The message of :class:`NoTotalError` for ``metric``, whose values are by ``by`` (a
    comma-separated list of dimensions) only: what to ask instead, and how its SQL gives the
    total too."""
    from core.i18n import _

    dims = [d.strip() for d in by.split(",")]
    return _(
        "metric {metric} is a rate ('aggregation: none') whose values are given by {by} only: "
        "its total is not among them, and a rate is not summed. Ask by {by} (--by {option}), "
        "or have its SQL give the total too: GROUP BY GROUPING SETS ((period, {columns}), "
        "(period))",
        metric=repr(metric),
        by=", ".join(dims),
        option=",".join(dims),
        columns=", ".join(dims),
    )
