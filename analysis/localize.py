"""Localisation: the smallest set of member combinations that explains a change.

The cube's *leaves* (one per combination of members of the chosen dimensions) each have an
expected value ``f_i`` (the base period, or a target/forecast) and an actual value ``a_i``;
a ratio metric ``R = ΣN / ΣD`` has two measures per leaf (``N`` and ``D``), deviated
together. An *element* ``C`` is a combination of members of some of the dimensions
(``store=南山店``, ``store=南山店 ∧ order_type=保养``); its leaves are those below it.

**Ripple model.** If ``C`` is a root cause, its leaves move by one common ratio
``x_C = A_C / F_C`` (``A``, ``F``: sums of actual and expected over ``C``'s leaves) and the
other leaves stay as expected. For one measure, with ``d_i = a_i − f_i``:

- *fit gain* ``G_C = Σ_{i∈C} |d_i| − 2/(1 + x_C)·Σ_{i∈C} |a_i − x_C·f_i|`` — the deviation
  the model "C moved by x_C" removes. A true cause scores its whole deviation; an ancestor
  that mixes it with normal leaves leaves residuals on both parts (``x`` fits neither), a
  descendant covers less of it. The residual is measured in units of ``a_i + f_i``, as the
  bounded deviation ``δ_i = (a_i − f_i)/(a_i + f_i)`` against the cause's
  ``δ_C = (x_C − 1)/(x_C + 1)``: ``(a_i + f_i)·|δ_i − δ_C| = 2·|a_i − x_C·f_i|/(1 + x_C)``
  (and ``(a_i + f_i)·|δ_i| = |d_i|``), so a rise by ``k`` and a fall by ``1/k`` fit alike
  (symmetric in ``ln(a/f)``, as the noise is taken to be below) — with the plain residual a
  steep rise whose expected values are small and noisy (``f_i ≈ 0.01·a_i``) fitted its
  pieces better than the whole. Where ``F_C = 0`` (a new combination) the model is
  ``a_i = A_C / n_C``, and there or where ``x_C < 0`` the residual is the plain one.
- *significance* ``z_C = |ln(A_C/F_C)| / σ_C`` with ``σ_C = s·√(Σf_i²) / Σf_i``: the
  log move against the noise expected of an aggregate of those leaves, ``s`` the leaves'
  robust noise scale (``1.4826·MAD`` of ``ln(a_i/f_i)``, at least 10⁻³). Candidates need
  ``z_C ≥ Z`` (``Z = 5``; a new combination, ``F_C = 0 < A_C``, always passes).
- *mirror test* (:mod:`analysis.localize_mirror`) — the noise is taken as symmetric in
  ``ln(a/f)`` and a cause as not: among the elements of the same cuboid, those that moved at
  least ``|ln(A_C/F_C)| / 1.25`` the other way estimate how many of those that moved this far
  ``C``'s way are noise; ``C`` is a candidate only where that estimate is at most 10 % of them.
  (Beyond the most extreme opposite move by the margin 1.25; otherwise noise whose tails reach
  a planted move's size is named as a cause.)

Measures are normalised by their expected totals and their gains added (ratio metrics).

**Search.** Greedy: in each round every element of every cuboid (subset of the dimensions,
any depth) is scored on the leaves not yet explained, and the significant element with the
largest gain is taken (ties: fewer dimensions first); its leaves are then explained. A cuboid
with no candidate in a round is not searched again. Rounds stop when no candidate is left or
after ``MAX_CAUSES`` (10).

*How it stays fast* (the same result as scoring every element on the leaves): each round sums
every cuboid over the open leaves once — the cuboids one dimension short of the leaves from the
leaves, each coarser one from its smallest finer cuboid (a lattice), so a round passes over the
leaves about ``k`` times, not ``2^k``. Significance and the mirror test need only these sums.
The gain needs the leaves, but is at most the element's deviation mass ``Σ_{i∈C}|d_i|`` (a
sum): cuboids are visited by their best candidate's mass, and the leaves are passed over only
for a cuboid whose candidates' mass could still beat the best gain found (branch and bound; an
element of one leaf has its gain from its sums). Between rounds an explained leaf stays in
place with count, values and mass 0, so the groupings of the first round are kept, and only
the elements that held a leaf explained since are summed again (adding 0.0 changes no sum:
the same result bit for bit). Cost a round:
:func:`~analysis.localize_budget.search_work` (``k × leaves`` plus the coarser cuboids'
elements) — refused above its ``MAX_WORK`` or ``MAX_LEAVES`` with what to narrow. Only above
that budget is a dimension whose members all moved alike
(``Σ_m ((ln(A_m/F_m) − ḡ)/σ_m)² < 4·(n − 1)``, or whose members' moves span less than 5 %
of the widest span of any dimension) left out first — it holds no part of a cause, only its
ripple, unless the cause is small next to its members (a cause of 1,200 of 24 million leaves
does not move any member of its dimensions beyond the noise; leaving those dimensions out lost
it) — and the budget checked again on the rest.

**Output** (:mod:`analysis.localize_report`) per cause: ``members``; ``base_value``/``value``
(``F_C``/``A_C``, or ``N_C/D_C`` at both for a ratio); ``contribution`` — the metric's change
that reverting the cause's leaves to expected removes (``A_C − F_C`` for an additive metric;
``R(a) − R(a with C at f)`` for a ratio); ``confidence`` = ``fit × strength`` with
``fit = G_C / Σ_{i∈C}|d_i|`` (how cleanly the leaves moved together) and
``strength = min(1, z_C / (2Z))``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analysis.localize_budget import MAX_WORK, check_budget, check_size, search_work
from analysis.localize_lattice import CuboidSums, Groupings, Leaves, lattice, leaf_elements
from analysis.localize_mirror import mirror_ok

Z_MIN = 5.0
MAX_CAUSES = 10
GAIN_FLOOR = 0.0
LOG_FLOOR = 1e-6
HETEROGENEITY = 4.0
SPREAD_SHARE = 0.05

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class Cube:
    """Leaves of a cube: ``codes[i, j]`` is leaf ``i``'s member index in dimension ``j``
    (``members[j]`` names them); ``expected``/``actual`` are ``(leaves, measures)``. The
    leaves are distinct combinations of members (:meth:`from_rows` keys them so)."""

    dimensions: list[str]
    members: list[list[str]]
    codes: npt.NDArray[np.integer]
    expected: FloatArray
    actual: FloatArray

    @classmethod
    def from_rows(
        cls,
        dimensions: Sequence[str],
        rows: Mapping[tuple[str, ...], tuple[Sequence[float], Sequence[float]]],
    ) -> Cube:
        """From ``{leaf key: (expected per measure, actual per measure)}``."""
        dims = list(dimensions)
        index: list[dict[str, int]] = [{} for _ in dims]
        codes = np.zeros((len(rows), len(dims)), dtype=np.int64)
        exp_rows, act_rows = [], []
        for i, (key, (f, a)) in enumerate(rows.items()):
            for j, member in enumerate(key):
                codes[i, j] = index[j].setdefault(member, len(index[j]))
            exp_rows.append(list(f))
            act_rows.append(list(a))
        members = [list(ix) for ix in index]
        width = len(exp_rows[0]) if exp_rows else 1
        expected = np.array(exp_rows, dtype=np.float64).reshape(len(rows), width)
        actual = np.array(act_rows, dtype=np.float64).reshape(len(rows), width)
        return cls(dims, members, codes, expected, actual)


@dataclass
class Cause:
    members: dict[str, str]
    leaves: npt.NDArray[np.bool_]
    gain: float
    fit: float
    z: float

    @property
    def confidence(self) -> float:
        return self.fit * min(1.0, self.z / (2 * Z_MIN))


def noise_scale(cube: Cube) -> float:
    """Robust relative noise of the leaves: ``1.4826·MAD`` of ``ln(a/f)`` over leaves and
    measures with ``a, f > 0``; at least 10⁻³.

    Examples
    --------
    >>> c = Cube(["d"], [["x", "y", "z"]], np.array([[0], [1], [2]]),
    ...          np.array([[100.0], [100.0], [100.0]]), np.array([[100.0], [110.0], [90.0]]))
    >>> round(noise_scale(c), 4)
    0.1413
    """
    f, a = cube.expected, cube.actual
    ok = (f > 0) & (a > 0)
    if not ok.any():
        return 1e-3
    rel = np.log(a[ok] / f[ok])
    mad = float(np.median(np.abs(rel - np.median(rel))))
    return max(1.4826 * mad, 1e-3)


def _cuboids(k: int) -> list[tuple[int, ...]]:
    return [c for depth in range(1, k + 1) for c in itertools.combinations(range(k), depth)]


def search(cube: Cube, *, max_causes: int = MAX_CAUSES) -> list[Cause]:
    """The greedy root-cause search described in the module doc.

    Examples
    --------
    Two dimensions; the leaves under ``a=a1`` fall by half, the rest stay:

    >>> rows = {(a, b): ([100.0], [50.0 if a == "a1" else 100.0])
    ...         for a in ("a1", "a2", "a3") for b in ("b1", "b2")}
    >>> [c.members for c in search(Cube.from_rows(["a", "b"], rows))]
    [{'a': 'a1'}]
    """
    n, k = cube.codes.shape
    sizes = [max(len(m), 1) for m in cube.members]
    check_size(n, cube.dimensions)  # above the work budget: like-moving dimensions left out
    if n == 0:
        return []
    totals = np.abs(cube.expected).sum(axis=0)
    totals = np.where(totals > 0, totals, np.abs(cube.actual).sum(axis=0))
    totals = np.where(totals > 0, totals, 1.0)
    f = cube.expected / totals
    a = cube.actual / totals
    dev = np.abs(a - f)
    total_dev = float(dev.sum())
    if total_dev == 0:
        return []
    s = noise_scale(cube)
    dims = list(range(k))
    if search_work(n, sizes) > MAX_WORK:
        spreads = [_spread(cube.codes[:, j], sizes[j], f, a, s) for j in dims]
        top = max(spreads, default=0.0)
        dims = [j for j in dims if spreads[j] >= SPREAD_SHARE * top and spreads[j] > 0] or dims
        check_budget(n, [cube.dimensions[j] for j in dims], [sizes[j] for j in dims])
    cuboids = [tuple(dims[i] for i in sub) for sub in _cuboids(len(dims))]
    live = set(cuboids)
    open_ = np.ones(n, dtype=bool)
    causes: list[Cause] = []
    small = np.int32 if max(sizes) < 2**31 else np.int64
    full: list[npt.NDArray[np.integer]] = [
        np.ascontiguousarray(cube.codes[:, j], dtype=small) for j in range(k)
    ]
    # explained leaves stay in place with count, values and mass 0 (localize_lattice);
    # f, a and dev are this search's own arrays (normalised copies of the cube's)
    leaves = Leaves(full, sizes, f, a, dev, np.ones(n), f**2)
    kept = Groupings()
    memo: Memo = {}  # per cuboid, from the round before (_stats)
    aggs: dict[tuple[int, ...], CuboidSums] = {}
    explained = None
    while len(causes) < max_causes and open_.any():
        aggs = lattice(leaves, tuple(dims), live, distinct=len(dims) == k, kept=kept,
                       before=aggs, explained=explained)  # fmt: skip
        found = _best(leaves, aggs, cuboids, live, s, open_, memo)
        if found is None or found[0] <= GAIN_FLOOR * total_dev:
            break
        gain, cuboid, codes, fit, z = found
        mask = np.ones(n, dtype=bool)
        for j, c in zip(cuboid, codes, strict=True):
            mask &= full[j] == c
        members = {
            cube.dimensions[j]: cube.members[j][int(c)] for j, c in zip(cuboid, codes, strict=True)
        }
        causes.append(Cause(members, mask, gain * 1.0, fit, z))
        open_ &= ~mask
        explained = np.flatnonzero(mask & (leaves.count > 0))
        for values in (leaves.f, leaves.a, leaves.dev, leaves.f2):
            values[explained] = 0.0
        leaves.count[explained] = 0.0
    return causes


#: per cuboid, from the round before: (how it was summed, counts, per measure its elements'
#: ratio, log move and z before the mirror test) — see :func:`_stats`
Memo = dict[tuple[int, ...], tuple[tuple[object, ...], FloatArray, list[tuple[FloatArray, ...]]]]


def _stats(
    g: CuboidSums, s: float, memo: Memo | None = None, how: tuple[object, ...] = ()
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Per element of a cuboid: ``(ratio per measure, z (best measure, after the mirror
    test), candidate)``, from its sums alone. ``memo``: an element whose count is what it was
    last round, summed the same way (``how``: the chain of cuboids it is summed from), has
    the same sums bit for bit (explained leaves add 0.0), so its ratio, move and z are taken
    from then; the others' are computed (element by element, as for all)."""
    m = len(g.count)
    ratio = np.ones_like(g.sum_f)
    z_best = np.zeros(m)
    present = g.count > 0
    prev = memo.get(g.dims) if memo is not None else None
    changed = None
    if prev is not None and prev[0] == how and len(prev[1]) == m:
        changed = np.flatnonzero(g.count != prev[1])
        sub_f, sub_a, sub_f2 = g.sum_f[changed], g.sum_a[changed], g.sum_f2[changed]
    kept: list[tuple[FloatArray, ...]] = []
    for j in range(g.sum_f.shape[1]):
        if prev is not None and changed is not None:
            r, move, z = prev[2][j]  # this round's now (nothing else holds them)
            r[changed], move[changed], z[changed] = _moves(
                sub_f[:, j], sub_a[:, j], sub_f2[:, j], s
            )
        else:
            r, move, z = _moves(g.sum_f[:, j], g.sum_a[:, j], g.sum_f2[:, j], s)
        kept.append((r, move, z))
        sum_f = g.sum_f[:, j]
        # the mirror test only where it can matter: significant, with an expected value
        asked = (z >= Z_MIN) & (sum_f > 0)
        z = np.where(mirror_ok(move, present, asked) | (sum_f <= 0), z, 0.0)
        ratio[:, j] = r
        z_best = np.maximum(z_best, np.nan_to_num(z, nan=0.0, posinf=1e9))
    if memo is not None:
        # the leaves' own counts change in place (localize_lattice): those are copied
        memo[g.dims] = (how, g.count.copy() if g.inverse is None else g.count, kept)
    return ratio, z_best, (z_best >= Z_MIN) & present


