"""The metric tree: spanning trees from the focus, upstream branches growing to the left and
downstream branches to the right, leaves on consecutive rows (same coordinates as
:mod:`viz.layout`: ``x`` a signed column, ``y`` in row units)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from viz.layout import ROW_GAP, Edge, Layout


def tree_layout(
    focus: str,
    nodes: Mapping[str, tuple[str, int]],
    edges: Sequence[Edge],
    rank: Sequence[int] | None = None,
) -> Layout:
    """The metric tree: spanning trees from ``focus``, upstream left, downstream right.

    ``nodes`` maps each node (the focus excluded) to ``(side, depth)`` as lineage reports it
    (side ``upstream``, ``downstream`` or ``both``). Each side is walked breadth-first away
    from the focus (lowest ``rank`` first); a node's parent is the node that reached it. A
    node on both sides (a cycle through the focus) is drawn on each, the downstream copy
    named ``ref + "#down"`` (in ``copies``). ``drawn`` lists the tree edges as
    ``(edge index, from id, to id)``; the other edges go to ``hidden``. Leaves take
    consecutive rows; a parent sits at the middle of its children.

    Examples
    --------
    >>> lay = tree_layout("net", {"gross": ("upstream", 1), "rev": ("upstream", 2),
    ...                           "cost": ("upstream", 1), "margin": ("downstream", 1)},
    ...                   [("gross", "net"), ("rev", "gross"), ("cost", "net"),
    ...                    ("net", "margin"), ("rev", "margin")])
    >>> lay.x == {"net": 0, "gross": -1, "cost": -1, "rev": -2, "margin": 1}
    True
    >>> sorted(lay.hidden)  # rev→margin is not a tree edge
    [4]
    >>> lay = tree_layout("atp", {"revenue": ("both", 1)}, [("revenue", "atp"), ("atp", "revenue")])
    >>> lay.x, lay.copies
    ({'atp': 0, 'revenue': -1, 'revenue#down': 1}, {'revenue#down': 'revenue'})
    """
    rank = rank if rank is not None else [0] * len(edges)
    outgoing: dict[str, list[int]] = {}
    incoming: dict[str, list[int]] = {}
    for i in sorted(range(len(edges)), key=lambda i: (rank[i], i)):
        s, t = edges[i]
        outgoing.setdefault(s, []).append(i)
        incoming.setdefault(t, []).append(i)
    lay = Layout(x={focus: 0})
    used: set[int] = set()
    children: dict[str, list[str]] = {focus: []}
    for sign, walk, other in ((-1, incoming, "downstream"), (1, outgoing, "upstream")):
        column: dict[str, int] = {focus: 0}
        drawn_id = {focus: focus}
        frontier = [focus]
        while frontier:
            found = []
            for v in frontier:
                for i in walk.get(v, ()):
                    w = edges[i][0] if sign < 0 else edges[i][1]
                    if w not in nodes or w in column or nodes[w][0] == other:
                        continue
                    column[w] = column[v] + sign
                    wid = w if w not in lay.x else f"{w}#down"
                    if wid != w:
                        lay.copies[wid] = w
                    drawn_id[w] = wid
                    lay.x[wid] = column[w]
                    children.setdefault(drawn_id[v], []).append(wid)
                    children.setdefault(wid, [])
                    pair = (wid, drawn_id[v]) if sign < 0 else (drawn_id[v], wid)
                    lay.drawn.append((i, *pair))
                    used.add(i)
                    found.append(w)
            frontier = found
    orphans = []
    for v, (side, depth) in nodes.items():  # not reached through these edges: own root
        if v not in lay.x:
            lay.x[v] = depth if side == "downstream" else -depth
            children[v] = []
            orphans.append(v)
    lay.hidden = {i for i in range(len(edges)) if i not in used}
    for sign in (-1, 1):
        roots = sorted(v for v in children[focus] + orphans if lay.x[v] * sign > 0)
        rows: dict[str, float] = {}
        _tidy(roots, children, rows, [0.0])
        if rows:
            middle = (min(rows.values()) + max(rows.values())) / 2
            for v, r in rows.items():
                lay.y[v] = r - middle
    lay.y[focus] = 0.0
    low = min(lay.y.values())
    lay.y = {v: round((r - low), 3) for v, r in lay.y.items()}
    return lay


def _tidy(
    vs: list[str], children: Mapping[str, list[str]], rows: dict[str, float], next_row: list[float]
) -> None:
    step = 1 + ROW_GAP
    for v in vs:
        kids = sorted(children[v])
        if kids:
            _tidy(kids, children, rows, next_row)
            rows[v] = (rows[kids[0]] + rows[kids[-1]]) / 2
        else:
            rows[v] = next_row[0]
            next_row[0] += step
