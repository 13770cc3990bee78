"""The sums the root-cause search (:mod:`analysis.localize`) scores: every cuboid (a subset of
the dimensions) summed over the open leaves once a round, as a lattice — the finest cuboids
from the leaves, each coarser one from its smallest finer cuboid — so a round passes over
the leaves about ``k`` times, not ``2^k``. Elements come out in lexicographic order of their
member codes, whichever cuboid they were summed from (so an element's index is the same as
grouping the leaves directly would give).

Between rounds the leaves stay where they are: an explained leaf keeps its place with its
count, values and mass set to 0, so every grouping (leaf → element, finer element → coarser)
is computed once, in the first round, and kept (:class:`Groupings`); a later round only adds
up. Adding 0.0 leaves a floating-point sum as it is, so each open element's sums are those
of its open leaves alone, bit for bit; an element all of whose leaves are explained has count
0 (the search treats it as absent)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Codes = npt.NDArray[np.integer]


@dataclass
class Leaves:
    """The leaves of a round: member codes (all dimensions), measures normalised; an
    explained leaf has ``count`` 0 and ``f``, ``a``, ``dev`` 0."""

    codes: list[Codes]  # one column a dimension
    sizes: list[int]
    f: FloatArray
    a: FloatArray
    dev: FloatArray
    count: FloatArray  # 1.0 an open leaf, 0.0 an explained one
    f2: FloatArray  # f²


@dataclass
class Grouping:
    """How one cuboid is summed from its source (the leaves, or a finer cuboid): each source
    row's element, and the elements' member codes (lexicographic order)."""

    inverse: npt.NDArray[np.integer]
    codes: list[Codes]


class Groupings:
    """The groupings of a search, computed in its first round and kept (module doc):
    ``(cuboid, source cuboid or None for the leaves) → Grouping``."""

    def __init__(self) -> None:
        self.kept: dict[tuple[tuple[int, ...], tuple[int, ...] | None], Grouping] = {}

    def get(
        self,
        codes: Sequence[Codes],
        pos: Sequence[int],
        sizes: Sequence[int],
        sub: tuple[int, ...],
        source: tuple[int, ...] | None,
    ) -> Grouping:
        found = self.kept.get((sub, source))
        if found is None:
            inverse, first = group(codes, pos, sizes)
            small = np.int32 if len(first) < 2**31 else np.int64
            found = Grouping(inverse.astype(small), [codes[p][first] for p in pos])
            self.kept[(sub, source)] = found
        return found


@dataclass
class CuboidSums:
    """One cuboid summed over the open leaves: its elements (``codes``, one column per
    dimension of the cuboid, in lexicographic order; those of the first round, so some may
    have count 0 later) with their sums per measure, and where it was summed from."""

    dims: tuple[int, ...]
    source: tuple[int, ...] | None  # the finer cuboid it was summed from (None: the leaves)
    inverse: npt.NDArray[np.integer] | None  # each source row's element (None: the leaves)
    codes: list[Codes]  # one column a dimension of the cuboid
    count: FloatArray
    sum_f: FloatArray
    sum_a: FloatArray
    sum_f2: FloatArray
    mass: FloatArray
    #: the elements whose sums changed since the round before (None: not known — all)
    changed: npt.NDArray[np.integer] | None = None


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
    leaves: Leaves,
    dims: tuple[int, ...],
    live: set[tuple[int, ...]],
    *,
    distinct: bool,
    kept: Groupings | None = None,
    before: dict[tuple[int, ...], CuboidSums] | None = None,
    explained: npt.NDArray[np.integer] | None = None,
) -> dict[tuple[int, ...], CuboidSums]:
    """Every cuboid needed (the live ones and what they are summed from) summed over the open
    leaves: the finest from the leaves, each coarser one from its smallest finer cuboid (by
    elements with open leaves). ``distinct``: ``dims`` are all the cube's dimensions, so the
    finest cuboid's elements are the leaves themselves (taken as they are, in the leaves'
    order). ``kept``: the groupings of earlier rounds (module doc). ``before``: the round
    before's sums, and ``explained`` the leaves explained since: then only the elements
    holding one of them are summed again (from all their rows, in order: the same sums as
    summing everything), each cuboid's other elements keep their sums — where it is summed
    from what it was summed from then."""
    before = before or {}
    kept = kept if kept is not None else Groupings()
    k = len(dims)
    need = set(live)
    for depth in range(k - 1, 0, -1):  # a finer cuboid for each coarser needed one
        for sub in [c for c in need if len(c) == depth]:
            up = [c for c in itertools.combinations(dims, depth + 1) if set(sub) < set(c)]
            need.add(min(up, key=lambda c: math.prod(leaves.sizes[j] for j in c)))
    aggs: dict[tuple[int, ...], CuboidSums] = {}
    present: dict[tuple[int, ...], int] = {}
    if distinct and dims in need:
        aggs[dims] = CuboidSums(dims, None, None, leaves.codes, leaves.count, leaves.f,
                                leaves.a, leaves.f2, leaves.dev, explained)  # fmt: skip
    for depth in range(k, 0, -1):
        for sub in sorted(c for c in need if len(c) == depth and c not in aggs):
            sizes = [leaves.sizes[j] for j in sub]
            finer = [aggs[c] for c in itertools.combinations(dims, depth + 1)
                     if set(sub) < set(c) and c in aggs]  # fmt: skip
            if finer:
                for g in finer:
                    if g.dims not in present:
                        present[g.dims] = int(np.count_nonzero(g.count))
                src = min(finer, key=lambda g: present[g.dims])
                pos = [src.dims.index(j) for j in sub]
                found = kept.get(src.codes, pos, sizes, sub, src.dims)
                aggs[sub] = _sum(found, sub, src.dims, src.count, src.sum_f, src.sum_a,
                                 src.sum_f2, src.mass, before.get(sub), src.changed)  # fmt: skip
            else:
                found = kept.get(leaves.codes, list(sub), sizes, sub, None)
                aggs[sub] = _sum(found, sub, None, leaves.count, leaves.f, leaves.a,
                                 leaves.f2, leaves.dev, before.get(sub), explained)  # fmt: skip
    return aggs


def leaf_elements(
    aggs: Mapping[tuple[int, ...], CuboidSums], cuboid: tuple[int, ...], leaves: int
) -> npt.NDArray[np.integer]:
    """Each leaf's element of ``cuboid`` (its index in ``aggs[cuboid]``), through the chain
    of cuboids it was summed from: the small maps composed first, then one pass over the
    leaves."""
    g = aggs[cuboid]
    if g.inverse is None:
        return np.arange(leaves)
    composed = g.inverse
    while g.source is not None:
        g = aggs[g.source]
        if g.inverse is None:  # the leaves themselves (distinct)
            return composed
        composed = composed[g.inverse]
    return composed


def _sum(
    found: Grouping,
    dims: tuple[int, ...],
    source: tuple[int, ...] | None,
    count: FloatArray,
    f: FloatArray,
    a: FloatArray,
    f2: FloatArray,
    mass: FloatArray,
    before: CuboidSums | None = None,
    rows_changed: npt.NDArray[np.integer] | None = None,
) -> CuboidSums:
    """The cuboid's sums; with ``before`` (the round before's, summed from the same
    source) and ``rows_changed`` (the source's rows changed since), only the elements of
    those rows are summed again."""
    inverse = found.inverse
    m = len(found.codes[0]) if found.codes else 0
    if before is not None and before.source == source and rows_changed is not None:
        changed = np.unique(inverse[rows_changed])
        if not len(changed):
            return CuboidSums(dims, source, inverse, found.codes, before.count, before.sum_f,
                              before.sum_a, before.sum_f2, before.mass, changed)  # fmt: skip
        wanted = np.zeros(m, dtype=bool)
        wanted[changed] = True
        rows = np.flatnonzero(wanted[inverse])
        idx = inverse[rows]

        def again(old: FloatArray, w: FloatArray) -> FloatArray:
            out = old.copy()
            if w.ndim == 1:
                out[changed] = np.bincount(idx, weights=w[rows], minlength=m)[changed]
            else:
                for j in range(w.shape[1]):
                    out[changed, j] = np.bincount(idx, weights=w[rows, j], minlength=m)[changed]
            return out

        return CuboidSums(dims, source, inverse, found.codes, again(before.count, count),
                          again(before.sum_f, f), again(before.sum_a, a),
                          again(before.sum_f2, f2), again(before.mass, mass), changed)  # fmt: skip

    def add(w: FloatArray) -> FloatArray:
        return np.stack(
            [np.bincount(inverse, weights=w[:, j], minlength=m) for j in range(w.shape[1])], axis=1
        )

    counts = np.bincount(inverse, weights=count, minlength=m).astype(np.float64)
    return CuboidSums(
        dims, source, inverse, found.codes, counts, add(f), add(a), add(f2), add(mass)
    )
