"""Asking an engine for many periods within its row bound.

Every engine returns at most ``max_rows`` rows a query (values/engines/base.py). A refresh of a
metric with many members — 100 stores × 53 products × 4 channels is 21,200 rows a month, half a
million for two years — asks for fewer periods at a time instead of failing: the whole list
first (one query when it fits), and after a :class:`~values.errors.RowLimitError` half as many
periods a query, then the rest of the list in chunks of the size that fitted. A single period
over the bound is still the error (the message says to ask for fewer members).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from values.errors import RowLimitError

T = TypeVar("T")


def by_periods(ask: Callable[[tuple[str, ...]], list[T]], periods: Sequence[str]) -> list[T]:
    """``ask(chunk)`` over consecutive chunks of ``periods``, the results in order.

    >>> calls = []
    >>> def ask(chunk):
    ...     calls.append(len(chunk))
    ...     if len(chunk) * 10 > 25:
    ...         raise RowLimitError("too many")
    ...     return [p for p in chunk]
    >>> by_periods(ask, ["01", "02", "03", "04", "05"])
    ['01', '02', '03', '04', '05']
    >>> calls  # 5 and 3 refused, then chunks of 2 (the size that fitted) and the last one
    [5, 3, 2, 2, 1]
    """
    out: list[T] = []
    size, i = len(periods), 0
    while i < len(periods):
        chunk = tuple(periods[i : i + size])
        try:
            out.extend(ask(chunk))
        except RowLimitError:
            if len(chunk) == 1:
                raise
            size = (len(chunk) + 1) // 2
            continue
        i += len(chunk)
    return out
