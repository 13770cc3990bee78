"""``/reports/monthly`` and ``/reports/quarterly`` (pages) and ``/api/reports/...`` (JSON): the
monthly usage report per department and the quarterly digest (seed 001 第五步)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.dependencies import StoreDep
from governance import reports as svc
from viz.pages import render_page

router = APIRouter(tags=["programme"])

MonthQ = Annotated[str | None, Query(max_length=7, description="YYYY-MM (default: last month)")]
QuarterQ = Annotated[str | None, Query(max_length=7, description="YYYY-Qn (default: last quarter)")]


@router.get("/api/reports/monthly", summary="Monthly usage per department (每月通报)")
def monthly_json(request: Request, store: StoreDep, month: MonthQ = None) -> dict[str, Any]:
    report = svc.monthly_report(
        store.catalog(), request.app.state.ledger, month or svc.last_month()
    )
    return report.to_json()


@router.get("/api/reports/quarterly", summary="Metrics added or changed this quarter")
def quarterly_json(store: StoreDep, quarter: QuarterQ = None) -> dict[str, Any]:
    return svc.quarterly_digest(store, quarter or svc.last_quarter()).to_json()


@router.get("/reports/monthly", response_class=HTMLResponse, include_in_schema=False)
def monthly_page(request: Request, store: StoreDep, month: MonthQ = None) -> HTMLResponse:
    report = svc.monthly_report(
        store.catalog(), request.app.state.ledger, month or svc.last_month()
    )
    html = render_page(
        "report_monthly.html", catalog_name=store.info().catalog, report=report.to_json()
    )
    return HTMLResponse(html)


@router.get("/reports/quarterly", response_class=HTMLResponse, include_in_schema=False)
def quarterly_page(store: StoreDep, quarter: QuarterQ = None) -> HTMLResponse:
    digest = svc.quarterly_digest(store, quarter or svc.last_quarter())
    html = render_page(
        "report_quarterly.html", catalog_name=store.info().catalog, digest=digest.to_json()
    )
    return HTMLResponse(html)
