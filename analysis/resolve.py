"""Turning user-typed references into existing nodes, with suggestions when they miss."""

from __future__ import annotations

import difflib

from graph_schema.errors import NodeNotFoundError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode
from store.base import GraphStore, SearchQuery

ALL_KINDS = frozenset(NodeKind)


def require_node(store: GraphStore, ref: NodeRef) -> BaseNode:
    """The node at ``ref``, or :class:`NodeNotFoundError` listing close matches.

    Examples
    --------
    >>> from tests.helpers import demo_store
    >>> require_node(demo_store(), NodeRef.parse("atp")).name
    '客单价'
    >>> try:
    ...     require_node(demo_store(), NodeRef.parse("revenu"))
    ... except NodeNotFoundError as exc:
    ...     exc.suggestions[0]
    'Metric:revenue'
    """
    found = store.get_nodes([ref]).get(ref)
    if found is not None:
        return found
    raise not_found(store, ref)


def not_found(store: GraphStore, ref: NodeRef) -> NodeNotFoundError:
    """The error for a missing ``ref``, with close matches; raises ``EmptyStoreError`` instead
    when nothing is loaded at all (say that, not "no node")."""
    store.info()
    return NodeNotFoundError(str(ref), suggest(store, ref.id, ref.kind))


def suggest(store: GraphStore, text: str, kind: NodeKind | None = None, n: int = 3) -> list[str]:
    """Up to ``n`` refs close to ``text``, the most similar ids first (same kind preferred).

    Candidates come from the store's search (the text and a shortened prefix of it, so that a
    typo near the end still finds them), then are ordered by string similarity of the id.
    """
    probes = [text]
    if len(text) > 3:
        probes.append(text[: max(3, len(text) * 2 // 3)])
    candidates: dict[str, BaseNode] = {}
    for probe in probes:
        for node in store.search(SearchQuery(text=probe, kinds=ALL_KINDS, limit=25)).items:
            candidates.setdefault(str(node.ref), node)
    low = text.lower()

    def score(item: tuple[str, BaseNode]) -> tuple[int, float, str]:
        ref, node = item
        same_kind = 0 if kind is None or node.kind is kind else 1
        similarity = max(
            difflib.SequenceMatcher(None, low, node.id.lower()).ratio(),
            difflib.SequenceMatcher(None, low, node.name.lower()).ratio(),
        )
        return (same_kind, -similarity, ref)

    return [ref for ref, _ in sorted(candidates.items(), key=score)[:n]]
