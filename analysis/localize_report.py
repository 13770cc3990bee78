"""What the root-cause search (:mod:`analysis.localize`) found, as explain reports it: the JSON
rows of the causes (:func:`describe`) and the share of the deviation they cover."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from analysis.localize import Cause, Cube


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
