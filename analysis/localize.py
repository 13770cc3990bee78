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
- *mirror test* — the noise is taken as symmetric in ``ln(a/f)`` and a cause as not: among
  the elements of the same cuboid, those that moved at least ``|ln(A_C/F_C)| / 1.25`` the
  other way estimate how many of those that moved this far ``C``'s way are noise; ``C`` is a
  candidate only where that estimate is at most 10 % of them. (Beyond the most extreme
  opposite move by the margin 1.25; otherwise noise whose tails reach a planted move's size
  is named as a cause.)

Measures are normalised by their expected totals and their gains added (ratio metrics).

**Search.** Greedy: in each round every element of every cuboid (subset of the dimensions,
any depth) is scored on the leaves not yet explained, and the significant element with the
largest gain is taken (ties: fewer dimensions first); its leaves are then explained. A cuboid
with no candidate in a round is not searched again. On wide cubes (leaves × cuboids above
2·10⁶) a dimension whose members all moved alike (``Σ_m ((ln(A_m/F_m) − ḡ)/σ_m)² <
4·(n − 1)``, or whose members' moves span less than 5 % of the widest span of any
dimension) is left out first: it holds no part of a cause, only its ripple. Rounds
stop when no candidate is left or after ``MAX_CAUSES`` (10). Cost: ``rounds × 2^k × leaves``
vector operations (``k`` dimensions) — refused above :data:`MAX_WORK` with what to narrow.

**Output** per cause: ``members``; ``base_value``/``value`` (``F_C``/``A_C``, or
``N_C/D_C`` at both for a ratio); ``contribution`` — the metric's change that reverting the
cause's leaves to expected removes (``A_C − F_C`` for an additive metric;
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

from graph_schema.errors import InvalidQueryError

Z_MIN = 5.0
MAX_CAUSES = 10
MAX_WORK = 2 * 10**8  # leaves × cuboids × 2, per round
MAX_DIMENSIONS = 12
GAIN_FLOOR = 0.0
MIRROR_FDR = 0.1
LOG_FLOOR = 1e-6
MIRROR_MARGIN = 1.25
FAST_WORK = 2 * 10**6  # leaves × cuboids above which like-moving dimensions are left out
HETEROGENEITY = 4.0
SPREAD_SHARE = 0.05

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class Cube:
    """Leaves of a cube: ``codes[i, j]`` is leaf ``i``'s member index in dimension ``j``
    (``members[j]`` names them); ``expected``/``actual`` are ``(leaves, measures)``."""

    dimensions: list[str]
    members: list[list[str]]
    codes: IntArray
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


