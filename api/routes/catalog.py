"""/api/departments, /api/dimensions, /api/dashboards, /api/systems: lists with counts."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Annotated

from fastapi import APIRouter, Query

from api.dependencies import StoreDep
from api.schemas import (
    DepartmentList,
    DepartmentOut,
    FieldOut,
    ListedNode,
    NodeList,
    SystemList,
    SystemOut,
    TableOut,
)
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, FieldNode
from graph_schema.relations import Relation
from store.base import GraphStore, SearchQuery, Walk

router = APIRouter(prefix="/api", tags=["catalog"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _all(store: GraphStore, kind: NodeKind, limit: int, offset: int) -> tuple[int, list[BaseNode]]:
    page = store.search(SearchQuery(kinds=frozenset({kind}), limit=limit, offset=offset))
    return page.total, page.items


def _counts(
    store: GraphStore, refs: list[NodeRef], walk: Walk, relation: Relation
) -> Counter[NodeRef]:
    counts: Counter[NodeRef] = Counter()
    for edge in store.edges_of(refs, walk, [relation]):
        counts[edge.source if walk is Walk.FORWARD else edge.target] += 1
    return counts


def _listed(
    store: GraphStore, kind: NodeKind, walk: Walk, rel: Relation, limit: int, offset: int
) -> NodeList:
    total, nodes = _all(store, kind, limit, offset)
    counts = _counts(store, [n.ref for n in nodes], walk, rel)
    return NodeList(
        total=total,
        items=[
            ListedNode(
                ref=str(n.ref),
                id=n.id,
                name=n.name,
                metrics=counts[n.ref],
                props=n.props(),
            )
            for n in nodes
        ],
    )


@router.get("/departments", response_model=DepartmentList, summary="Departments")
def departments(store: StoreDep, limit: Limit = 200, offset: Offset = 0) -> DepartmentList:
    """Every department with the number of metrics it owns and reviews."""
    total, nodes = _all(store, NodeKind.DEPARTMENT, limit, offset)
    refs = [n.ref for n in nodes]
    edges = store.edges_of(refs, Walk.FORWARD, [Relation.OWNS, Relation.REVIEWS])
    owns: Counter[NodeRef] = Counter()
    reviews: Counter[NodeRef] = Counter()
    linked: dict[NodeRef, set[NodeRef]] = defaultdict(set)
    for e in edges:
        (owns if e.type is Relation.OWNS else reviews)[e.source] += 1
        linked[e.source].add(e.target)
    return DepartmentList(
        total=total,
        items=[
            DepartmentOut(
                ref=str(n.ref),
                id=n.id,
                name=n.name,
                owns=owns[n.ref],
                reviews=reviews[n.ref],
                metrics=len(linked[n.ref]),
            )
            for n in nodes
        ],
    )


@router.get("/dimensions", response_model=NodeList, summary="Analysis dimensions")
def dimensions(store: StoreDep, limit: Limit = 200, offset: Offset = 0) -> NodeList:
    """Every dimension with the number of metrics sliced by it."""
    return _listed(store, NodeKind.DIMENSION, Walk.BACKWARD, Relation.SLICED_BY, limit, offset)


@router.get("/dashboards", response_model=NodeList, summary="Dashboards")
def dashboards(store: StoreDep, limit: Limit = 200, offset: Offset = 0) -> NodeList:
    """Every dashboard with the number of metrics it shows."""
    return _listed(store, NodeKind.DASHBOARD, Walk.BACKWARD, Relation.SHOWN_ON, limit, offset)


@router.get("/systems", response_model=SystemList, summary="Source systems, tables, fields")
def systems(
    store: StoreDep, limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Offset = 0
) -> SystemList:
    """Source systems with their tables and fields; each field with the number of metrics it
    feeds, each system with the number of distinct metrics its fields feed."""
    total, nodes = _all(store, NodeKind.SYSTEM, limit, offset)
    sys_refs = [n.ref for n in nodes]
    has_table = store.edges_of(sys_refs, Walk.FORWARD, [Relation.HAS_TABLE])
    table_refs = [e.target for e in has_table]
    has_field = store.edges_of(table_refs, Walk.FORWARD, [Relation.HAS_FIELD])
    field_refs = [e.target for e in has_field]
    feeds = store.edges_of(field_refs, Walk.FORWARD, [Relation.FEEDS])
    fed: dict[NodeRef, set[NodeRef]] = defaultdict(set)
    for e in feeds:
        fed[e.source].add(e.target)
    details = store.get_nodes([*table_refs, *field_refs])
    tables_of: dict[NodeRef, list[NodeRef]] = defaultdict(list)
    for e in has_table:
        tables_of[e.source].append(e.target)
    fields_of: dict[NodeRef, list[NodeRef]] = defaultdict(list)
    for e in has_field:
        fields_of[e.source].append(e.target)
    items = []
    for system in nodes:
        tables = []
        metrics: set[NodeRef] = set()
        for t in sorted(tables_of[system.ref], key=str):
            table = details[t]
            fields = []
            for f in sorted(fields_of[t], key=str):
                field = details[f]
                assert isinstance(field, FieldNode)
                metrics |= fed[f]
                fields.append(
                    FieldOut(
                        ref=str(f),
                        id=f.id,
                        name=field.name,
                        type=field.type,
                        description=field.description,
                        metrics=len(fed[f]),
                    )
                )
            tables.append(
                TableOut(
                    ref=str(t),
                    id=t.id,
                    name=table.name,
                    description=getattr(table, "description", None),
                    fields=fields,
                )
            )
        items.append(
            SystemOut(
                ref=str(system.ref),
                id=system.id,
                name=system.name,
                description=getattr(system, "description", None),
                tables=tables,
                metrics=len(metrics),
            )
        )
    return SystemList(total=total, limit=limit, offset=offset, items=items)
