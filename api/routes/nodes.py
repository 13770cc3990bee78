"""/api/nodes/{ref}: lineage and impact of any node, and its hover summary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from analysis.impact import impact
from analysis.lineage import lineage
from analysis.resolve import require_node
from analysis.results import Direction, ImpactReport, LineageResult
from api.dependencies import RefDep, StoreDep
from api.schemas import ErrorResponse
from api.views import formula_inputs
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from graph_schema.relations import parse_kinds, parse_relations
from store.base import SearchQuery
from viz.graph_view import tooltip

router = APIRouter(prefix="/api/nodes", tags=["lineage"])

MAX_NODES = 5000
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "unknown ref; close matches in details"},
    422: {"model": ErrorResponse, "description": "malformed ref or parameter"},
    503: {"model": ErrorResponse, "description": "backend unavailable; see Retry-After"},
}


@router.get(
    "/{ref}/lineage",
    response_model=LineageResult,
    responses=ERRORS,
    summary="Upstream / downstream lineage",
)
def node_lineage(
    store: StoreDep,
    ref: RefDep,
    direction: Direction = Direction.BOTH,
    depth: Annotated[int, Query(ge=1, le=10)] = 3,
    relations: Annotated[
        str | None,
        Query(
            max_length=300,
            description="comma-separated relation types",
            examples=["INPUT_TO,DRIVES"],
        ),
    ] = None,
    kinds: Annotated[
        str | None,
        Query(
            max_length=200, description="comma-separated node kinds to report", examples=["Metric"]
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_NODES)] = 500,
) -> Response:
    """Nodes within ``depth`` hops; an answer over ``limit`` nodes is cut at the farthest hop
    and marked ``truncated``."""
    return model_response(
        lineage(store, ref, direction, depth, parse_relations(relations), parse_kinds(kinds), limit)
    )


@router.get(
    "/{ref}/impact",
    response_model=ImpactReport,
    responses=ERRORS,
    summary="What changing a metric, field, table or system affects",
)
def node_impact(
    store: StoreDep,
    ref: RefDep,
    relations: Annotated[
        str | None,
        Query(
            max_length=300,
            description="comma-separated relation types to follow (default: all lineage)",
            examples=["FEEDS,INPUT_TO"],
        ),
    ] = None,
) -> Response:
    """Affected metrics and dashboards, each ``via`` definition (recomputed: FEEDS, HAS_FIELD,
    HAS_TABLE, INPUT_TO, SHOWN_ON) or influence (read differently: DRIVES, CAUSES, ROLLS_UP_TO)
    with a shortest ``path`` from the root; departments to notify; ``touches_l0`` when an L0
    metric is recomputed, ``influences_l0`` when one is only influenced. A table's impact
    includes its fields'; a system's includes its tables'."""
    return model_response(impact(store, ref, parse_relations(relations)))


class NodeHit(BaseModel):
    """One node a picker offers: its id (what a definition writes), kind and name."""

    model_config = ConfigDict(frozen=True)
    ref: str = Field(examples=["Department:finance"])
    kind: str = Field(examples=["Department"])
    id: str = Field(examples=["finance"])
    name: str = Field(examples=["财务部"])


class NodeHits(BaseModel):
    total: int
    items: list[NodeHit]


@router.get(
    "", response_model=NodeHits, summary="Search nodes of any kind (the change form's pickers)"
)
def search_nodes(
    store: StoreDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="text in names, ids or abbreviations", examples=["财务"]),
    ] = None,
    kinds: Annotated[
        str,
        Query(
            max_length=200,
            description="comma-separated node kinds",
            examples=["Department", "Field,Table"],
        ),
    ] = "Metric",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> NodeHits:
    """Ranked as the metric search is (exact id / name first, then prefixes, substrings)."""
    page = store.search(
        SearchQuery(text=q or None, kinds=parse_kinds(kinds) or frozenset(NodeKind), limit=limit)
    )
    return NodeHits(
        total=page.total,
        items=[
            NodeHit(ref=str(n.ref), kind=n.kind.value, id=n.id, name=n.name) for n in page.items
        ],
    )


class NodeSummary(BaseModel):
    """What the map shows when the pointer rests on a node (plain text, never HTML)."""

    model_config = ConfigDict(frozen=True)
    ref: str = Field(examples=["Metric:atp"])
    kind: str = Field(examples=["Metric"])
    name: str = Field(examples=["客单价"])
    text: str = Field(
        examples=["客单价  (Metric:atp)\n级别 level: L1\n公式 formula: revenue / orders"]
    )


@router.get(
    "/{ref}/summary",
    response_model=NodeSummary,
    responses=ERRORS,
    summary="A node's hover card: name, ref, level, owner, formula, definition",
)
def node_summary(store: StoreDep, ref: RefDep) -> NodeSummary:
    """The few lines the graph view shows on hover, fetched when needed so that a map of
    thousands of nodes does not carry them all."""
    node = require_node(store, ref)
    names: dict[str, str] = {}
    if isinstance(node, Metric) and node.owner:
        dept = store.get_nodes([NodeRef(NodeKind.DEPARTMENT, node.owner)])
        names = {r.id: n.name for r, n in dept.items()}
    inputs = {r.id: label.name for r, label in store.labels(formula_inputs([node])).items()}
    text = tooltip(node, names, inputs)
    return NodeSummary(ref=str(ref), kind=ref.kind.value, name=node.name, text=text)


def model_response(result: LineageResult | ImpactReport) -> Response:
    """The answer serialised once, by pydantic's Rust core. Returned as is, FastAPI would dump
    the model, validate the dump against ``response_model`` and encode it again: for an answer
    of thousands of nodes that is most of the request (the model is already validated)."""
    return Response(result.model_dump_json(), media_type="application/json")