def check_budget(leaves: int, dimensions: Sequence[str]) -> None:
    """Refuse cubes the search cannot finish in its time budget, naming what to narrow."""
    k = len(dimensions)
    if k > MAX_DIMENSIONS:
        raise InvalidQueryError(
            f"localize searches every combination of the chosen dimensions; {k} dimensions is "
            f"more than {MAX_DIMENSIONS} — choose fewer with --by (by=)"
        )
    work = leaves * (2**k - 1) * 2
    if work > MAX_WORK:
        raise InvalidQueryError(
            f"localize over {leaves:,} leaves × {2**k - 1} dimension combinations "
            f"({', '.join(dimensions)}) is more than this server's budget of {MAX_WORK:,} "
            "leaf-combinations — choose fewer dimensions with --by (by=), or dimensions with "
            "fewer members"
        )


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
    check_budget(n, cube.dimensions)
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
    sizes = [max(len(m), 1) for m in cube.members]
    dims = list(range(k))
    if n * (2**k - 1) > FAST_WORK:
        spreads = [_spread(cube.codes[:, j], sizes[j], f, a, s) for j in dims]
        top = max(spreads, default=0.0)
        dims = [j for j in dims if spreads[j] >= SPREAD_SHARE * top and spreads[j] > 0] or dims
    groups: list[tuple[tuple[int, ...], IntArray, int]] = []
    for sub in _cuboids(len(dims)):
        cuboid = tuple(dims[i] for i in sub)
        key = np.zeros(n, dtype=np.int64)
        bound = 1
        for j in cuboid:
            if bound * sizes[j] >= 2**62:  # keep the combined code in int64
                uniq, inv = np.unique(key, return_inverse=True)
                key, bound = inv.reshape(-1).astype(np.int64), len(uniq)
            key = key * sizes[j] + cube.codes[:, j]
            bound *= sizes[j]
        uniq, inverse = np.unique(key, return_inverse=True)
        groups.append((cuboid, inverse.reshape(-1), len(uniq)))
    open_ = np.ones(n, dtype=bool)
    causes: list[Cause] = []
    while len(causes) < max_causes and open_.any():
        best: tuple[float, int, tuple[int, ...], int, IntArray, float, float] | None = None
        fo, ao, do = f[open_], a[open_], dev[open_]
        live = []
        for group in groups:
            cuboid, inverse, m = group
            scored = _score(inverse[open_], m, fo, ao, do, s)
            if scored is None:
                continue  # not searched again (see the module doc)
            live.append(group)
            gain, fit, z, element = scored
            depth = len(cuboid)
            if (
                best is None
                or gain > best[0] * (1 + 1e-9)
                or (abs(gain - best[0]) <= 1e-9 * best[0] and depth < best[1])
            ):
                best = (gain, depth, cuboid, element, inverse, fit, z)
        groups = live
        if best is None or best[0] <= GAIN_FLOOR * total_dev:
            break
        gain, _, cuboid, element, inverse, fit, z = best
        leaves = inverse == element
        first = int(np.argmax(leaves))
        members = {cube.dimensions[j]: cube.members[j][int(cube.codes[first, j])] for j in cuboid}
        causes.append(Cause(members, leaves, gain * 1.0, fit, z))
        open_ &= ~leaves
    return causes


def _spread(codes: IntArray, size: int, f: FloatArray, a: FloatArray, s: float) -> float:
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


def _score(
    idx: IntArray,
    m: int,
    fo: FloatArray,
    ao: FloatArray,
    do: FloatArray,
    s: float,
) -> tuple[float, float, float, int] | None:
    """The best significant element of one cuboid on the open leaves (``idx``: each open
    leaf's element; ``fo``, ``ao``, ``do``: their expected, actual and absolute deviation):
    ``(gain, fit, z, element index)``."""
    count = np.bincount(idx, minlength=m).astype(np.float64)
    gain_total = np.zeros(m)
    mass_total = np.zeros(m)
    z_best = np.zeros(m)
    for j in range(fo.shape[1]):
        fj, aj = fo[:, j], ao[:, j]
        sum_f = np.bincount(idx, weights=fj, minlength=m)
        sum_a = np.bincount(idx, weights=aj, minlength=m)
        sum_f2 = np.bincount(idx, weights=fj * fj, minlength=m)
        mass = np.bincount(idx, weights=do[:, j], minlength=m)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(sum_f > 0, sum_a / sum_f, 1.0)
            level = np.where(count > 0, sum_a / np.maximum(count, 1.0), 0.0)
            predicted = np.where(sum_f[idx] > 0, ratio[idx] * fj, level[idx])
            resid = np.bincount(idx, weights=np.abs(aj - predicted), minlength=m)
            # in units of a_i + f_i, symmetric in ln(a/f) (see the module doc); a sign
            # change (ratio < 0) keeps the plain residual
            resid = resid * np.where((sum_f > 0) & (ratio >= 0), 2.0 / (np.abs(ratio) + 1.0), 1.0)
            sigma = s * np.sqrt(sum_f2) / sum_f
            move = np.where(sum_f > 0, np.log(np.maximum(ratio, LOG_FLOOR)), 0.0)
            z = np.where(
                sum_f > 0,
                np.abs(move) / np.where(sigma > 0, sigma, np.inf),
                np.where(sum_a != 0, np.inf, 0.0),
            )
        z = np.where(_mirror_ok(move, count > 0) | (sum_f <= 0), z, 0.0)
        gain_total += mass - resid
        mass_total += mass
        z_best = np.maximum(z_best, np.nan_to_num(z, nan=0.0, posinf=1e9))
    candidate = (z_best >= Z_MIN) & (count > 0)
    if not candidate.any():
        return None
    gains = np.where(candidate, gain_total, -np.inf)
    e = int(np.argmax(gains))
    fit = float(gain_total[e] / mass_total[e]) if mass_total[e] > 0 else 0.0
    return float(gain_total[e]), max(fit, 0.0), float(z_best[e]), e


