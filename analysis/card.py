"""A node's card: its properties and its direct neighbours grouped by relation."""

from __future__ import annotations

from collections import defaultdict

from analysis.resolve import require_node
from analysis.results import NeighbourOut, NodeCard, RelationGroup
from graph_schema.ids import NodeRef
from graph_schema.relations import Relation
from store.base import GraphReader, Walk


def node_card(store: GraphReader, ref: NodeRef) -> NodeCard:
    """Everything known about one node, with its neighbours over every relation.

    Examples
    --------
    >>> from tests.helpers import demo_store
    >>> card = node_card(demo_store(), NodeRef.parse("atp"))
    >>> card.node["abbr"], [g.relation for g in card.neighbours][:2]
    ('ATP', ['FEEDS', 'INPUT_TO'])
    """
    node = require_node(store, ref)
    edges = store.edges_of([ref], Walk.UNDIRECTED, list(Relation))
    others = store.get_nodes({e.target if e.source == ref else e.source for e in edges})
    incoming: dict[Relation, list[NeighbourOut]] = defaultdict(list)
    outgoing: dict[Relation, list[NeighbourOut]] = defaultdict(list)
    for e in edges:
        other = e.target if e.source == ref else e.source
        item = NeighbourOut(
            ref=str(other), kind=other.kind.value, name=others[other].name, props=e.props or None
        )
        (outgoing if e.source == ref else incoming)[e.type].append(item)
    groups = [
        RelationGroup(
            relation=rel.value,
            incoming=sorted(incoming.get(rel, []), key=lambda n: n.ref),
            outgoing=sorted(outgoing.get(rel, []), key=lambda n: n.ref),
        )
        for rel in Relation
        if rel in incoming or rel in outgoing
    ]
    props = node.props()
    props["kind"] = node.kind.value
    return NodeCard(ref=str(ref), kind=ref.kind.value, node=props, neighbours=groups)
