"""What the root-cause search (:mod:`analysis.localize`) holds: its cost a round in
element-operations (:func:`search_work`) and the limits above which a cube is refused with what
to narrow (:func:`check_size`, :func:`check_budget`)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from core.i18n import _
from graph_schema.errors import InvalidQueryError

MAX_WORK = 4 * 10**8  # element-operations a round (search_work)
MAX_LEAVES = 3 * 10**7  # memory: see analysis.localize_columns (H: 24 million leaves)
MAX_DIMENSIONS = 12


def search_work(leaves: int, sizes: Sequence[int]) -> int:
    """Cost of one round of the search in element-operations: a pass over the leaves per
    dimension (the cuboids one dimension short of the leaves are summed from them) plus the
    elements of every coarser cuboid (summed from a finer cuboid, never from the leaves)."""
    k = len(sizes)
    work = leaves * max(k, 1)
    for depth in range(1, k - 1):
        for sub in itertools.combinations(sizes, depth):
            work += min(leaves, math.prod(sub))
    return work


def check_size(leaves: int, dimensions: Sequence[str], *, read: int | None = None) -> None:
    """Refuse more dimensions or leaves than the search holds (before the cube is built).
    ``read``: the leaves are not all read — more than ``read`` were found, and the reading
    stopped there (:func:`analysis.localize_columns.read_columnar`)."""
    k = len(dimensions)
    if k > MAX_DIMENSIONS:
        raise InvalidQueryError(
            _(
                "localize searches every combination of the chosen dimensions; {k} "
                "dimensions is more than {MAX_DIMENSIONS} — choose fewer with --by (by=)",
                k=k,
                MAX_DIMENSIONS=MAX_DIMENSIONS,
            )
        )
    if leaves > MAX_LEAVES:
        count = f"more than {read:,}" if read is not None else f"{leaves:,}"
        raise InvalidQueryError(
            _(
                "localize over {count} leaves ({dimensions}) is more than this server's "
                "budget of {MAX_LEAVES} leaves — choose fewer dimensions with --by "
                "(by=), or dimensions with fewer members",
                count=count,
                dimensions=", ".join(dimensions),
                MAX_LEAVES=f"{MAX_LEAVES:,}",
            )
        )


def check_budget(
    leaves: int, dimensions: Sequence[str], sizes: Sequence[int] | None = None
) -> None:
    """Refuse cubes the search cannot finish in its time or memory budget, naming what to
    narrow (``sizes``: members per dimension; unknown, every cuboid is taken as large as the
    leaves). :func:`search` first leaves out like-moving dimensions of a cube above it."""
    check_size(leaves, dimensions)
    k = len(dimensions)
    work = search_work(leaves, sizes if sizes is not None else [leaves] * k)
    if work > MAX_WORK:
        raise InvalidQueryError(
            _(
                "localize over {leaves} leaves × {value} dimension combinations "
                "({dimensions}) is more than this server's budget of {MAX_WORK} "
                "element-operations a round — choose fewer dimensions with --by (by=), "
                "or dimensions with fewer members",
                leaves=f"{leaves:,}",
                value=2**k - 1,
                dimensions=", ".join(dimensions),
                MAX_WORK=f"{MAX_WORK:,}",
            )
        )
