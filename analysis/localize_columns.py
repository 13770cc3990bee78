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
    pieces: list[tuple[pa.Table, int, float]] = []  # (rows, slot, coefficient)
    for p, terms in enumerate(parts):  # slot p: base of part p; width + p: now
        for name, coeff in terms.items():
            if pair.base_p is None:
                now = fetch(name, dims, periods=[pair.period])
                old = fetch(name, dims, periods=[pair.period], kind="target")
                if now is None or old is None:
                    return None
            else:
                both = fetch(name, dims, periods=[pair.period, pair.base_p])
                if both is None:
                    return None
                now = both.filter(pc.equal(both.column("period"), pair.period))
                old = both.filter(pc.equal(both.column("period"), pair.base_p))
            pieces += [(now, width + p, coeff), (old, p, coeff)]
    ranks, names = [], []
    for d in dims:
        column = pa.chunked_array(
            [c for t, _, _ in pieces for c in t.column(d).cast(pa.string()).chunks],
            type=pa.string(),
        )
        members = sorted(str(m) for m in pc.unique(column).to_pylist())
        index = pc.index_in(column, value_set=pa.array(members, type=pa.string()))
        ranks.append(_numpy(index, np.int32))
        names.append(members)
    sizes = [max(len(m), 1) for m in names]
    rows = sum(t.num_rows for t, _, _ in pieces)
    if rows:
        inverse, first = group(ranks, list(range(len(dims))), sizes)
    else:
        inverse, first = np.zeros(0, np.int64), np.zeros(0, np.int64)
    return _assemble(list(dims), pieces, ranks, names, sizes, width, inverse, first)


def _numpy(array: Any, dtype: type[np.generic]) -> np.ndarray[Any, Any]:
    chunks = [c.to_numpy(zero_copy_only=False) for c in array.chunks]
    return np.concatenate(chunks).astype(dtype, copy=False) if chunks else np.zeros(0, dtype)


def _assemble(
    dims: list[str],
    pieces: Sequence[tuple[pa.Table, int, float]],
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
    for table, slot, coeff in pieces:
        rows = table.num_rows
        if rows:
            idx = inverse[offset : offset + rows]
            values = _numpy(table.column("value"), np.float64) * coeff
            into = actual if slot >= width else expected
            into[:, slot % width] += np.bincount(idx, weights=values, minlength=n)
            present[idx, slot] = True
        offset += rows
    codes = np.zeros((n, k), dtype=np.int64)
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
