"""The leaves of a localisation read column-wise: for cubes of millions of leaves, the values
engine's frames come as pyarrow tables (:meth:`values.engine.ValuesEngine.frame_table`) and
become the search's :class:`~analysis.localize.Cube` without a Python object per leaf.

The cube is the one the dictionary path builds (:func:`analysis.explain_localize.localize_metric`
below :data:`COLUMNAR_LEAVES`): the leaves in the order of their sorted member names, each
dimension's members numbered in the order they first appear, and the values summed term by
term in the same order — so the search gives the same answer on either path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.explain_types import PeriodPair, ValueSource
from analysis.localize import Cube
from analysis.localize_budget import MAX_LEAVES, check_size
from analysis.localize_lattice import group

if TYPE_CHECKING:
    import pyarrow as pa

#: From this many leaves (the product of the dimensions' member counts, an upper bound) the
#: leaves are read column-wise where the values engine can (observed values, not derived).
COLUMNAR_LEAVES = 200_000


@dataclass
class ColumnarLeaves:
    """A cube read column-wise, with what the notes say of it."""

    cube: Cube
    missing: int  # leaves without a value in one of the periods (treated as 0)
    zero_base: int  # leaves with nothing at the base and something now


def read_columnar(
    source: ValueSource,
    pair: PeriodPair,
    parts: Sequence[Mapping[str, float]],
    dims: Sequence[str],
) -> ColumnarLeaves | None:
    """The cube of ``parts`` (one measure per part: ``Σ coeff·metric``) by ``dims``, or
    ``None`` where the source cannot give every frame as a table (then the dictionary path
    answers, with its messages)."""
    fetch = getattr(source, "frame_table", None)
    if fetch is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    width = len(parts)
    # each frame's rows once (no copy a period): its values, and each row's slot — slot p
    # the base of part p, width + p its now
    tables: list[pa.Table] = []
    pieces: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []  # (values, slots)
    for p, terms in enumerate(parts):
        for name, coeff in terms.items():
            # a frame of more rows than the budget's leaves a period is refused unread (a leaf
            # has at most one row a period)
            if pair.base_p is None:
                now = fetch(name, dims, periods=[pair.period], max_rows=MAX_LEAVES)
                old = fetch(name, dims, periods=[pair.period], kind="target", max_rows=MAX_LEAVES)
                if now is None or old is None:
                    return None
                _within(max(now.num_rows, old.num_rows), MAX_LEAVES, 1, dims)
                got = [
                    (now, np.full(now.num_rows, width + p, dtype=np.int16)),
                    (old, np.full(old.num_rows, p, dtype=np.int16)),
                ]
            else:
                both = fetch(name, dims, periods=[pair.period, pair.base_p],
                             max_rows=2 * MAX_LEAVES)  # fmt: skip
                if both is None:
                    return None
                _within(both.num_rows, 2 * MAX_LEAVES, 2, dims)
                is_now = _numpy(pc.equal(both.column("period"), pair.period), np.bool_)
                got = [(both, np.where(is_now, width + p, p).astype(np.int16))]
            for table, slots in got:
                tables.append(table.select(list(dims)))
                pieces.append((_numpy(table.column("value"), np.float64) * coeff, slots))
            del got
    ranks, names = [], []
    for d in dims:
        column = pa.chunked_array(
            [c for t in tables for c in t.column(d).cast(pa.string()).chunks],
            type=pa.string(),
        )
        # one pass of hashing: the members as they come, then numbered by their sorted names
        encoded = pc.dictionary_encode(column)
        found = [str(m) for m in encoded.chunk(0).dictionary.to_pylist()] if encoded.chunks else []
        members = sorted(found)
        rank = np.zeros(len(found), dtype=np.int32)
        rank[sorted(range(len(found)), key=found.__getitem__)] = np.arange(len(found))
        index = [c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks]
        ranks.append(rank[np.concatenate(index)] if index else np.zeros(0, np.int32))
        names.append(members)
        del column, encoded, index
    del tables  # the members' names are numbered: the rows' text is no longer needed
    sizes = [max(len(m), 1) for m in names]
    rows = sum(len(v) for v, _ in pieces)
    if rows:
        inverse, first = group(ranks, list(range(len(dims))), sizes)
    else:
        inverse, first = np.zeros(0, np.int64), np.zeros(0, np.int64)
    return _assemble(list(dims), pieces, ranks, names, sizes, width, inverse, first)


def _within(rows: int, most: int, periods: int, dims: Sequence[str]) -> None:
    """Refuse a frame that stopped at ``most + 1`` rows: its leaves (a row each a period)
    are more than the budget."""
    if rows > most:
        check_size(most // periods + 1, dims, read=most // periods)


def _numpy(array: Any, dtype: type[np.generic]) -> np.ndarray[Any, Any]:
    chunks = [c.to_numpy(zero_copy_only=False) for c in array.chunks]
    return np.concatenate(chunks).astype(dtype, copy=False) if chunks else np.zeros(0, dtype)


def _assemble(
    dims: list[str],
    pieces: Sequence[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    ranks: Sequence[np.ndarray[Any, Any]],
    names: Sequence[list[str]],
    sizes: Sequence[int],
    width: int,
    inverse: np.ndarray[Any, Any],
    first: np.ndarray[Any, Any],
) -> ColumnarLeaves:
    """The cube from the rows' leaf (``inverse``) and each leaf's first row (``first``)."""
    k = len(dims)
    n = len(first)
    expected = np.zeros((n, width))
    actual = np.zeros((n, width))
    present = np.zeros((n, 2 * width), dtype=bool)
    offset = 0
    for values, slots in pieces:
        rows = len(values)
        idx = inverse[offset : offset + rows]
        for slot in sorted(set(np.unique(slots).tolist()), reverse=True):  # now, then base
            on = slots == slot
            into = actual if slot >= width else expected
            into[:, slot % width] += np.bincount(idx[on], weights=values[on], minlength=n)
            present[idx[on], slot] = True
        offset += rows
    # one column a dimension, contiguous, in the smallest integer type that holds the members
    small = np.int32 if max(sizes, default=1) < 2**31 else np.int64
    codes = np.zeros((n, k), dtype=small, order="F")
    members: list[list[str]] = []
    for j in range(k):
        # the dictionary path numbers a dimension's members as they first appear in the
        # sorted leaves
        leaf = ranks[j][first]
        seen, at = np.unique(leaf, return_index=True)
        order = seen[np.argsort(at, kind="stable")]
        renumber = np.zeros(sizes[j], dtype=np.int64)
        renumber[order] = np.arange(len(order))
        codes[:, j] = renumber[leaf]
        members.append([names[j][int(r)] for r in order])
    missing = int((~present.all(axis=1)).sum())
    zero_base = int(((expected == 0).all(axis=1) & (actual != 0).any(axis=1)).sum())
    return ColumnarLeaves(Cube(dims, members, codes, expected, actual), missing, zero_base)
