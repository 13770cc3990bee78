"""How two nodes connect: up to k simple paths, shortest first, bounded in length."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable

from analysis.lineage import check_depth, edge_out
from analysis.resolve import require_node
from analysis.results import PathNode, PathOut, PathsResult
from graph_schema.errors import InvalidQueryError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Edge
from graph_schema.relations import LINEAGE_RELATIONS, Relation
from store.base import GraphStore, Walk

MAX_PATH_DEPTH = 8
MAX_PATHS = 50


def find_paths(
    store: GraphStore,
    source: NodeRef,
    target: NodeRef,
    max_depth: int = 4,
    k: int = 5,
    relations: Iterable[Relation] | None = None,
) -> PathsResult:
    """Up to ``k`` simple paths between two nodes over lineage edges taken either way.

    By default every lineage relation but SHOWN_ON is followed (SHOWN_ON too when an end is a
    dashboard).
    Paths are ordered by length, then by their node sequence; each path lists every edge
    joining consecutive nodes, in its true direction. Only nodes lying on some path of at
    most ``max_depth`` hops are explored (distances from both ends prune the search), so the
    work stays bounded on dense graphs.

    Examples
    --------
    >>> from tests.helpers import demo_store
    >>> r = find_paths(demo_store(), NodeRef.parse("visits"), NodeRef.parse("atp"), 2, 3)
    >>> [[n.id for n in p.nodes] for p in r.paths][:2]
    [['visits', 'atp'], ['visits', 'dms.dms_orders.order_id', 'atp']]
    """
    check_depth(max_depth, 1, MAX_PATH_DEPTH)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_PATHS:
        raise InvalidQueryError(f"k must be an integer from 1 to {MAX_PATHS}, got {k!r}")
    if relations:
        rels = frozenset(relations)
    elif NodeKind.DASHBOARD in (source.kind, target.kind):
        rels = LINEAGE_RELATIONS
    else:
        # two metrics both shown on one board are not "connected" in any useful sense
        rels = LINEAGE_RELATIONS - {Relation.SHOWN_ON}
    require_node(store, source)
    require_node(store, target)
    empty = PathsResult(source=str(source), target=str(target), max_depth=max_depth, paths=[])
    if source == target:
        return empty
    from_source = store.traverse(source, Walk.UNDIRECTED, rels, max_depth)
    if target not in from_source:
        return empty
    from_target = store.traverse(target, Walk.UNDIRECTED, rels, max_depth)
    from_source[source] = 0
    from_target[target] = 0
    candidates = {
        r for r, d in from_source.items() if r in from_target and d + from_target[r] <= max_depth
    }
    edges = store.edges_among(candidates, rels)
    raw_paths = enumerate_paths(
        edges, source, target, from_target, from_source[target], max_depth, k
    )
    nodes = store.get_nodes({r for p in raw_paths for r in p[0]})
    out = []
    for seq, hops in raw_paths:
        out.append(
            PathOut(
                length=len(seq) - 1,
                nodes=[
                    PathNode(ref=str(r), kind=r.kind.value, id=r.id, name=nodes[r].name)
                    for r in seq
                ],
                edges=[edge_out(e) for hop in hops for e in hop],
            )
        )
    return PathsResult(source=str(source), target=str(target), max_depth=max_depth, paths=out)


def enumerate_paths(
    edges: list[Edge],
    source: NodeRef,
    target: NodeRef,
    to_target: dict[NodeRef, int],
    shortest: int,
    max_depth: int,
    k: int,
) -> list[tuple[list[NodeRef], list[list[Edge]]]]:
    """Simple paths ``source`` → ``target`` in (length, node sequence) order, at most ``k``.

    ``to_target`` holds each node's undirected distance to the target; a branch is cut as soon
    as the target is farther than the hops left.
    """
    adjacency: dict[NodeRef, dict[NodeRef, list[Edge]]] = defaultdict(lambda: defaultdict(list))
    for e in edges:
        adjacency[e.source][e.target].append(e)
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
