"""Reports of the programme (seed 001 第五步): the monthly usage report per department ("每月
通报: 统计各部门的指标字典使用频率 — 表扬使用频率高的部门, 提醒使用频率低的部门") and the quarterly
digest of metrics added or changed, per department ("在岗员工培训（每季度）: 本季度新增或修改的
指标").

A metric belongs to the departments that own or review it (as it is now, or as it was when it
was removed). A period is ``YYYY-MM`` (a month) or ``YYYY-Qn`` (a quarter); days are UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from core.i18n import N_, _, in_language_of
from governance.bulletins import department_items
from governance.department_usage import ANONYMOUS, usage_by_department
from graph_schema.errors import InvalidQueryError
from graph_schema.governance import OutboxItem
from graph_schema.graph import CatalogGraph
from graph_schema.models import Department, Metric
from store.base import GraphStore
from store.ledger import Ledger

#: message ids; reports are sent in the catalog's language (:func:`core.i18n.in_language_of`)
TEXT = {
    "monthly_title": N_("Metric dictionary use {month} · {name}"),
    "monthly_line": N_("{reads} reads this month, {metrics} metrics; rank {rank} of {of}"),
    "monthly_top": N_("Read most: {top}"),
    "monthly_low": N_("Little use this month: please remind colleagues to use the dictionary"),
    "quarterly_title": N_("Metrics added or changed this quarter {quarter} · {name}"),
    "quarterly_line": N_("{name} ({id}) {op}{version}"),
    "quarterly_none": N_("No metric was added or changed this quarter."),
    "bad_month": N_("month: YYYY-MM (e.g. 2026-11)"),
    "bad_quarter": N_("quarter: YYYY-Qn (e.g. 2026-Q4)"),
    "added": N_("added"),
    "modified": N_("modified"),
    "removed": N_("removed"),
}


def said(key: str, **values: object) -> str:
    """``TEXT[key]`` in the language in use, fields filled."""
    return _(TEXT[key], **values)


#: a department reading less than this share of the busiest one is reminded (提醒)
LOW_SHARE = 0.2


def month_bounds(month: str) -> tuple[str, str]:
    """``2026-11`` → (``2026-11-01``, ``2026-12-01``).

    >>> month_bounds("2026-12")
    ('2026-12-01', '2027-01-01')
    """
    m = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InvalidQueryError(said("bad_month"))
    y, mo = int(m.group(1)), int(m.group(2))
    end = dt.date(y + (mo == 12), mo % 12 + 1, 1)
    return dt.date(y, mo, 1).isoformat(), end.isoformat()


def quarter_bounds(quarter: str) -> tuple[str, str]:
    """``2026-Q4`` → (``2026-10-01``, ``2027-01-01``).

    >>> quarter_bounds("2026-Q1")
    ('2026-01-01', '2026-04-01')
    """
    m = re.fullmatch(r"(\d{4})-?Q([1-4])", quarter.upper())
    if not m:
        raise InvalidQueryError(said("bad_quarter"))
    y, q = int(m.group(1)), int(m.group(2))
    end = dt.date(y + (q == 4), (q % 4) * 3 + 1, 1)
    return dt.date(y, (q - 1) * 3 + 1, 1).isoformat(), end.isoformat()


def last_month(today: dt.date | None = None) -> str:
    today = today or dt.datetime.now(dt.UTC).date()
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


def last_quarter(today: dt.date | None = None) -> str:
    today = today or dt.datetime.now(dt.UTC).date()
    q = (today.month - 1) // 3  # the current quarter, 0-based
    return f"{today.year - 1}-Q4" if q == 0 else f"{today.year}-Q{q}"


def _names(graph: CatalogGraph) -> dict[str, str]:
    return {n.id: n.name for n in graph.nodes if isinstance(n, Department)}


# -- monthly ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthlyRow:
    department: str
    name: str
    reads: int
    metrics: int
    top: list[dict[str, Any]]
    low: bool

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class MonthlyReport:
    month: str
    rows: list[MonthlyRow]
    anonymous: int

    def to_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "departments": [r.to_json() for r in self.rows],
            "anonymous": self.anonymous,
        }


def monthly_report(graph: CatalogGraph, ledger: Ledger, month: str) -> MonthlyReport:
    """Reads per department in ``month`` (every department of the catalog, 0 when none),
    most first; anonymous reads apart."""
    start, end = month_bounds(month)
    names = _names(graph)
    metric_names = {n.id: n.name for n in graph.nodes if isinstance(n, Metric)}
    found = {u.department: u for u in usage_by_department(ledger, start, end)}
    anonymous = found.pop(ANONYMOUS).reads
    busiest = max((u.reads for u in found.values()), default=0)
    rows = []
    for dept in sorted({*names, *(d for d in found if d != "-")}):
        u = found.get(dept)
        reads = u.reads if u else 0
        top = (
            [{"metric": m, "name": metric_names.get(m, m), "reads": n} for m, n in u.top]
            if u
            else []
        )
        rows.append(
            MonthlyRow(
                department=dept,
                name=names.get(dept, dept),
                reads=reads,
                metrics=u.metrics if u else 0,
                top=top,
                low=busiest > 0 and reads < busiest * LOW_SHARE,
            )
        )
    rows.sort(key=lambda r: (-r.reads, r.department))
    return MonthlyReport(month, rows, anonymous)


def monthly_items(graph: CatalogGraph, report: MonthlyReport) -> list[OutboxItem]:
    """One notice per department, in the catalog's language."""
    with in_language_of(graph.meta):
        return _monthly_items(graph, report)