def _mirror_ok(moves: FloatArray, present: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Mirror test of each element's relative move ``r = A/F − 1`` against the other elements
    of its cuboid: the elements that moved at least as far the *other* way estimate how many
    of those that moved this far are noise (noise is taken as symmetric; a cause is not).
    Passes where ``#{r' ≤ −|r|} ≤ MIRROR_FDR · #{r' ≥ |r|}`` (for ``r > 0``; mirrored for
    ``r < 0``)."""
    r = moves[present]
    up = np.sort(r[r > 0])
    down = np.sort(-r[r < 0])
    m = np.abs(moves)
    # elements at or beyond |r| on the same side, and on the other side
    n_up = len(up) - np.searchsorted(up, m, side="left")
    n_down = len(down) - np.searchsorted(down, m, side="left")
    # the other side counted from |r| / MIRROR_MARGIN: beyond the most extreme opposite move
    # by a margin, since the extreme of the noise on one side is no proof on the other
    o_up = len(up) - np.searchsorted(up, m / MIRROR_MARGIN, side="left")
    o_down = len(down) - np.searchsorted(down, m / MIRROR_MARGIN, side="left")
    same = np.where(moves > 0, n_up, n_down)
    other = np.where(moves > 0, o_down, o_up)
    out: npt.NDArray[np.bool_] = (moves != 0) & (other <= MIRROR_FDR * same) & present
    return out


def ratio_value(n: float, d: float) -> float | None:
    return n / d if d else None


def describe(cube: Cube, causes: Sequence[Cause], ratio: bool) -> list[dict[str, object]]:
    """The JSON rows (see the module doc for each field)."""
    out: list[dict[str, object]] = []
    a_tot = cube.actual.sum(axis=0)
    for c in causes:
        f_c = cube.expected[c.leaves].sum(axis=0)
        a_c = cube.actual[c.leaves].sum(axis=0)
        if ratio:
            now = ratio_value(float(a_tot[0]), float(a_tot[1]))
            reverted = ratio_value(
                float(a_tot[0] - a_c[0] + f_c[0]), float(a_tot[1] - a_c[1] + f_c[1])
            )
            contribution = (now - reverted) if now is not None and reverted is not None else None
            base_value = ratio_value(float(f_c[0]), float(f_c[1]))
            value = ratio_value(float(a_c[0]), float(a_c[1]))
        else:
            contribution = float(a_c[0] - f_c[0])
            base_value, value = float(f_c[0]), float(a_c[0])
        out.append(
            {
                "members": c.members,
                "contribution": contribution,
                "base_value": base_value,
                "value": value,
                "confidence": round(c.confidence, 4),
            }
        )
    return out


def explained_share(cube: Cube, causes: Sequence[Cause]) -> float | None:
    """Share of the total absolute deviation on the leaves the causes cover."""
    dev = np.abs(cube.actual - cube.expected).sum(axis=1)
    total = float(dev.sum())
    if not causes or total == 0 or not math.isfinite(total):
        return None
    covered = np.zeros(len(dev), dtype=bool)
    for c in causes:
        covered |= c.leaves
    return float(dev[covered].sum()) / total
