"""Metric values, evaluation, root-cause explanation and data quality: JSON under /api and the
/explain page. The numbers come from :mod:`values.service`, shared with the CLI."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from analysis.definition_marks import metric_marks, with_definition_changes
from analysis.localize_gate import LocalizeBusyError
from analysis.resolve import resolve_metric
from api.dependencies import SettingsDep, StoreDep
from api.schemas import ErrorResponse
from core.i18n import _
from core.settings import Settings
from graph_schema.calendar import ANY_PERIOD_PATTERN
from graph_schema.errors import InvalidQueryError
from graph_schema.periods import PERIOD_PATTERN, is_period
from store.base import GraphStore

router = APIRouter(tags=["values"])
pages = APIRouter(tags=["pages"], default_response_class=HTMLResponse, include_in_schema=False)

MetricId = Annotated[str, Path(max_length=200, examples=["revenue"])]
Period = Annotated[
    str,
    Query(
        pattern=ANY_PERIOD_PATTERN,
        examples=["2026-06"],
        description="YYYY, YYYY-Qn, YYYY-MM, YYYY-Www, YYYY-MM-DD, FY2026, FY2026-Q1, "
        "R2026, R2026-Qn, R2026-Mmm, R2026-Www",
    ),
]
Month = Annotated[str | None, Query(pattern=ANY_PERIOD_PATTERN)]
GrainQ = Annotated[
    str | None,
    Query(
        pattern=r"^[a-z_]{3,20}$",
        description="year, quarter, month, week, day, fiscal_year, fiscal_quarter, "
        "retail_year, retail_quarter, retail_month, retail_week (default: as stored)",
    ),
]
Dim = Annotated[str | None, Query(max_length=100, pattern=r"^[a-z][a-z0-9_]*$", examples=["store"])]
Base = Annotated[
    str | None,
    Query(
        pattern=rf"^(mom|qoq|wow|dod|yoy|target|{ANY_PERIOD_PATTERN[2:-2]})$",
        description="mom/qoq/wow/dod (the period before), yoy (the same period a year before, "
        "on the same calendar), target, or a period of the same grain; default: the period "
        "before, of the period's grain (mom for a month, qoq for a quarter, wow for a week, "
        "dod for a day, yoy for a year)",
    ),
]
By = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=r"^[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*$",
        description="dimension ids, comma-separated (default: those the metric is sliced by)",
        examples=["store,order_type"],
    ),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


def _engine(request: Request, settings: Settings) -> Any:
    """The values engine, leased for a ``with`` block (a reload does not close it under the
    request), reading definitions through the app's store itself (it outlives the request;
    the request's snapshot handle does not)."""
    from values.service import engine_lease

    return engine_lease(request.app.state.store, settings.values_dir)


def _metric(store: GraphStore, text: str) -> str:
    return resolve_metric(store, text).id


def _by(by: str | None) -> list[str] | None:
    return [d for d in by.split(",") if d] if by else None


@router.get("/api/metrics/{metric_id}/values", responses=ERRORS, summary="Values of a metric")
async def metric_values(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    metric_id: MetricId,
    by: Dim = None,
    start: Annotated[Month, Query(alias="from")] = None,
    end: Annotated[Month, Query(alias="to")] = None,
    grain: GrainQ = None,
    annotations: Annotated[
        bool, Query(description="add the revisions that changed the definition (marks)")
    ] = False,
) -> dict[str, Any]:
    """Monthly values, by one dimension's members if asked: observed (values/), computed by the
    metric's SQL over the catalog's data/, or derived from its formula's inputs at that grain.
    With ``annotations=true``, ``annotations`` lists the definition changes (version, class,
    date, month, fields, link) to mark on a chart of them."""

    for name, value in (("from", start), ("to", end)):
        if value is not None and re.fullmatch(PERIOD_PATTERN, value) and not is_period(value):
            raise InvalidQueryError(  # 2024-02-31 matches the pattern
                _(
                    "{name}: {value} is not a day of the calendar; write YYYY-MM or a real "
                    "YYYY-MM-DD",
                    name=name,
                    value=value,
                ),
                {"field": name},
            )

    def run() -> dict[str, Any]:
        from values.service import check_dimensions, values_report

        mid = _metric(store, metric_id)
        dim = check_dimensions(store, [by])[0] if by else None  # shop → 422, "store?"
        with _engine(request, settings) as engine:
            report = values_report(engine, mid, dim, start, end, grain)
        if annotations:
            marks = metric_marks(store, mid, settings.base_url)
            report["annotations"] = [m.model_dump(mode="json") for m in marks]
        return report

    return await run_in_threadpool(run)


@router.get("/api/metrics/{metric_id}/eval", responses=ERRORS, summary="Evaluate a metric")
async def metric_eval(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    metric_id: MetricId,
    period: Period,
    by: Dim = None,
) -> dict[str, Any]:
    """Value, MoM, YoY, target attainment, benchmark status and, by a dimension, each member's
    rank (评价标准)."""

    def run() -> dict[str, Any]:
        from values.service import check_dimensions, eval_report

        mid = _metric(store, metric_id)
        dim = check_dimensions(store, [by])[0] if by else None  # shop → 422, "store?"
        with _engine(request, settings) as engine:
            return eval_report(engine, mid, period, dim)

    return await run_in_threadpool(run)


