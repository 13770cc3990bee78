"""How two nodes connect: up to k simple paths, shortest first, bounded in length."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable

from analysis.lineage import check_depth, edge_out
from analysis.resolve import require_node
from analysis.results import PathEdge, PathNode, PathOut, PathsResult
from core.i18n import _
from graph_schema.errors import InvalidQueryError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Edge
from graph_schema.relations import LINEAGE_RELATIONS, Relation
from store.base import GraphReader, Walk

MAX_PATH_DEPTH = 8
#: long enough for the demo's 满意度 → 留存率 → 复购率 → 营收 → … → 净利润 chain
DEFAULT_PATH_DEPTH = 6
MAX_PATHS = 50


def find_paths(
    store: GraphReader,
    source: NodeRef,
    target: NodeRef,
    max_depth: int = DEFAULT_PATH_DEPTH,
    k: int = 5,
    relations: Iterable[Relation] | None = None,
    *,
    any_direction: bool = False,
) -> PathsResult:
    """Up to ``k`` simple paths from ``source`` to ``target``, shortest first.

    By default a path is a directed chain: every hop follows an edge in its direction (how
    data and influence flow from ``source`` to ``target``). When there is none, chains from
    ``target`` to ``source`` are returned instead, with ``mode="reversed"``.
    ``any_direction=True`` takes edges either way (``mode="any-direction"``); each hop then
    says whether it runs along its edge (``forward``).

    Every lineage relation but SHOWN_ON is followed (SHOWN_ON too when an end is a dashboard).
    Paths are ordered by length, then by their node sequence; each lists every edge joining
    consecutive nodes. Only nodes lying on some path of at most ``max_depth`` hops are
    explored (distances from both ends prune the search), so the work stays bounded.

    Examples
    --------
    >>> from tests.helpers import demo_store
    >>> r = find_paths(demo_store(), NodeRef.parse("visits"), NodeRef.parse("atp"), 2, 3)
    >>> r.mode, [[n.id for n in p.nodes] for p in r.paths][:2]
    ('directed', [['visits', 'atp'], ['visits', 'parts_per_visit', 'atp']])
    >>> r = find_paths(demo_store(), NodeRef.parse("atp"), NodeRef.parse("visits"), 2, 3)
    >>> r.mode, [[n.id for n in p.nodes] for p in r.paths][:1]
    ('reversed', [['visits', 'atp']])
    """
    check_depth(max_depth, 1, MAX_PATH_DEPTH)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_PATHS:
        raise InvalidQueryError(
            _("k must be an integer from 1 to {most}, got {k}", most=MAX_PATHS, k=repr(k))
        )
    if relations:
        rels = frozenset(relations)
    elif NodeKind.DASHBOARD in (source.kind, target.kind):
        rels = LINEAGE_RELATIONS
    else:
        # two metrics both shown on one board are not "connected" in any useful sense
        rels = LINEAGE_RELATIONS - {Relation.SHOWN_ON}
    require_node(store, source)
    require_node(store, target)
    if any_direction:
        found = _search(store, source, target, rels, max_depth, k, Walk.UNDIRECTED)
        return _result(store, source, target, max_depth, "any-direction", found)
    found = _search(store, source, target, rels, max_depth, k, Walk.FORWARD)
    if found:
        return _result(store, source, target, max_depth, "directed", found)
    back = _search(store, target, source, rels, max_depth, k, Walk.FORWARD)
    if back:
        return _result(store, source, target, max_depth, "reversed", back)
    return _result(store, source, target, max_depth, "directed", [])


def _search(
    store: GraphReader,
    start: NodeRef,
    end: NodeRef,
    rels: frozenset[Relation],
    max_depth: int,
    k: int,
    walk: Walk,
) -> list[tuple[list[NodeRef], list[list[Edge]]]]:
    if start == end:
        return []
    back = Walk.BACKWARD if walk is Walk.FORWARD else walk
    from_start = store.traverse(start, walk, rels, max_depth)
    if end not in from_start:
        return []
    to_end = store.traverse(end, back, rels, max_depth)
    from_start[start] = 0
    to_end[end] = 0
    candidates = {r for r, d in from_start.items() if r in to_end and d + to_end[r] <= max_depth}
    edges = store.edges_among(candidates, rels)
    return enumerate_paths(
        edges, start, end, to_end, from_start[end], max_depth, k, directed=walk is Walk.FORWARD
    )


def _result(
    store: GraphReader,
    source: NodeRef,
    target: NodeRef,
    max_depth: int,
    mode: str,
    raw_paths: list[tuple[list[NodeRef], list[list[Edge]]]],
) -> PathsResult:
    nodes = store.get_nodes({r for p in raw_paths for r in p[0]})
    out = []
    for seq, hops in raw_paths:
        edges = []
        for (a, _b), hop in zip(itertools.pairwise(seq), hops, strict=True):
            for e in hop:
                plain = edge_out(e)
                edges.append(PathEdge(**plain.model_dump(), forward=e.source == a))
        out.append(
            PathOut(
                length=len(seq) - 1,
                nodes=[
                    PathNode(ref=str(r), kind=r.kind.value, id=r.id, name=nodes[r].name)
                    for r in seq
                ],
                edges=edges,
            )
        )
    return PathsResult(
        source=str(source), target=str(target), max_depth=max_depth, mode=mode, paths=out
    )


def enumerate_paths(
    edges: list[Edge],
    source: NodeRef,
    target: NodeRef,
    to_target: dict[NodeRef, int],
    shortest: int,
    max_depth: int,
    k: int,
    *,
    directed: bool = False,
) -> list[tuple[list[NodeRef], list[list[Edge]]]]:
    """Simple paths ``source`` → ``target`` in (length, node sequence) order, at most ``k``.

    ``to_target`` holds each node's distance to the target (along the edges when
    ``directed``, else either way); a branch is cut as soon as the target is farther than the
    hops left. ``directed`` walks edges only in their direction.
    """
    adjacency: dict[NodeRef, dict[NodeRef, list[Edge]]] = defaultdict(lambda: defaultdict(list))
    for e in edges:
        adjacency[e.source][e.target].append(e)
        if not directed:
            adjacency[e.target][e.source].append(e)
    neighbours = {u: sorted(vs, key=str) for u, vs in adjacency.items()}
    found: list[tuple[list[NodeRef], list[list[Edge]]]] = []

    def walk(node: NodeRef, length: int, seq: list[NodeRef], on_path: set[NodeRef]) -> bool:
        left = length - (len(seq) - 1)
        if node == target:
            if left == 0:
                hops = [adjacency[a][b] for a, b in itertools.pairwise(seq)]
                found.append((list(seq), hops))
                return len(found) >= k
            return False
        for nxt in neighbours.get(node, []):
            if nxt in on_path or to_target.get(nxt, max_depth + 1) > left - 1:
                continue
            seq.append(nxt)
            on_path.add(nxt)
            done = walk(nxt, length, seq, on_path)
            seq.pop()
            on_path.discard(nxt)
            if done:
                return True
        return False

    for length in range(shortest, max_depth + 1):
        if walk(source, length, [source], {source}):
            break
    return found
