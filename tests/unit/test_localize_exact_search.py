"""The fast search (lattice of cuboid sums, branch and bound on the gain, mirror test only
where significant) names the same causes, with the same gains, as scoring every element of
every cuboid on the leaves — the plain greedy written out here — on random cubes: planted
causes at any depth, zeros, new combinations, noise, one or two measures."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from analysis import localize, localize_mirror
from analysis.localize import Cube, noise_scale, search

F = npt.NDArray[np.float64]


def mirror(moves: F, present: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    r = moves[present]
    up, down = np.sort(r[r > 0]), np.sort(-r[r < 0])
    m = np.abs(moves)
    n_up = len(up) - np.searchsorted(up, m)
    n_down = len(down) - np.searchsorted(down, m)
    o_up = len(up) - np.searchsorted(up, m / localize_mirror.MIRROR_MARGIN)
    o_down = len(down) - np.searchsorted(down, m / localize_mirror.MIRROR_MARGIN)
    same = np.where(moves > 0, n_up, n_down)
    other = np.where(moves > 0, o_down, o_up)
    fdr = localize_mirror.MIRROR_FDR
    ok: npt.NDArray[np.bool_] = (moves != 0) & (other <= fdr * same) & present
    return ok


def plain(cube: Cube) -> list[tuple[dict[str, str], float]]:
    """The greedy of the module doc, every element of every cuboid scored on the leaves."""
    n, k = cube.codes.shape
    totals = np.abs(cube.expected).sum(axis=0)
    totals = np.where(totals > 0, totals, np.abs(cube.actual).sum(axis=0))
    totals = np.where(totals > 0, totals, 1.0)
    f, a = cube.expected / totals, cube.actual / totals
    dev = np.abs(a - f)
    s = noise_scale(cube)
    groups = []
    for depth in range(1, k + 1):
        for cub in itertools.combinations(range(k), depth):
            _, inv = np.unique(cube.codes[:, cub], axis=0, return_inverse=True)
            groups.append((cub, inv.reshape(-1), int(inv.max()) + 1))
    open_ = np.ones(n, dtype=bool)
    out: list[tuple[dict[str, str], float]] = []
    while len(out) < localize.MAX_CAUSES and open_.any():
        best = None
        live = []
        for cub, inv, m in groups:
            idx, fo, ao, do = inv[open_], f[open_], a[open_], dev[open_]
            count = np.bincount(idx, minlength=m).astype(float)
            gain, z_best = np.zeros(m), np.zeros(m)
            for j in range(f.shape[1]):
                fj, aj = fo[:, j], ao[:, j]
                sf = np.bincount(idx, fj, m)
                sa = np.bincount(idx, aj, m)
                sf2 = np.bincount(idx, fj * fj, m)
                mass = np.bincount(idx, do[:, j], m)
                with np.errstate(divide="ignore", invalid="ignore"):
                    x = np.where(sf > 0, sa / sf, 1.0)
                    level = np.where(count > 0, sa / np.maximum(count, 1.0), 0.0)
                    pred = np.where(sf[idx] > 0, x[idx] * fj, level[idx])
                    resid = np.bincount(idx, np.abs(aj - pred), m)
                    resid *= np.where((sf > 0) & (x >= 0), 2.0 / (np.abs(x) + 1.0), 1.0)
                    move = np.where(sf > 0, np.log(np.maximum(x, localize.LOG_FLOOR)), 0.0)
                    sigma = s * np.sqrt(sf2) / sf
                    z = np.where(sf > 0, np.abs(move) / np.where(sigma > 0, sigma, np.inf),
                                 np.where(sa != 0, np.inf, 0.0))  # fmt: skip
                z = np.where(mirror(move, count > 0) | (sf <= 0), z, 0.0)
                gain += mass - resid
                z_best = np.maximum(z_best, np.nan_to_num(z, nan=0.0, posinf=1e9))
            cand = (z_best >= localize.Z_MIN) & (count > 0)
            if not cand.any():
                continue
            live.append((cub, inv, m))
            e = int(np.argmax(np.where(cand, gain, -np.inf)))
            if best is None or gain[e] > best[0] * (1 + 1e-9):
                best = (float(gain[e]), cub, inv, e)
        groups = live
        if best is None or best[0] <= 0:
            break
        g, cub, inv, e = best
        leaves = inv == e
        first = int(np.argmax(leaves))
        members = {cube.dimensions[j]: cube.members[j][int(cube.codes[first, j])] for j in cub}
        out.append((members, g))
        open_ &= ~leaves
    return out


def random_cube(seed: int) -> Cube:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 5))
    sizes = [int(rng.integers(2, 6)) for _ in range(k)]
    codes = np.array(list(itertools.product(*(range(s) for s in sizes))), dtype=np.int64)
    keep = rng.uniform(size=len(codes)) > 0.1  # some combinations absent
    codes = codes[keep]
    n, width = len(codes), int(rng.integers(1, 3))
    f = rng.weibull(0.7, (n, width)) * 100 * (rng.uniform(size=(n, 1)) > 0.15)
    a = f * (1 + rng.normal(0, rng.uniform(0.0, 0.2), (n, width)))
    a = np.maximum(a, 0.0)
    for _ in range(int(rng.integers(1, 4))):
        depth = int(rng.integers(1, k + 1))
        dims = rng.choice(k, depth, replace=False)
        where = np.all([codes[:, d] == rng.integers(0, sizes[d]) for d in dims], axis=0)
        a[where] = f[where] * rng.uniform(0.1, 2.5)
    new = rng.uniform(size=n) < 0.03  # new combinations: nothing expected
    f[new] = 0.0
    members = [[f"d{j}m{i}" for i in range(s)] for j, s in enumerate(sizes)]
    return Cube([f"d{j}" for j in range(k)], members, codes, f, a)


@pytest.mark.parametrize("seed", range(60))
def test_fast_search_is_the_plain_greedy(seed: int) -> None:
    cube = random_cube(seed)
    fast = [(c.members, c.gain) for c in search(cube)]
    want = plain(cube)
    assert [m for m, _ in fast] == [m for m, _ in want]
    assert [g for _, g in fast] == pytest.approx([g for _, g in want], rel=1e-9)


def test_few_and_many_queries_of_the_mirror_test_agree() -> None:
    rng = np.random.default_rng(3)
    moves = rng.normal(0, 0.1, 500)
    moves[:5] = [0.9, 0.85, 0.8, 0.05, -0.02]
    present = np.ones(500, dtype=bool)
    want = mirror(moves, present)
    assert localize_mirror.mirror_ok(moves, present).tolist() == want.tolist()  # sorted queries
    few = np.zeros(500, dtype=bool)
    few[:5] = True  # five queries: counted directly
    got = localize_mirror.mirror_ok(moves, present, few)
    assert got[:5].tolist() == want[:5].tolist() and not got[5:].any()
    assert want[:3].all()
