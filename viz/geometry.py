"""Sizes and spacing of the map at scale 1, in pixels: label boxes, columns, and the room
edges need to bend between columns without running through a node.

The page scales the drawing to its canvas; these numbers fix the proportions.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Mapping

#: Pixels at scale 1: font size, one-line node height, horizontal room between columns.
FONT_SIZE = 14
ROW_PX = 30
COLUMN_GAP_PX = 52
#: At most this much extra room between two columns for edges to bend past nodes.
MAX_BEND_PX = 160
#: How flat edges leave and enter nodes (vis-network cubicBezier roundness).
ROUNDNESS = 0.9
MAX_LABEL_PX = 140
GROUP_LABEL_PX = 180


def column_positions(
    columns: Mapping[str, float], widths: Mapping[str, float], room: Mapping[float, float]
) -> dict[float, float]:
    """x of every column at scale 1: each column as wide as its widest node, plus a gap
    (and the extra ``room`` after a column that its edges need to bend past nodes).

    >>> column_positions({"a": 0, "b": 1, "c": 2}, {"a": 100, "b": 100, "c": 100}, {1: 40})
    {0: 0.0, 1: 152.0, 2: 344.0}
    """
    width: dict[float, float] = {}
    for ref, col in columns.items():
        width[col] = max(width.get(col, 0.0), widths.get(ref, 0.0))
    out: dict[float, float] = {}
    x = 0.0
    previous = None
    for col in sorted(width):
        if previous is not None:
            gap = COLUMN_GAP_PX * (col - previous) + room.get(previous, 0.0)
            x += (width[previous] + width[col]) / 2 + gap
        out[col] = round(x, 1)
        previous = col
    return out


def heights_of(
    ref_of: Mapping[str, str],
    labels: Mapping[str, str],
    caps: Mapping[str, float],
    ellipses: Collection[str] = (),
) -> dict[str, float]:
    """Box height of every drawn node at scale 1, in pixels (as vis-network draws it; an
    ellipse around three lines or more bulges by about a sixth)."""
    out = {}
    for d, r in ref_of.items():
        lines = label_lines(labels[r], caps[r])
        out[d] = box_height(lines) * (1.2 if r in ellipses and lines > 2 else 1.0)
    return out


def box_height(lines: int) -> float:
    """Pixels: a one-line box is 38 px high (font, margins, border), each more line 17 px.

    >>> box_height(1), box_height(2)
    (38, 55)
    """
    return 21 + 17 * lines


def bend_room(
    x: Mapping[str, float],
    y: Mapping[str, float],
    links: list[tuple[str, str]],
    widths: Mapping[str, float],
    heights: Mapping[str, float],
) -> dict[float, float]:
    """Extra pixels after each column so that no curve between two columns crosses a node
    standing beside one of its ends (the curve leaves a node flat, then turns: a wide
    neighbour right above or below it is in the way unless the columns are far enough apart).

    >>> x = {"a": 0, "n": 0, "b": 1}
    >>> y = {"a": 0.0, "n": 1.5, "b": 8.0}
    >>> bend_room(x, y, [("a", "b")], {"a": 100, "n": 180, "b": 100}, {"a": 34, "n": 34, "b": 34})
    {0: 50.0}
    >>> bend_room(x, y, [("a", "b")], {"a": 100, "n": 60, "b": 100}, {"a": 34, "n": 34, "b": 34})
    {}
    """
    column: dict[float, list[str]] = {}
    for v in heights:
        column.setdefault(x[v], []).append(v)
    width_of: dict[float, float] = {c: max(widths[v] for v in vs) for c, vs in column.items()}
    out: dict[float, float] = {}
    for a, b in links:
        if a not in x or b not in x or x[a] == x[b]:
            continue
        left, right = (a, b) if x[a] < x[b] else (b, a)
        cl, cr = x[left], x[right]
        base = (width_of.get(cl, 0.0) + width_of.get(cr, 0.0)) / 2 + COLUMN_GAP_PX * (cr - cl)
        y0, y1 = y[left] * ROW_PX, y[right] * ROW_PX
        beside = [(n, False) for n in column.get(cl, []) if n != left]
        beside += [(n, True) for n in column.get(cr, []) if n != right]
        for extra in range(0, MAX_BEND_PX + 1, 10):
            dx = base + extra
            if not any(_crosses(n, far, dx, y0, y1, widths, heights, y) for n, far in beside):
                if extra:
                    out[cl] = max(out.get(cl, 0.0), float(extra))
                break
        else:
            out[cl] = float(MAX_BEND_PX)
    return out


def _crosses(
    n: str,
    far: bool,
    dx: float,
    y0: float,
    y1: float,
    widths: Mapping[str, float],
    heights: Mapping[str, float],
    y: Mapping[str, float],
) -> bool:
    """Whether the edge's curve passes through node ``n``'s box (``far``: in the right column)."""
    half = widths[n] / 2
    if half >= dx:
        return True
    centre, h = y[n] * ROW_PX, heights[n] / 2
    if centre + h <= min(y0, y1) or centre - h >= max(y0, y1):
        return False  # the curve never leaves y0..y1: the box is above or below all of it
    lo = _curve_t(1 - half / dx if far else half / dx)
    at = y0 + (y1 - y0) * (3 * lo * lo - 2 * lo**3)
    # over the box's width the curve spans y0..at (left column) or at..y1 (right column)
    low, high = sorted((at, y1) if far else (y0, at))
    return low < centre + h and centre - h < high


@functools.lru_cache(maxsize=65536)
def _curve_t(s: float) -> float:
    """The curve parameter t where the edge's x is ``s`` of the way across (x(t) grows with t).

    >>> round(_curve_t(0.5), 3)
    0.5
    """
    lo, hi = 0.0, 1.0
    for _ in range(24):
        t = (lo + hi) / 2
        u = 1 - t
        if 3 * u * u * t * ROUNDNESS + 3 * u * t * t * (1 - ROUNDNESS) + t**3 < s:
            lo = t
        else:
            hi = t
    return lo


_WIDE = re.compile("[\u2e81-\U0010ffff]")  # CJK and beyond: a full em


def _line_px(line: str) -> float:
    """Estimated width of one line of text at scale 1: CJK a full em, the rest 0.58 em.

    >>> _line_px("营收"), _line_px("ab")
    (28.0, 16.24)
    """
    wide = len(_WIDE.findall(line))
    return FONT_SIZE * (wide + 0.58 * (len(line) - wide))


@functools.lru_cache(maxsize=16384)
def label_width(label: str, cap: float = MAX_LABEL_PX) -> float:
    """Estimated box width of a label at scale 1 (vis wraps lines at ``cap``; margins and an
    ellipse's curve add up to 32 px). Cached: a map asks for each label several times."""
    widest = max((_line_px(line) for line in label.split("\n")), default=0.0)
    return min(widest, cap - 20) + 32


@functools.lru_cache(maxsize=16384)
def label_lines(label: str, cap: float = MAX_LABEL_PX) -> int:
    """How many lines vis-network wraps a label into at ``cap`` pixels."""
    inner = cap - 20
    return sum(max(1, math.ceil(_line_px(line) / inner)) for line in label.split("\n"))


def cross_route(
    source: str,
    target: str,
    columns: Mapping[str, float],
    ys: Mapping[str, float],
    xs: Mapping[float, float],
    widths: Mapping[str, float],
    offset: float = 0.0,
) -> list[tuple[float, float]]:
    """Bends (x, y) for a cross link of the metric tree from ``source`` to ``target`` that run
    around nodes, not through them: out of its row into the gap beside its column, along the
    gap, and into the target's row — or, between columns further apart, along a lane above
    every node. ``offset`` (px) keeps links sharing a gap apart. ``ys`` are drawn y (px).

    Examples
    --------
    >>> cols, ys = {"a": 0, "b": 0, "m": 0, "c": 1}, {"a": 0, "m": 50, "b": 100, "c": 0}
    >>> xs, w = column_positions(cols, {k: 100 for k in cols}, {}), {k: 100 for k in cols}
    >>> cross_route("a", "b", cols, ys, xs, w)  # same column: down the gap on its right
    [(76.0, 0), (76.0, 100)]
    """
    width: dict[float, float] = {}
    for ref, col in columns.items():
        width[col] = max(width.get(col, 0.0), widths.get(ref, 0.0))
    ordered = sorted(xs)

    def gap_after(col: float) -> float:
        """x in the middle of the gap right of ``col`` (left of it for the last column)."""
        i = ordered.index(col)
        if i + 1 < len(ordered):
            nxt = ordered[i + 1]
            left, right = xs[col] + width[col] / 2, xs[nxt] - width[nxt] / 2
        else:
            left = xs[col] - width[col] / 2 - COLUMN_GAP_PX
            right = xs[col] - width[col] / 2
        return round((left + right) / 2 + offset, 1)

    cs, ct = columns[source], columns[target]
    ys_, yt = ys[source], ys[target]
    lo, hi = (cs, ct) if cs <= ct else (ct, cs)
    if lo == hi or ordered.index(hi) - ordered.index(lo) == 1:
        x = gap_after(lo)
        return [(x, ys_), (x, yt)]
    lane = round(min(ys.values()) - 40 - offset, 1)  # above every node
    first, last = (
        gap_after(cs if cs < ct else ordered[ordered.index(cs) - 1]),
        gap_after(ordered[ordered.index(ct) - 1] if cs < ct else ct),
    )
    return [(first, ys_), (first, lane), (last, lane), (last, yt)]
