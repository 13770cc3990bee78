"""Upstream / downstream lineage of a node."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from analysis.resolve import not_found
from analysis.results import Direction, EdgeOut, LineageNode, LineageResult
from core.i18n import _
from graph_schema.errors import InvalidQueryError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Edge
from graph_schema.relations import LINEAGE_RELATIONS, Relation
from store.base import GraphReader, Walk

MIN_DEPTH, MAX_DEPTH = 1, 10
T = TypeVar("T")


def check_depth(depth: int, low: int = MIN_DEPTH, high: int = MAX_DEPTH) -> int:
    """Range-check a depth (it is an int between ``low`` and ``high``)."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not low <= depth <= high:
        raise InvalidQueryError(
            _(
                "depth must be an integer from {low} to {high}, got {depth}",
                low=low,
                high=high,
                depth=repr(depth),
            ),
            {"depth": depth},
        )
    return depth


def cut_at_hop(items: list[T], limit: int | None, hop: Callable[[T], int]) -> tuple[list[T], bool]:
    """Keep at most ``limit`` of ``items`` (sorted by hop), dropping whole hops from the far end.

    When even the first hop is over the limit, the first ``limit`` items are kept.

    Examples
    --------
    >>> cut_at_hop([1, 1, 2, 2, 3], 4, lambda h: h)
    ([1, 1, 2, 2], True)
    >>> cut_at_hop([1, 1, 2, 2, 3], 3, lambda h: h)
    ([1, 1], True)
    >>> cut_at_hop([1, 1, 1], 2, lambda h: h)
    ([1, 1], True)
    """
    if limit is None or len(items) <= limit:
        return items, False
    first_partial_hop = hop(items[limit])
    kept = [item for item in items[:limit] if hop(item) < first_partial_hop]
    return (kept or items[:limit]), True


def edge_out(edge: Edge) -> EdgeOut:
    return EdgeOut(
        source=str(edge.source),
        target=str(edge.target),
        type=edge.type.value,
        props=dict(sorted(edge.props.items())) or None,
    )


def lineage(
    store: GraphReader,
    root: NodeRef,
    direction: Direction = Direction.BOTH,
    depth: int = 3,
    relations: Iterable[Relation] | None = None,
    kinds: Iterable[NodeKind] | None = None,
    limit: int | None = None,
) -> LineageResult:
    """Nodes upstream and/or downstream of ``root`` within ``depth`` hops.

    ``both`` is the union of the upstream and the downstream answers (never a zig-zag through
    siblings); each node's ``depth`` is its shortest distance in a direction that reaches it.
    ``kinds`` filters what is reported, not what is walked through. With ``limit``, an answer
    over ``limit`` nodes is cut at the farthest hops and marked ``truncated``.

    Examples
    --------
    >>> from tests.helpers import demo_store
    >>> r = lineage(demo_store(), NodeRef.parse("atp"), Direction.UPSTREAM, 1,
    ...             [Relation.INPUT_TO])
    >>> [n.ref for n in r.nodes]
    ['Metric:revenue', 'Metric:visits']
    """
    check_depth(depth)
    rels = frozenset(relations) if relations else LINEAGE_RELATIONS
    up = store.traverse(root, Walk.BACKWARD, rels, depth) if direction != "downstream" else {}
    down = store.traverse(root, Walk.FORWARD, rels, depth) if direction != "upstream" else {}
    reached: dict[NodeRef, tuple[int, str]] = {}
    for ref, d in up.items():
        reached[ref] = (d, "upstream")
    for ref, d in down.items():
        if ref in reached:
            reached[ref] = (min(d, reached[ref][0]), "both")
        else:
            reached[ref] = (d, "downstream")
    if kinds:
        wanted = set(kinds)
        reached = {r: v for r, v in reached.items() if r.kind in wanted}
    ordered = sorted(reached.items(), key=lambda item: (item[1][0], str(item[0])))
    ordered, truncated = cut_at_hop(ordered, limit, lambda item: item[1][0])
    labels = store.labels([root, *(r for r, _ in ordered)])
    if root not in labels:  # checked here, with the other nodes: one query fewer
        raise not_found(store, root)
    out_nodes = []
    for ref, (d, side) in ordered:
        label = labels[ref]
        out_nodes.append(
            LineageNode(
                ref=str(ref),
                kind=ref.kind.value,
                id=ref.id,
                name=label.name,
                depth=d,
                side=side,
                level=label.level,
            )
        )
    members = [root, *(r for r, _ in ordered)]
    edges = [edge_out(e) for e in store.edges_among(members, rels)]
    return LineageResult(
        root=str(root),
        direction=direction,
        depth=depth,
        nodes=out_nodes,
        edges=edges,
        truncated=truncated,
    )
