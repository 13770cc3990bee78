"""The sums the root-cause search (:mod:`analysis.localize`) scores: every cuboid (a subset of
the dimensions) summed over the open leaves once a round, as a lattice — the finest cuboids
from the leaves, each coarser one from its smallest finer cuboid — so a round passes over
the leaves about ``k`` times, not ``2^k``. Elements come out in lexicographic order of their
member codes, whichever cuboid they were summed from (so an element's index is the same as
grouping the leaves directly would give)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Codes = npt.NDArray[np.integer]


@dataclass
class Leaves:
    """The open leaves of a round: member codes (all dimensions), measures normalised."""

    codes: list[Codes]  # one column a dimension
    sizes: list[int]
    f: FloatArray
    a: FloatArray
    dev: FloatArray


@dataclass
class CuboidSums:
    """One cuboid summed over the open leaves: its present elements (``codes``, one column
    per dimension of the cuboid, in lexicographic order) with their sums per measure."""

    dims: tuple[int, ...]
    codes: list[Codes]  # one column a dimension of the cuboid
    count: FloatArray
    sum_f: FloatArray
    sum_a: FloatArray
    sum_f2: FloatArray
    mass: FloatArray


def group(
    codes: Sequence[Codes], pos: Sequence[int], sizes: Sequence[int]
) -> tuple[IntArray, IntArray]:
    """Rows grouped by their codes in columns ``pos``: ``(inverse, first)`` — each row's
    group and one row of each group, the groups in lexicographic order of the codes."""
    rows = len(codes[0])
    key = np.zeros(rows, dtype=np.int64)
    bound = 1
    for p, size in zip(pos, sizes, strict=True):
        if bound * size >= 2**62:  # keep the combined code in int64
            key, bound = _compact(key, bound)
        key *= size
        key += codes[p]
        bound *= size
    inverse, _ = _compact(key, bound)
    first = np.empty(int(inverse.max()) + 1 if rows else 0, dtype=np.int64)
    first[inverse[::-1]] = np.arange(rows - 1, -1, -1, dtype=np.int64)
    return inverse, first


def _compact(key: IntArray, bound: int) -> tuple[IntArray, int]:
    if bound <= max(4 * len(key), 1 << 16):
        present = np.bincount(key, minlength=bound) > 0
        rank = np.cumsum(present, dtype=np.int64) - 1
        return rank[key], int(present.sum())
    uniq, inverse = np.unique(key, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), len(uniq)


def lattice(
    leaves: Leaves, dims: tuple[int, ...], live: set[tuple[int, ...]], *, distinct: bool
) -> dict[tuple[int, ...], CuboidSums]:
    """Every cuboid needed (the live ones and what they are summed from) summed over the open
    leaves: the finest from the leaves, each coarser one from its smallest finer cuboid.
    ``distinct``: ``dims`` are all the cube's dimensions, so the finest cuboid's elements
    are the leaves themselves (taken as they are, in the leaves' order)."""
    k = len(dims)
    need = set(live)
    for depth in range(k - 1, 0, -1):  # a finer cuboid for each coarser needed one
        for sub in [c for c in need if len(c) == depth]:
            up = [c for c in itertools.combinations(dims, depth + 1) if set(sub) < set(c)]
            need.add(min(up, key=lambda c: math.prod(leaves.sizes[j] for j in c)))
    aggs: dict[tuple[int, ...], CuboidSums] = {}
    if distinct and dims in need:
        ones = np.ones(len(leaves.f))
        aggs[dims] = CuboidSums(dims, leaves.codes, ones, leaves.f, leaves.a,
                          leaves.f**2, leaves.dev)  # fmt: skip
    for depth in range(k, 0, -1):
        for sub in sorted(c for c in need if len(c) == depth and c not in aggs):
            sizes = [leaves.sizes[j] for j in sub]
            finer = [aggs[c] for c in itertools.combinations(dims, depth + 1)
                     if set(sub) < set(c) and c in aggs]  # fmt: skip
            if finer:
                src = min(finer, key=lambda g: len(g.count))
                pos = [src.dims.index(j) for j in sub]
                aggs[sub] = _sum(src.codes, pos, sizes, sub, src.count, src.sum_f,
                                 src.sum_a, src.sum_f2, src.mass)  # fmt: skip
            else:
                aggs[sub] = _sum(leaves.codes, list(sub), sizes, sub, None, leaves.f,
                                 leaves.a, leaves.f**2, leaves.dev)  # fmt: skip
    return aggs


def _sum(
    codes: Sequence[Codes],
    pos: Sequence[int],
    sizes: list[int],
    dims: tuple[int, ...],
    count: FloatArray | None,
    f: FloatArray,
    a: FloatArray,
    f2: FloatArray,
    mass: FloatArray,
) -> CuboidSums:
    inverse, first = group(codes, pos, sizes)
    m = len(first)

    def add(w: FloatArray) -> FloatArray:
        return np.stack(
            [np.bincount(inverse, weights=w[:, j], minlength=m) for j in range(w.shape[1])], axis=1
        )

    counts = np.bincount(inverse, weights=count, minlength=m).astype(np.float64)
    return CuboidSums(
        dims, [codes[p][first] for p in pos], counts, add(f), add(a), add(f2), add(mass)
    )
