"""What the map draws: lineage nodes after kind filters and collapsing, edges merged to match.

Fields collapse into their table ("dms_orders (5 fields)") unless the table is expanded; when
more than :data:`MAX_TABLES` tables remain, tables collapse into their system. The focus never
collapses. An edge whose ends collapse into one node disappears (containment); edges that
collapse onto the same pair of nodes and relation become one edge listing what it stands for.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.results import LineageResult
from graph_schema.ids import NodeKind
from graph_schema.models import BaseNode, FieldNode, Table
from graph_schema.relations import RELATION_BY_VALUE, Relation

#: Above this many tables in view, tables collapse into their systems.
MAX_TABLES = 12
#: Expand every group.
EXPAND_ALL = "*"


@dataclass
class MapNode:
    ref: str
    kind: NodeKind
    name: str
    node: BaseNode | None  # None for a group whose own node is not in the lineage
    fields: list[str] = field(default_factory=list)  # names of the fields it stands for
    tables: list[str] = field(default_factory=list)  # names of the tables it stands for

    @property
    def is_group(self) -> bool:
        return bool(self.fields or self.tables)


@dataclass
class MapEdge:
    source: str
    target: str
    relation: Relation
    props: dict[str, Any]
    stands_for: list[str] = field(default_factory=list)  # "field name → metric" lines


@dataclass
class MapGraph:
    focus: str
    nodes: dict[str, MapNode]
    edges: list[MapEdge]
    side: dict[str, tuple[str, int]]  # ref -> (side, depth), the focus excluded


def table_of(field_id: str, node: BaseNode) -> str:
    """The table ref of a field.

    Examples
    --------
    >>> table_of("dms.dms_orders.total_amount", FieldNode(id="dms.dms_orders.total_amount",
    ...          name="工单总金额", table="dms.dms_orders"))
    'Table:dms.dms_orders'
    """
    table = node.table if isinstance(node, FieldNode) else field_id.rsplit(".", 1)[0]
    return f"{NodeKind.TABLE.value}:{table}"


def system_of(table_ref: str, node: BaseNode | None) -> str:
    """The system ref of a table (its ``system``, else the first part of its id).

    Examples
    --------
    >>> system_of("Table:dms.dms_orders", None)
    'System:dms'
    """
    system = node.system if isinstance(node, Table) else table_ref.partition(":")[2].split(".")[0]
    return f"{NodeKind.SYSTEM.value}:{system}"


def short_id(ref: str) -> str:
    """The last part of a ref's id: ``Table:dms.dms_orders`` → ``dms_orders``.

    >>> short_id("Table:dms.dms_orders")
    'dms_orders'
    """
    return ref.partition(":")[2].rsplit(".", 1)[-1]


def build_map(
    lineage: LineageResult,
    nodes: Mapping[str, BaseNode],
    kinds: Collection[NodeKind] | None = None,
    expand: Collection[str] = (),
    collapse: bool = True,
) -> MapGraph:
    """Nodes and edges to draw: ``kinds`` kept (the focus always), groups collapsed unless in
    ``expand`` (refs of tables or systems, or ``*``), ``collapse`` is off or the group's own
    kind is filtered out (no tables: fields are shown one by one)."""
    focus = lineage.root
    side = {n.ref: (n.side, n.depth) for n in lineage.nodes}
    members = [focus] + [n.ref for n in lineage.nodes]
    if kinds is not None:
        members = [r for r in members if r == focus or nodes[r].kind in kinds]
    collapse = collapse and EXPAND_ALL not in expand
    rep: dict[str, str] = {r: r for r in members}
    out: dict[str, MapNode] = {}
    if collapse and (kinds is None or NodeKind.TABLE in kinds):
        for r in members:
            node = nodes[r]
            if node.kind is NodeKind.FIELD and r != focus:
                group = table_of(node.id, node)
                if group not in expand:
                    rep[r] = group
        tables = {rep[r] for r in members if rep[r].startswith(NodeKind.TABLE.value + ":")}
        if len(tables) > MAX_TABLES and (kinds is None or NodeKind.SYSTEM in kinds):
            for t in tables:
                system = system_of(t, nodes.get(t))
                if t != focus and system not in expand:
                    for r in members:
                        if rep[r] == t:
                            rep[r] = system
    for r in members:
        g = rep[r]
        if g not in out:
            own = nodes.get(g)
            kind = NodeKind(g.partition(":")[0])
            out[g] = MapNode(g, kind, own.name if own else short_id(g), own)
        if g != r:
            node = nodes[r]
            into = out[g]
            if node.kind is NodeKind.FIELD:
                into.fields.append(node.name)
                table = table_of(node.id, node)
                if into.kind is NodeKind.SYSTEM:
                    name = nodes[table].name if table in nodes else short_id(table)
                    if name not in into.tables:
                        into.tables.append(name)
            elif node.name not in into.tables:
                into.tables.append(node.name)
    merged: dict[tuple[str, str, str], MapEdge] = {}
    for e in lineage.edges:
        if e.source not in rep or e.target not in rep:
            continue
        s, t = rep[e.source], rep[e.target]
        if s == t:
            continue
        key = (s, t, e.type)
        edge = merged.get(key)
        if edge is None:
            edge = merged[key] = MapEdge(s, t, RELATION_BY_VALUE[e.type], dict(e.props or {}))
        if (s, t) != (e.source, e.target):
            edge.stands_for.append(f"{_name(e.source, nodes)} → {_name(e.target, nodes)}")
    for r in list(side):
        if r not in out:
            del side[r]
    return MapGraph(focus=focus, nodes=out, edges=list(merged.values()), side=side)


def _name(ref: str, nodes: Mapping[str, BaseNode]) -> str:
    node = nodes.get(ref)
    return node.name if node else short_id(ref)
