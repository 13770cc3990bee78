"""``/lint`` (page) and ``/api/lint`` (JSON): the lint report of the loaded catalog.

Lint reads the catalog directory the store was loaded from (``meta.source``), so every issue
points at its file and line; when that directory is not there (another machine) or no longer
loads, the loaded graph itself is linted and the page says so (no file:line then).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from analysis.lint import LintReport, lint_catalog, lint_graph
from api.dependencies import StoreDep
from api.errors import error_json
from api.schemas import ErrorResponse
from core import i18n
from graph_schema.errors import CatalogError, KpigraphError
from graph_schema.rules import DEFAULT_RULES
from store.base import GraphStore
from viz.pages import render_page
from viz.style import node_url

router = APIRouter(tags=["lint"])

SeverityQ = Annotated[
    Literal["error", "warning", "info"] | None,
    Query(description="show only this severity"),
]
RuleQ = Annotated[str | None, Query(max_length=60, description="show only this rule id")]


class LintUnavailableError(KpigraphError):
    """Nothing to lint: no catalog directory and no loaded graph."""

    code = "lint_unavailable"


@dataclass(frozen=True)
class _Linted:
    report: LintReport
    source: str | None  #: the directory linted; ``None``: the loaded graph was
    note: str | None = None  #: why the directory was not used


def _report(store: GraphStore) -> _Linted:
    """Lint the directory the store was loaded from (issues with file:line); when it is gone
    or no longer loads, lint the loaded graph itself (no file:line)."""
    source = store.info().meta.get("source")
    note: str | None = None
    if source and Path(source).is_dir():
        key: Any = (_fingerprint(Path(source)), i18n.current())  # messages are in a language
        if key in _CACHE:
            return _Linted(_CACHE[key], source)
        try:
            report = lint_catalog(source)
        except CatalogError as exc:
            note = i18n._(
                "the catalog directory {source} no longer loads: {why}",
                source=source,
                why=exc.message,
            )
        else:
            _remember(key, report)
            return _Linted(report, source)
    else:
        note = i18n._("the catalog directory this store was loaded from is not available here") + (
            f" ({source})" if source else ""
        )
    key = ("store", store.generation, i18n.current())
    if key not in _CACHE:
        try:
            graph = store.catalog()
        except KpigraphError as exc:
            raise LintUnavailableError(f"{note}; and {exc.message}", {"source": source}) from exc
        _remember(key, lint_graph(graph))
    return _Linted(_CACHE[key], None, note)


def _remember(key: Any, report: LintReport) -> None:
    if len(_CACHE) >= 8:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = report


#: lint reports by catalog fingerprint: linting parses every metric's SQL (~30 ms each)
_CACHE: dict[Any, LintReport] = {}


def _fingerprint(root: Path) -> tuple[str, tuple[tuple[str, int, int], ...]]:
    """The directory and each catalog file's name, mtime and size: any edit changes it."""
    files = []
    for path in sorted(root.rglob("*")):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            stat = path.stat()
            files.append((str(path.relative_to(root)), stat.st_mtime_ns, stat.st_size))
    return str(root.resolve()), tuple(files)


class LintIssueOut(BaseModel):
    rule: str
    severity: Literal["error", "warning", "info"]
    message: str
    file: str | None
    line: int | None
    refs: list[str]
    fix: str | None


class LintReportOut(BaseModel):
    counts: dict[str, int]
    issues: list[LintIssueOut]
    #: the directory linted; null when the loaded graph was linted (``note`` says why)
    source: str | None
    note: str | None


@router.get(
    "/api/lint",
    summary="Lint report of the loaded catalog",
    response_model=LintReportOut,
    responses={409: {"model": ErrorResponse, "description": "the catalog directory is gone"}},
)
def lint_json(store: StoreDep, severity: SeverityQ = None, rule: RuleQ = None) -> Any:
    """Every lint issue (rule, severity, file, line, refs, fix) and the counts by severity."""
    try:
        linted = _report(store)
    except LintUnavailableError as exc:
        return error_json(409, exc.code, exc.message, exc.details)
    data = linted.report.to_json()
    data["source"], data["note"] = linted.source, linted.note
    data["issues"] = [
        i
        for i in data["issues"]
        if (severity is None or i["severity"] == severity) and (rule is None or i["rule"] == rule)
    ]
    return data


@router.get("/lint", response_class=HTMLResponse, include_in_schema=False)
def lint_page(store: StoreDep, severity: SeverityQ = None, rule: RuleQ = None) -> HTMLResponse:
    info = store.info()
    try:
        linted = _report(store)
        problem = None
    except LintUnavailableError as exc:
        linted, problem = _Linted(LintReport(()), None), exc.message
    report = linted.report
    issues = [
        {
            **i.to_json(),
            "links": [{"ref": r, "url": node_url(r)} for r in i.refs],
        }
        for i in report.issues
        if (severity is None or i.severity.value == severity) and (rule is None or i.rule == rule)
    ]
    found = {i.rule for i in report.issues}
    rules = [
        {"id": r.id, "severity": r.severity.value, "summary": r.summary, "found": r.id in found}
        for r in DEFAULT_RULES
    ]
    html = render_page(
        "lint.html",
        catalog_name=info.catalog,
        source=linted.source,
        note=linted.note,
        problem=problem,
        counts=report.counts(),
        issues=issues,
        rules=rules,
        severity=severity,
        rule=rule,
    )
    return HTMLResponse(html)
