"""Layouts for the relationship map: pure functions over node ids and directed edges.

The map is a layered (Sugiyama-style) drawing, upstream on the left:

1. :func:`break_cycles` drops the fewest, weakest edges that close cycles (DRIVES and CAUSES
   may form cycles; INPUT_TO may not), so what is left is a DAG;
2. :func:`longest_path_layers` gives every node a column: each edge of the DAG spans at least
   one column to the right, and sources sit just left of what they feed;
3. :func:`layered_layout` routes edges longer than one column through placeholder points
   (so they pass between the nodes of the columns they cross), orders every column by
   barycenter sweeps (fewer crossings) and places rows by isotonic regression (as straight as
   the minimum gaps allow).

:func:`viz.tree.tree_layout` is the metric tree (spanning trees from the focus).

Coordinates are abstract: ``x`` is a column index, ``y`` a row position in units of one
line-high node; the page scales both to its canvas.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

Edge = tuple[str, str]

#: Gap between two stacked nodes, in row units (a one-line node is 1 unit high).
ROW_GAP = 0.3
#: The height of a routing placeholder, and its gap to its neighbours, in row units.
DUMMY_HEIGHT = 0.3
DUMMY_GAP = 0.5


@dataclass
class Layout:
    """Where everything goes.

    ``x``/``y`` hold real nodes and routing points (ids in ``points``); ``routes[i]`` is the
    chain of ids edge ``i`` is drawn through (its two ends included, in the direction of the
    edge); ``broken`` holds the indices of edges dropped to break cycles (drawn right to left).
    """

    x: dict[str, float] = field(default_factory=dict)
    y: dict[str, float] = field(default_factory=dict)
    points: set[str] = field(default_factory=set)
    routes: dict[int, list[str]] = field(default_factory=dict)
    broken: set[int] = field(default_factory=set)
    hidden: set[int] = field(default_factory=set)  # edges left out of a tree, drawn on demand
    copies: dict[str, str] = field(default_factory=dict)  # tree: drawn id -> node id
    drawn: list[tuple[int, str, str]] = field(default_factory=list)  # tree edges, by drawn ids


def strongly_connected(nodes: Iterable[str], edges: Sequence[Edge]) -> list[list[str]]:
    """Strongly connected components (iterative Tarjan), each as a list of node ids.

    Examples
    --------
    >>> sorted(sorted(c) for c in strongly_connected("abcd", [("a", "b"), ("b", "a"), ("b", "c")]))
    [['a', 'b'], ['c'], ['d']]
    """
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for s, t in edges:
        succ.setdefault(s, []).append(t)
        succ.setdefault(t, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in succ:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            children = succ[v]
            while i < len(children):
                w = children[i]
                i += 1
                if w not in index:
                    work.append((v, i))
                    work.append((w, 0))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    out.append(component)
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
    return out


def break_cycles(nodes: Iterable[str], edges: Sequence[Edge], rank: Sequence[int]) -> set[int]:
    """Indices of edges to drop so that the rest is acyclic.

    Only edges inside a cycle are candidates. Within a strongly connected part edges are
    kept greedily, lowest ``rank`` first (so rank DRIVES/CAUSES high to drop them first), and
    an edge is dropped when its target already reaches its source. Self-loops are dropped.

    Examples
    --------
    >>> edges = [("revenue", "atp"), ("atp", "revenue"), ("visits", "atp")]
    >>> break_cycles(["revenue", "atp", "visits"], edges, [0, 1, 0])  # DRIVES atp→revenue
    {1}
    >>> break_cycles("ab", [("a", "b")], [0])
    set()
    """
    component_of: dict[str, int] = {}
    for i, component in enumerate(strongly_connected(nodes, edges)):
        for v in component:
            component_of[v] = i
    dropped = {i for i, (s, t) in enumerate(edges) if s == t}
    inside: dict[int, list[int]] = {}
    for i, (s, t) in enumerate(edges):
        if s != t and component_of[s] == component_of[t]:
            inside.setdefault(component_of[s], []).append(i)
    for members in inside.values():
        kept: dict[str, list[str]] = {}
        for i in sorted(members, key=lambda i: (rank[i], i)):
            s, t = edges[i]
            if _reaches(kept, t, s):
                dropped.add(i)
            else:
                kept.setdefault(s, []).append(t)
    return dropped


def _reaches(succ: Mapping[str, list[str]], start: str, goal: str) -> bool:
    seen = {start}
    todo = [start]
    while todo:
        v = todo.pop()
        if v == goal:
            return True
        for w in succ.get(v, ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return False


def longest_path_layers(nodes: Sequence[str], edges: Sequence[Edge]) -> dict[str, int]:
    """Column of every node of a DAG: each edge goes at least one column to the right.

    Longest-path layering from the sources; then every source moves right to just before
    the nearest node it feeds (a field sits next to its metric, not in column 0).

    Examples
    --------
    >>> longest_path_layers("abcf", [("a", "b"), ("b", "c"), ("f", "c")])
    {'a': 0, 'b': 1, 'c': 2, 'f': 1}
    """
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    indegree = dict.fromkeys(nodes, 0)
    for s, t in edges:
        succ[s].append(t)
        indegree[t] += 1
    layer = dict.fromkeys(nodes, 0)
    ready = [n for n in nodes if indegree[n] == 0]
    sources = list(ready)
    order: list[str] = []
    while ready:
        v = ready.pop()
        order.append(v)
        for w in succ[v]:
            layer[w] = max(layer[w], layer[v] + 1)
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    if len(order) != len(layer):
        raise ValueError("longest_path_layers needs an acyclic graph")
    for v in sources:
        if succ[v]:
            layer[v] = min(layer[w] for w in succ[v]) - 1
    low = min(layer.values(), default=0)
    return {n: layer[n] - low for n in nodes}


def count_crossings(upper: Sequence[str], lower: Sequence[str], edges: Iterable[Edge]) -> int:
    """Crossings between two adjacent columns (edges from ``upper`` to ``lower``).

    Examples
    --------
    >>> count_crossings("ab", "xy", [("a", "y"), ("b", "x")])
    1
    >>> count_crossings("ab", "xy", [("a", "x"), ("b", "y")])
    0
    """
    pos_u = {v: i for i, v in enumerate(upper)}
    pos_l = {v: i for i, v in enumerate(lower)}
    pairs = sorted((pos_u[s], pos_l[t]) for s, t in edges if s in pos_u and t in pos_l)
    seen: list[int] = []
    crossings = 0
    for _, b in pairs:
        # edges already seen (from rows above or equal) that end strictly below this one
        crossings += len(seen) - bisect_right(seen, b)
        seen.insert(bisect_right(seen, b), b)
    return crossings


def layered_layout(
    nodes: Sequence[str],
    edges: Sequence[Edge],
    rank: Sequence[int] | None = None,
    heights: Mapping[str, float] | None = None,
    route: bool = True,
    clearance: Mapping[str, float] | None = None,
    sweeps: int = 8,
) -> Layout:
    """A left-to-right layered drawing of a directed graph.

    ``rank`` orders edges for cycle breaking (high rank dropped first); ``heights`` gives a
    node's height in row units (default 1), ``clearance`` extra room (row units) between a
    node and an edge passing it (wide nodes need more). With ``route``, edges longer than one
    column get routing points in the columns they cross, so no edge runs through a node.

    Examples
    --------
    >>> lay = layered_layout("abc", [("a", "b"), ("b", "c"), ("a", "c")])
    >>> [lay.x[n] for n in "abc"]
    [0, 1, 2]
    >>> len(lay.routes[2])  # a→c crosses column 1 through a routing point
    3
    >>> lay = layered_layout("ab", [("a", "b"), ("b", "a")], rank=[0, 1])
    >>> lay.broken, lay.x["a"] < lay.x["b"]
    ({1}, True)
    """
    rank = rank if rank is not None else [0] * len(edges)
    heights = heights or {}
    nodes = list(dict.fromkeys(nodes))
    broken = break_cycles(nodes, edges, rank)
    dag = [e for i, e in enumerate(edges) if i not in broken]
    layer: dict[str, int] = dict(longest_path_layers(nodes, dag))
    lay = Layout(broken=broken)
    # chains through routing points; broken edges run right to left
    links: list[Edge] = []
    for i, (s, t) in enumerate(edges):
        if s == t:
            continue
        a, b = (t, s) if i in broken else (s, t)
        chain = [a]
        if route:
            for k in range(layer[a] + 1, layer[b]):
                point = f"\x00{i}.{k}"
                layer[point] = k
                lay.points.add(point)
                chain.append(point)
        chain.append(b)
        links.extend(pairwise(chain))
        lay.routes[i] = chain if i not in broken else chain[::-1]
    columns = _order(layer, links, sweeps)
    height = {v: (DUMMY_HEIGHT if v in lay.points else heights.get(v, 1.0)) for v in layer}
    lay.y = _rows(columns, links, height, sweeps, clearance or {})
    lay.x = {v: layer[v] for v in layer}
    return lay


def _order(layer: Mapping[str, int], links: Sequence[Edge], sweeps: int) -> list[list[str]]:
    """Columns ordered to reduce crossings: depth-first start, then barycenter sweeps."""
    width = max(layer.values(), default=0) + 1
    preds: dict[str, list[str]] = {v: [] for v in layer}
    succs: dict[str, list[str]] = {v: [] for v in layer}
    for s, t in links:
        succs[s].append(t)
        preds[t].append(s)
    # initial order: the order a depth-first walk from the leftmost nodes meets them
    seen: set[str] = set()
    first: dict[str, int] = {}
    for root in sorted(layer, key=lambda v: (layer[v], v)):
        if root in seen:
            continue
        todo = [root]
        while todo:
            v = todo.pop()
            if v in seen:
                continue
            seen.add(v)
            first[v] = len(first)
            todo.extend(w for w in reversed(succs[v] + preds[v]) if w not in seen)
    columns: list[list[str]] = [[] for _ in range(width)]
    for v in sorted(layer, key=first.__getitem__):
        columns[layer[v]].append(v)

    def crossings(cols: list[list[str]]) -> int:
        return sum(count_crossings(cols[k], cols[k + 1], links) for k in range(width - 1))

    best = [list(c) for c in columns]
    best_cost = crossings(columns) if sweeps else 0
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        order = range(1, width) if down else range(width - 2, -1, -1)
        for k in order:
            ref = columns[k - 1] if down else columns[k + 1]
            pos = {v: i for i, v in enumerate(ref)}
            near = preds if down else succs
            current = {v: i for i, v in enumerate(columns[k])}

            scale = len(ref) / max(len(current), 1)
            keys = {}
            for v in columns[k]:
                ns = [pos[u] for u in near[v] if u in pos]
                keys[v] = sum(ns) / len(ns) if ns else current[v] * scale
            columns[k].sort(key=keys.__getitem__)
        if best_cost == 0:
            break
        cost = crossings(columns)
        if cost < best_cost:
            best, best_cost = [list(c) for c in columns], cost
    return best


def _rows(
    columns: list[list[str]],
    links: Sequence[Edge],
    height: Mapping[str, float],
    passes: int,
    clearance: Mapping[str, float],
) -> dict[str, float]:
    """Row positions: stacked with gaps, then pulled toward their neighbours (order kept)."""
    near: dict[str, list[str]] = {v: [] for col in columns for v in col}
    for s, t in links:
        near[s].append(t)
        near[t].append(s)
    y: dict[str, float] = {}
    for col in columns:
        for v, pos in zip(col, _stack(col, height, [0.0] * len(col), clearance), strict=True):
            y[v] = pos
    for k in range(max(passes, 0)):
        order = columns if k % 2 == 0 else columns[::-1]
        for col in order:
            want = []
            for v in col:
                ns = near[v]
                want.append(sum(y[u] for u in ns) / len(ns) if ns else y[v])
            for v, pos in zip(col, _stack(col, height, want, clearance), strict=True):
                y[v] = pos
    low = min(y.values(), default=0.0)
    return {v: round(p - low, 3) for v, p in y.items()}


def _stack(
    col: Sequence[str],
    height: Mapping[str, float],
    want: Sequence[float],
    clearance: Mapping[str, float] | None = None,
) -> list[float]:
    """Positions closest to ``want`` (least squares) keeping order and minimum gaps.

    Isotonic regression (pool adjacent violators) on ``want`` minus the cumulative gaps.

    Examples
    --------
    >>> _stack("ab", {"a": 1, "b": 1}, [0.0, 0.0])
    [-0.65, 0.65]
    """
    offsets = [0.0]
    for a, b in pairwise(col):
        real_a, real_b = height[a] > DUMMY_HEIGHT, height[b] > DUMMY_HEIGHT
        if real_a and real_b:
            gap = ROW_GAP
        else:  # an edge passes here: room for it to bend past a wide neighbour
            room = clearance or {}
            gap = (
                DUMMY_GAP
                + (room.get(a, 0.0) if real_a else 0.0)
                + (room.get(b, 0.0) if real_b else 0.0)
            )
        offsets.append(offsets[-1] + (height[a] + height[b]) / 2 + gap)
    blocks: list[list[float]] = []  # [mean, count]
    for w, off in zip(want, offsets, strict=True):
        blocks.append([w - off, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks[-1]
            blocks[-1] = [(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2]
    out: list[float] = []
    for mean, count in blocks:
        out.extend([mean] * int(count))
    return [z + off for z, off in zip(out, offsets, strict=True)]