def _monthly_items(graph: CatalogGraph, report: MonthlyReport) -> list[OutboxItem]:
    notices = {}
    for rank, row in enumerate(report.rows, 1):
        title = said("monthly_title", month=report.month, name=row.name)
        lines = [
            said(
                "monthly_line", reads=row.reads, metrics=row.metrics, rank=rank, of=len(report.rows)
            )
        ]
        if row.top:
            top = _(", ").join(f"{t['name']} {t['reads']}" for t in row.top)
            lines.append(said("monthly_top", top=top))
        if row.low:
            lines.append(said("monthly_low"))
        body = {"event": "report.monthly", "title": title, "month": report.month, **row.to_json()}
        notices[row.department] = (title, lines, body)
    return department_items(graph, f"report:monthly:{report.month}", "report.monthly", notices)


# -- quarterly ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestEntry:
    id: str
    name: str
    op: str
    revisions: list[int]
    fields: list[str]
    version: str | None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class QuarterlyDigest:
    quarter: str
    by_department: dict[str, list[DigestEntry]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "quarter": self.quarter,
            "departments": [
                {
                    "department": d,
                    "name": self.names.get(d, d),
                    "metrics": [e.to_json() for e in entries],
                }
                for d, entries in sorted(self.by_department.items())
            ],
        }


def quarterly_digest(store: GraphStore, quarter: str, limit: int = 500) -> QuarterlyDigest:
    """The metrics added, changed or removed by the revisions of ``quarter``, per department
    that owns or reviews them."""
    start, end = quarter_bounds(quarter)
    graph = store.catalog()
    names = _names(graph)
    entries: dict[str, dict[str, Any]] = {}
    for summary in reversed(store.revisions(limit=limit)):
        if not start <= summary.created_at[:10] < end:
            continue
        for change in store.revision(summary.number).node_changes:
            if not change.ref.startswith("Metric:"):
                continue
            props = change.new or change.old or {}
            entry = entries.setdefault(
                change.ref,
                {
                    "id": change.ref.split(":", 1)[1],
                    "name": props.get("name", change.ref),
                    "ops": [],
                    "revisions": [],
                    "fields": [],
                    "version": None,
                    "depts": set(),
                },
            )
            entry["ops"].append(change.op.value)
            entry["revisions"].append(summary.number)
            entry["fields"] += [f.field for f in change.fields if f.field not in entry["fields"]]
            entry["version"] = change.new_version or props.get("version") or entry["version"]
            entry["name"] = props.get("name", entry["name"])
            entry["depts"].update(d for d in (props.get("owner"), props.get("reviewer")) if d)
    by_department: dict[str, list[DigestEntry]] = {}
    for e in entries.values():
        ops = e["ops"]
        op = "added" if ops[0] == "added" else ("removed" if ops[-1] == "removed" else "modified")
        item = DigestEntry(e["id"], e["name"], op, e["revisions"], e["fields"], e["version"])
        for dept in sorted(e["depts"]):
            by_department.setdefault(dept, []).append(item)
    for items in by_department.values():
        items.sort(key=lambda x: (x.op, x.id))
    return QuarterlyDigest(quarter, by_department, names)


def quarterly_items(graph: CatalogGraph, digest: QuarterlyDigest) -> list[OutboxItem]:
    """One digest per department, in the catalog's language."""
    with in_language_of(graph.meta):
        return _quarterly_items(graph, digest)


def _quarterly_items(graph: CatalogGraph, digest: QuarterlyDigest) -> list[OutboxItem]:
    notices = {}
    for dept, entries in digest.by_department.items():
        name = digest.names.get(dept, dept)
        title = said("quarterly_title", quarter=digest.quarter, name=name)
        lines = [
            said(
                "quarterly_line",
                name=e.name,
                id=e.id,
                op=said(e.op),
                version=f" → v{e.version}" if e.version and e.op != "removed" else "",
            )
            for e in entries
        ] or [said("quarterly_none")]
        body = {
            "event": "report.quarterly",
            "title": title,
            "quarter": digest.quarter,
            "department": dept,
            "metrics": [e.to_json() for e in entries],
        }
        notices[dept] = (title, lines, body)
    return department_items(
        graph, f"report:quarterly:{digest.quarter}", "report.quarterly", notices
    )