@router.get("/api/metrics/{metric_id}/explain", responses=ERRORS, summary="Why did it move?")
async def metric_explain(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    metric_id: MetricId,
    period: Period,
    base: Base = None,
    by: By = None,
    depth: Annotated[int, Query(ge=1, le=6)] = 3,
    localize: bool = False,
) -> dict[str, Any]:
    """The change from ``base`` to ``period`` split along the formula/driver tree (sum, LMDI-I,
    Shapley; children sum to their node), by dimension members (rate/mix for ratios), with
    lagged causes (evidence, not proof) and notes; ``localize=true`` adds ``root_causes``, the
    smallest set of member combinations across the dimensions that explains the change."""

    def run() -> dict[str, Any]:
        from values.service import explain_report

        mid = _metric(store, metric_id)
        with _engine(request, settings) as engine:
            report = explain_report(store, engine, mid, period, base, _by(by), depth, localize)
        return with_definition_changes(report, metric_marks(store, mid, settings.base_url))

    return await run_in_threadpool(run)


@router.get("/api/stats/quality", responses=ERRORS, summary="Data-quality findings")
async def quality(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    metric: Annotated[str | None, Query(max_length=200, examples=["revenue"])] = None,
) -> dict[str, Any]:
    """Identity mismatches (observed vs derived > 0.5 %), missing months, values outside the
    benchmark ranges, and anomalies (robust z-score of seasonal changes)."""

    def run() -> dict[str, Any]:
        from values.service import quality_report

        ids = [_metric(store, metric)] if metric else None
        with _engine(request, settings) as engine:
            return quality_report(engine, ids)

    return await run_in_threadpool(run)


@router.get(
    "/api/values/refresh", summary="The scheduled values-cache refresh (serve --refresh-every)"
)
async def refresh_status() -> dict[str, Any]:
    """The last run of ``kpigraph serve --refresh-every``: when it started and finished (UTC),
    the rows written per metric, the metrics that failed and why, the number of runs and the
    interval (s). ``{"scheduled": false}`` when the server runs no schedule."""
    import datetime as dt

    from values.scheduler import current_status

    found = current_status()
    if not found:
        return {"scheduled": False}
    for key in ("started", "finished"):
        if key in found:
            found[key] = dt.datetime.fromtimestamp(found[key], dt.UTC).isoformat(timespec="seconds")
    return {"scheduled": True, **found}


@pages.get("/explain/{metric_id}")
def explain_page(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    metric_id: MetricId,
    period: Annotated[str | None, Query(pattern=ANY_PERIOD_PATTERN)] = None,
    base: Base = None,
    by: By = None,
    depth: Annotated[int, Query(ge=1, le=6)] = 3,
) -> HTMLResponse:
    from values.service import explain_report
    from viz.explain_page import catalog_names, render_explain

    mid = _metric(store, metric_id)
    with _engine(request, settings) as engine:
        if period is None:
            periods = engine.periods(mid)
            period = periods[-1] if periods else "2000-01"
        if base is None:  # the default: the period before, of its grain (as the API's)
            base = engine.calendar.step_base(period)
        try:
            report = explain_report(store, engine, mid, period, base, _by(by), depth, localize=True)
        except (InvalidQueryError, LocalizeBusyError) as exc:  # refused (too wide, busy)
            report = explain_report(store, engine, mid, period, base, _by(by), depth)
            report["notes"].append(f"localize: {exc.message}")
    report = with_definition_changes(report, metric_marks(store, mid, settings.base_url))
    info = store.info()
    names = catalog_names(store, report)
    return HTMLResponse(
        render_explain(report, catalog_name=info.catalog, by=by or "", depth=depth, **names)
    )


def values_panel(store: GraphStore, metric_id: str) -> Markup | None:
    """The metric page's values panel (latest value, trend, MoM/YoY/target, status, quality
    findings), or ``None`` when the metric has no values or the catalog holds none."""
    from graph_schema.errors import KpigraphError
    from values.service import engine_lease, metric_panel
    from viz.charts import fmt, signed, trend_svg
    from viz.explain_page import member_label, store_dimensions
    from viz.pages import render_page

    try:
        with engine_lease(store, Settings().values_dir) as engine:
            panel = metric_panel(engine, metric_id)
    except KpigraphError:
        return None
    if panel is None:
        return None
    unit = panel["eval"].get("unit")
    return Markup(
        render_page(
            "values_panel.html",
            p=panel,
            e=panel["eval"],
            unit=unit,
            metric_id=metric_id,
            trend=trend_svg(panel["trend"], marks=metric_marks(store, metric_id)),
            fmt=fmt,
            signed=signed,
            member=member_label(store_dimensions(store)),
        )
    )
