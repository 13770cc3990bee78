"""/api/metrics: search and metric cards."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from analysis.card import node_card
from analysis.resolve import resolve_metric
from api.auth import OptionalUser
from api.dependencies import StoreDep
from api.schemas import ErrorResponse, MetricCardOut, MetricPage, MetricSummary
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Horizon, Metric, Priority, Role
from graph_schema.relations import Relation
from store.base import SearchQuery

router = APIRouter(prefix="/api/metrics", tags=["metrics"])

MAX_PAGE = 100


def summary(node: BaseNode) -> MetricSummary:
    assert isinstance(node, Metric)
    return MetricSummary(
        ref=str(node.ref),
        id=node.id,
        name=node.name,
        name_en=node.name_en,
        abbr=node.abbr,
        level=node.level.value if node.level else None,
        domain=node.domain,
        owner=node.owner,
        reviewer=node.reviewer,
        status=node.status.value,
        definition=node.definition,
        priority=node.priority.value if node.priority else None,
        role=node.role.value if node.role else None,
        horizon=node.horizon.value if node.horizon else None,
    )


@router.get("", response_model=MetricPage, summary="Search metrics")
def search_metrics(
    store: StoreDep,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="text in names (中文 or English), abbreviations, ids or definitions",
            examples=["客单价"],
        ),
    ] = None,
    domain: Annotated[str | None, Query(max_length=100, examples=["门店运营"])] = None,
    level: Literal["L0", "L1", "L2", "L3"] | None = None,
    department: Annotated[
        str | None, Query(max_length=100, description="owner or reviewer department id")
    ] = None,
    status: Literal["draft", "active", "deprecated"] | None = None,
    priority: Annotated[Priority | None, Query(description="优先级 P0/P1/P2")] = None,
    role: Annotated[
        Role | None, Query(description="north_star 北极星 / key 关键 / process 过程")
    ] = None,
    horizon: Annotated[
        Horizon | None, Query(description="leading 先行 / process 过程 / lagging 结果")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MetricPage:
    """Exact id / name / abbreviation matches rank first, then prefixes, substrings, and
    matches in definitions; ties by level (L0 first) then id. Filters combine."""
    page = store.search(
        SearchQuery(
            text=q,
            kinds=frozenset({NodeKind.METRIC}),
            domain=domain,
            level=level,
            status=status,
            department=department,
            priority=priority.value if priority else None,
            role=role.value if role else None,
            horizon=horizon.value if horizon else None,
            limit=limit,
            offset=offset,
        )
    )
    return MetricPage(
        total=page.total, limit=limit, offset=offset, items=[summary(n) for n in page.items]
    )


@router.get(
    "/{metric_id}",
    response_model=MetricCardOut,
    responses={404: {"model": ErrorResponse}},
    summary="A metric's full definition card",
)
def metric_card(
    store: StoreDep,
    metric_id: Annotated[str, Path(max_length=200, examples=["atp"])],
    reader: OptionalUser = None,  # resolved: the use count knows the reader's department (#28)
) -> MetricCardOut:
    """Every template field, plus direct neighbours grouped by relation."""
    ref = resolve_metric(store, metric_id)
    card = node_card(store, ref)
    metric_links = {Relation.INPUT_TO.value, Relation.DRIVES.value, Relation.CAUSES.value}
    upstream: set[str] = set()
    downstream: set[str] = set()
    for group in card.neighbours:
        if group.relation in metric_links:
            upstream.update(n.ref for n in group.incoming)
            downstream.update(n.ref for n in group.outgoing)
    parallel = [str(NodeRef(NodeKind.METRIC, p)) for p in card.node.get("parallel", [])]
    return MetricCardOut(
        ref=card.ref,
        metric=card.node,
        upstream=sorted(upstream),
        downstream=sorted(downstream),
        parallel=parallel,
        neighbours=card.neighbours,
    )
