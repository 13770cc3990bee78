"""The mirror test of the root-cause search (:mod:`analysis.localize`): noise is taken as
symmetric in ``ln(a/f)`` and a cause as not, so the elements of a cuboid that moved as far the
other way estimate how many of those that moved this far are noise."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MIRROR_FDR = 0.1
MIRROR_MARGIN = 1.25


def mirror_ok(
    moves: FloatArray,
    present: npt.NDArray[np.bool_],
    asked: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.bool_]:
    """Mirror test of each element's relative move ``r = A/F − 1`` against the other elements
    of its cuboid: the elements that moved at least as far the *other* way estimate how many
    of those that moved this far are noise (noise is taken as symmetric; a cause is not).
    Passes where ``#{r' ≤ −|r|} ≤ MIRROR_FDR · #{r' ≥ |r|}`` (for ``r > 0``; mirrored for
    ``r < 0``). Only the elements ``asked`` are tested (the others fail): on a cuboid of
    millions of elements only the few significant ones need it.

    >>> moves = np.array([0.5, 0.05, -0.04, 0.03, -0.06, 0.02])
    >>> mirror_ok(moves, moves != 0).tolist()
    [True, False, False, False, False, False]
    """
    ask = (moves != 0) & present
    if asked is not None:
        ask &= asked
    out = np.zeros(len(moves), dtype=bool)
    q = np.flatnonzero(ask)
    if len(q) == 0:
        return out
    r = moves[present]
    up, down = r[r > 0], -r[r < 0]
    mq = np.abs(moves[q])
    # the other side counted from |r| / MIRROR_MARGIN: beyond the most extreme opposite move
    # by a margin, since the extreme of the noise on one side is no proof on the other
    if len(q) <= 8:  # a few queries: counted directly
        n_up = np.array([int((up >= v).sum()) for v in mq])
        n_down = np.array([int((down >= v).sum()) for v in mq])
        o_up = np.array([int((up >= v / MIRROR_MARGIN).sum()) for v in mq])
        o_down = np.array([int((down >= v / MIRROR_MARGIN).sum()) for v in mq])
    else:
        up.sort()
        down.sort()
        order = np.argsort(mq)
        keys = mq[order]  # sorted keys: searchsorted goes faster

        def at_least(side: FloatArray, v: FloatArray) -> IntArray:
            found = np.empty(len(v), dtype=np.int64)
            found[order] = len(side) - np.searchsorted(side, v, side="left")
            return found

        n_up, n_down = at_least(up, keys), at_least(down, keys)
        o_up, o_down = at_least(up, keys / MIRROR_MARGIN), at_least(down, keys / MIRROR_MARGIN)
    rising = moves[q] > 0
    same = np.where(rising, n_up, n_down)
    other = np.where(rising, o_down, o_up)
    out[q] = other <= MIRROR_FDR * same
    return out