def _moves(
    sum_f: FloatArray, sum_a: FloatArray, sum_f2: FloatArray, s: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Element by element: ratio ``A/F``, log move, and z before the mirror test."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(sum_f > 0, sum_a / sum_f, 1.0)
        sigma = s * np.sqrt(sum_f2) / sum_f
        move = np.where(sum_f > 0, np.log(np.maximum(r, LOG_FLOOR)), 0.0)
        z = np.where(
            sum_f > 0,
            np.abs(move) / np.where(sigma > 0, sigma, np.inf),
            np.where(sum_a != 0, np.inf, 0.0),
        )
    return r, move, z


def _residual(
    g: CuboidSums, ratio: FloatArray, idx: IntArray, fo: FloatArray, ao: FloatArray
) -> FloatArray:
    """``Σ_measures`` of each element's residual (see the module doc) over the leaves given
    (``idx``: their element)."""
    m = len(g.count)
    total = np.zeros(m)
    for j in range(fo.shape[1]):
        fj, aj = fo[:, j], ao[:, j]
        sum_f, sum_a, r = g.sum_f[:, j], g.sum_a[:, j], ratio[:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.where(g.count > 0, sum_a / np.maximum(g.count, 1.0), 0.0)
            predicted = np.where(sum_f[idx] > 0, r[idx] * fj, level[idx])
            resid = np.bincount(idx, weights=np.abs(aj - predicted), minlength=m)
            # in units of a_i + f_i, symmetric in ln(a/f) (see the module doc); a sign
            # change (ratio < 0) keeps the plain residual
            total += resid * np.where((sum_f > 0) & (r >= 0), 2.0 / (np.abs(r) + 1.0), 1.0)
    return total


def _best(
    leaves: Leaves,
    aggs: Mapping[tuple[int, ...], CuboidSums],
    cuboids: Sequence[tuple[int, ...]],
    live: set[tuple[int, ...]],
    s: float,
    open_: npt.NDArray[np.bool_],
    memo: Memo | None = None,
) -> tuple[float, tuple[int, ...], list[int], float, float] | None:
    """The round's element of largest fit gain among the significant ones of every live
    cuboid: ``(gain, cuboid, member codes, fit, z)``. Branch and bound: an element's gain is
    at most its deviation mass (the residual is ≥ 0), so the leaves are passed over only for
    the cuboids whose candidates could still beat the best gain found (an element of one leaf
    has its gain from its sums). Cuboids without candidates leave ``live``."""
    pending = []
    stats = {}
    for order, cuboid in enumerate(cuboids):
        if cuboid not in live:
            continue
        g = aggs[cuboid]
        ratio, z, cand = _stats(g, s, memo, _how(aggs, cuboid))
        if not cand.any():
            live.discard(cuboid)
            continue
        mass = g.mass.sum(axis=1)
        stats[cuboid] = (ratio, z, cand, mass)
        pending.append((float(mass[cand].max()), order, cuboid))
    pending.sort(key=lambda p: (-p[0], p[1]))
    best: tuple[float, int, tuple[int, ...], int, float] | None = (
        None  # gain, order, cuboid, e, fit
    )
    for bound, order, cuboid in pending:
        if best is not None and bound < max(best[0], 0.0) * (1 - 1e-9):
            break
        g = aggs[cuboid]
        ratio, z, cand, mass = stats[cuboid]
        floor = max(best[0], 0.0) * (1 - 1e-9) if best is not None else -np.inf
        want = cand & (mass >= floor)
        resid = np.zeros(len(g.count))
        many = want & (g.count > 1)
        if many.any():
            idx = leaf_elements(aggs, cuboid, len(open_))
            on = many[idx] & open_
            resid += _residual(g, ratio, idx[on], leaves.f[on], leaves.a[on])
        single = want & (g.count == 1)
        if single.any():
            at = np.flatnonzero(single)
            resid[at] += _residual_single(g, ratio, at)
        gain = np.where(want, mass - resid, -np.inf)
        e = int(np.argmax(gain))
        if (
            best is None
            or gain[e] > best[0] * (1 + 1e-9)
            or (abs(gain[e] - best[0]) <= 1e-9 * abs(best[0]) and order < best[1])
        ):
            fit = float(gain[e] / mass[e]) if mass[e] > 0 else 0.0
            best = (float(gain[e]), order, cuboid, e, max(fit, 0.0))
    if best is None:
        return None
    gain_e, _, cuboid, e, fit = best
    codes = [int(c[e]) for c in aggs[cuboid].codes]
    return gain_e, cuboid, codes, fit, float(stats[cuboid][1][e])


def _how(aggs: Mapping[tuple[int, ...], CuboidSums], cuboid: tuple[int, ...]) -> tuple[object, ...]:
    """The chain of cuboids ``cuboid`` was summed from, down to the leaves."""
    chain: list[object] = []
    g = aggs[cuboid]
    while g.source is not None:
        chain.append(g.source)
        g = aggs[g.source]
    return tuple(chain)


def _residual_single(g: CuboidSums, ratio: FloatArray, at: IntArray) -> FloatArray:
    """The residual of the elements ``at``, each of one leaf, from their sums (their leaf is
    their sum)."""
    total = np.zeros(len(at))
    for j in range(g.sum_f.shape[1]):
        fj, aj, r = g.sum_f[at, j], g.sum_a[at, j], ratio[at, j]
        with np.errstate(invalid="ignore"):
            predicted = np.where(fj > 0, r * fj, aj)
            total += np.abs(aj - predicted) * np.where(
                (fj > 0) & (r >= 0), 2.0 / (np.abs(r) + 1.0), 1.0
            )
    return total


def _spread(
    codes: npt.NDArray[np.integer], size: int, f: FloatArray, a: FloatArray, s: float
) -> float:
    """How differently a dimension's members moved: the range of their moves ``ln(A_m/F_m)``
    where the members differ beyond the noise (``Σ_m ((ln(A_m/F_m) − ḡ)/σ_m)² ≥ 4·(n − 1)``),
    else 0. A dimension whose members all moved alike (the ripple of a cause elsewhere) holds
    no part of a cause, and is left out of the search of wide cubes."""
    best = 0.0
    for j in range(f.shape[1]):
        sum_f = np.bincount(codes, weights=f[:, j], minlength=size)
        sum_a = np.bincount(codes, weights=a[:, j], minlength=size)
        sum_f2 = np.bincount(codes, weights=f[:, j] ** 2, minlength=size)
        ok = (sum_f > 0) & (sum_a > 0)
        if ((sum_f > 0) != (sum_a > 0)).any():
            return math.inf  # a member appeared or vanished
        if ok.sum() < 2:
            continue
        move = np.log(sum_a[ok] / sum_f[ok])
        sigma = s * np.sqrt(sum_f2[ok]) / sum_f[ok]
        q = float((((move - move.mean()) / sigma) ** 2).sum())
        if q >= HETEROGENEITY * (ok.sum() - 1):
            best = max(best, float(move.max() - move.min()))
    return best
