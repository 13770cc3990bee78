"""/api/paths: how two nodes connect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from analysis.paths import DEFAULT_PATH_DEPTH, MAX_PATH_DEPTH, MAX_PATHS, find_paths
from analysis.results import PathsResult
from api.dependencies import StoreDep, query_ref
from api.routes.nodes import ERRORS
from graph_schema.relations import parse_relations

router = APIRouter(prefix="/api", tags=["lineage"])


@router.get("/paths", response_model=PathsResult, responses=ERRORS, summary="How two nodes connect")
def paths(
    store: StoreDep,
    source: Annotated[str, Query(alias="from", max_length=300, examples=["visits"])],
    target: Annotated[str, Query(alias="to", max_length=300, examples=["net_profit"])],
    max_depth: Annotated[int, Query(ge=1, le=MAX_PATH_DEPTH)] = DEFAULT_PATH_DEPTH,
    k: Annotated[int, Query(ge=1, le=MAX_PATHS)] = 5,
    relations: Annotated[str | None, Query(max_length=300)] = None,
    any_direction: Annotated[bool, Query()] = False,
) -> PathsResult:
    """Up to ``k`` simple paths, shortest first: directed chains from ``from`` to ``to``
    (``mode: directed``), else from ``to`` to ``from`` (``mode: reversed``); with
    ``any_direction=true`` edges are taken either way. Each edge says whether the path walks
    it ``forward``."""
    return find_paths(
        store,
        query_ref(store, "from", source),
        query_ref(store, "to", target),
        max_depth,
        k,
        parse_relations(relations) if relations else None,
        any_direction=any_direction,
    )
