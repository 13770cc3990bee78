"""/api/stats/metrics and the /stats page: how metrics are used."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.auth import CsrfToken, OptionalUser
from api.dependencies import StoreDep, catalog_name
from governance.stats import UNUSED_DAYS, metric_stats
from viz.pages import render_page

router = APIRouter(tags=["stats"])
Days = Annotated[int, Query(ge=1, le=3660)]


@router.get("/api/stats/metrics")
def stats(store: StoreDep, request: Request, days: Days = UNUSED_DAYS) -> dict[str, Any]:
    """Per-metric use counts (page views, API reads, questions) over the last ``days``, with
    most/least used, most questioned and archive candidates (no use in the window)."""
    request.app.state.usage.flush()
    return metric_stats(store, request.app.state.ledger, days)


@router.get("/stats", response_class=HTMLResponse, include_in_schema=False)
def stats_page(
    store: StoreDep, request: Request, user: OptionalUser, csrf: CsrfToken, days: Days = UNUSED_DAYS
) -> HTMLResponse:
    request.app.state.usage.flush()
    data = metric_stats(store, request.app.state.ledger, days)
    return HTMLResponse(
        render_page("stats.html", catalog_name=catalog_name(store), s=data, user=user, csrf=csrf)
    )
