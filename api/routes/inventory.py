"""``/inventory`` (page), ``/api/inventory`` (JSON) and ``/api/inventory.xlsx``: the 指标梳理清单
of the loaded catalog (seed 001 第一步), computed by :mod:`analysis.inventory`."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from analysis.inventory import (
    COLUMN_WORDS,
    STATE_WORDS,
    Inventory,
    inventory,
    unified_history,
)
from api.dependencies import StoreDep
from core.i18n import _
from store.base import GraphStore
from viz.pages import render_page
from viz.style import node_url

router = APIRouter(tags=["programme"])

HistoryQ = Annotated[int, Query(ge=0, le=200, description="revisions of 统一度 history")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _inventory(store: GraphStore) -> Inventory:
    return inventory(store.catalog())


@router.get("/api/inventory", summary="The inventory (指标梳理清单), status computed")
def inventory_json(store: StoreDep, history: HistoryQ = 20) -> dict[str, Any]:
    """Every metric in seed 001's columns (指标级别, 指标名称, 所属领域, 优先级, 当前是否有定义),
    P0 first, with why a row is not ✅; 统一度 overall and for P0+P1; its history by revision."""
    data = _inventory(store).to_json()
    data["history"] = [p.to_json() for p in unified_history(store, history)] if history else []
    return data


@router.get("/api/inventory.xlsx", summary="The inventory as .xlsx (the seed's columns)")
def inventory_xlsx(store: StoreDep) -> Response:
    from loaders.excel.inventory import inventory_workbook

    buffer = io.BytesIO()
    inventory_workbook(_inventory(store)).save(buffer)
    headers = {"Content-Disposition": 'attachment; filename="inventory.xlsx"'}
    return Response(buffer.getvalue(), media_type=XLSX, headers=headers)


@router.get("/inventory", response_class=HTMLResponse, include_in_schema=False)
def inventory_page(store: StoreDep, history: HistoryQ = 20) -> HTMLResponse:
    inv = _inventory(store)
    rows = [{**r.to_json(), "url": node_url(f"Metric:{r.id}")} for r in inv.rows]
    points = unified_history(store, history) if history else []
    html = render_page(
        "inventory.html",
        catalog_name=store.info().catalog,
        columns=[_(c) for c in COLUMN_WORDS],
        states={k: _(v) for k, v in STATE_WORDS.items()},
        rows=rows,
        counts=inv.counts,
        unified=inv.unified,
        core_unified=inv.core_unified,
        history=[p.to_json() for p in points],
    )
    return HTMLResponse(html)
