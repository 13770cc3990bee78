"""/api/diff (the loaded catalog against a revision, or two revisions) and /api/compare (two
metrics side by side)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from analysis.compare import Comparison, compare_refs
from analysis.diff import DiffReport, diff_catalogs
from api.dependencies import StoreDep, query_ref
from api.schemas import ErrorResponse
from core.i18n import _
from graph_schema.errors import SourceSpecError
from graph_schema.graph import CatalogGraph
from store.base import GraphStore

router = APIRouter(prefix="/api", tags=["revisions"])

ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "no such revision or metric"},
    409: {"model": ErrorResponse, "description": "ambiguous metric name; candidates in details"},
    422: {"model": ErrorResponse, "description": "malformed side or parameter"},
    503: {"model": ErrorResponse, "description": "backend unavailable; see Retry-After"},
}
SIDE = Query(
    max_length=20,
    description="'store' (what is loaded) or a revision number",
    examples=["store", "3"],
)


def read_side(store: GraphStore, side: str) -> CatalogGraph:
    """``store`` or a revision number (``3`` or ``rev:3``)."""
    text = side.strip().removeprefix("rev:")
    if text == "store":
        return store.catalog()
    if not text.isdigit() or not 1 <= int(text) <= 2**62:
        raise SourceSpecError(
            _("{side}: a side is 'store' or a revision number (e.g. 3)", side=repr(side)),
            {"side": side},
        )
    return store.catalog(at=int(text))


@router.get("/diff", response_model=DiffReport, responses=ERRORS, summary="Diff two states")
def diff(
    store: StoreDep,
    old: Annotated[str, SIDE],
    new: Annotated[str, SIDE] = "store",
) -> Response:
    """Added / removed / modified nodes and edges with old → new values, the change class and
    required version per metric, and the impact: recomputed and influenced metrics and
    dashboards, departments to notify, approvals required."""
    report = diff_catalogs(read_side(store, old), read_side(store, new), old, new)
    return Response(report.model_dump_json(), media_type="application/json")


@router.get(
    "/compare", response_model=Comparison, responses=ERRORS, summary="Two metrics side by side"
)
def compare(
    store: StoreDep,
    a: Annotated[str, Query(max_length=300, description="a metric: id, Kind:id or name")],
    b: Annotated[str, Query(max_length=300, description="another metric")],
) -> Comparison:
    """Every field of the definition template either metric fills, whether they agree, the
    items only one side has, and how far apart they are as a change class."""
    return compare_refs(store, query_ref(store, "a", a), query_ref(store, "b", b))
