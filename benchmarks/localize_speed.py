"""Benchmark: the root-cause search (:func:`analysis.localize.search`) on wide generated cubes.

``python -m benchmarks.localize_speed [--sizes 10x10x10x10,4x4x4x4x3x3x3x3,10x10x10x10x10x10]``

Each cube: every combination of members, lognormal expected values, ±5 % noise, and two
planted causes (a 1-dimension member ×0.5 and a 2-dimension combination ×1.8). Prints leaves,
cuboids, seconds (building the cube from rows excluded) and whether both causes were found.
Goal (issue 25): ≤ 1 s for 10⁴ leaves, ≤ 10 s for 10⁶.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from analysis.localize import Cube, search


def build(sizes: list[int], seed: int = 1) -> Cube:
    rng = np.random.default_rng(seed)
    k = len(sizes)
    n = math.prod(sizes)
    grids = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
    codes = np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)
    expected = rng.lognormal(4, 1, n)
    actual = expected * (1 + rng.uniform(-0.05, 0.05, n))
    actual[codes[:, 0] == 1] *= 0.5
    actual[(codes[:, 1] == 2) & (codes[:, k - 1] == 0)] *= 1.8
    members = [[f"d{j}m{i}" for i in range(s)] for j, s in enumerate(sizes)]
    return Cube([f"d{j}" for j in range(k)], members, codes, expected[:, None], actual[:, None])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10x10x10x10,4x4x4x4x3x3x3x3,10x10x10x10x10x10")
    args = ap.parse_args()
    for spec in args.sizes.split(","):
        sizes = [int(x) for x in spec.split("x")]
        cube = build(sizes)
        start = time.perf_counter()
        causes = search(cube)
        seconds = time.perf_counter() - start
        got = sorted(str(sorted(c.members.items())) for c in causes)
        k = len(sizes)
        want = sorted([str([("d0", "d0m1")]), str([("d1", "d1m2"), (f"d{k - 1}", f"d{k - 1}m0")])])
        print(f"{spec}: {cube.codes.shape[0]:,} leaves, {2**k - 1} cuboids, {seconds:.2f} s, "
              f"found {'both' if got == want else got}")  # fmt: skip


if __name__ == "__main__":
    main()
