"""The reading list of a department (seed 001 第五步: "入职培训 … 重点讲解本岗位相关的20-30个
指标"; "要求新员工第一周内通读一遍").

A metric matters to a department when (in this order of weight) the department owns it, reviews
it, it is on a dashboard that shows the department's own metrics, the department reads it most
(its use counts), or it is a direct input (INPUT_TO) of one of those. The list keeps the
``limit`` (30) that matter most, at least ``minimum`` (20) when the catalog has them — topped
up with the catalog's north-star and L1 metrics, everyone's business — and is ordered from L0
down (then by weight, then by id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.i18n import N_, _
from graph_schema.errors import NodeNotFoundError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Department, Metric, Status
from graph_schema.relations import Relation

#: why a metric is on the list (message ids, said in the language in use), and its weight
WHY: dict[str, tuple[str, int]] = {
    "owns": (N_("owned by this department"), 100),
    "reviews": (N_("reviewed by this department"), 60),
    "dashboard": (N_("on this department's dashboards"), 30),
    "reads": (N_("often read in this department"), 20),
    "input": (N_("a direct input of the metrics above"), 10),
    "core": (N_("a core metric of the company"), 5),
}
LEVELS = {"L0": 0, "L1": 1, "L2": 2, "L3": 3}
MINIMUM, LIMIT = 20, 30


class UnknownDepartmentError(NodeNotFoundError):
    """No department with that id or name (the API answers 404 with the ones there are)."""


@dataclass(frozen=True)
class ReadingItem:
    id: str
    name: str
    level: str | None
    role: str | None
    owner: str | None
    why: tuple[str, ...]
    weight: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": f"Metric:{self.id}",
            "name": self.name,
            "level": self.level,
            "role": self.role,
            "owner": self.owner,
            "why": list(self.why),
        }


@dataclass(frozen=True)
class ReadingList:
    department: str
    department_name: str
    items: tuple[ReadingItem, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "department_name": self.department_name,
            "items": [i.to_json() for i in self.items],
        }


def find_department(graph: CatalogGraph, text: str) -> Department:
    """The department whose id or name is ``text`` (``UnknownDepartmentError`` naming the
    ones there are)."""
    departments = [n for n in graph.nodes if isinstance(n, Department)]
    for d in departments:
        if text in (d.id, d.name):
            return d
    raise UnknownDepartmentError(
        f"Department:{text}",
        [d.id for d in departments],
        names={d.id: d.name for d in departments},  # ops（运营部） in zh, ops (Operations) in en
    )


def reading_list(
    graph: CatalogGraph,
    department: str,
    reads: Mapping[str, int] | None = None,
    *,
    minimum: int = MINIMUM,
    limit: int = LIMIT,
) -> ReadingList:
    """The reading list of ``department`` (id or name); ``reads``: metric id → how often the
    department read it (from the use counts).

    Examples
    --------
    >>> from graph_schema.models import Metric, Department
    >>> g = CatalogGraph(name="x", nodes=(
    ...     Department(id="ops", name="运营部"),
    ...     Metric(id="revenue", name="营收", level="L0"),
    ...     Metric(id="atp", name="客单价", level="L1", owner="ops"),
    ...     Metric(id="hours", name="工时", level="L2", reviewer="ops"),
    ... ), edges=())
    >>> [(i.id, i.why) for i in reading_list(g, "运营部").items]
    [('revenue', ('公司核心指标',)), ('atp', ('本部门负责',)), ('hours', ('本部门审核',))]
    """
    dept = find_department(graph, department)
    metrics = {
        n.id: n for n in graph.nodes if isinstance(n, Metric) and n.status is not Status.DEPRECATED
    }
    why: dict[str, list[str]] = {}

    def add(metric_id: str, reason: str) -> None:
        if metric_id in metrics and reason not in why.setdefault(metric_id, []):
            why[metric_id].append(reason)

    for m in metrics.values():
        if m.owner == dept.id:
            add(m.id, "owns")
        if m.reviewer == dept.id:
            add(m.id, "reviews")
    own = set(why)
    boards = {
        e.target
        for e in graph.edges
        if e.type is Relation.SHOWN_ON and e.source.kind is NodeKind.METRIC and e.source.id in own
    }
    for e in graph.edges:
        if e.type is Relation.SHOWN_ON and e.target in boards:
            add(e.source.id, "dashboard")
    for metric_id, _n in sorted((reads or {}).items(), key=lambda kv: (-kv[1], kv[0]))[:limit]:
        add(metric_id, "reads")
    chosen = set(why)
    for e in graph.edges:
        if e.type is Relation.INPUT_TO and e.target.id in chosen:
            add(e.source.id, "input")
    if len(why) < minimum:
        core = sorted(
            (m for m in metrics.values() if m.level is not None and m.level.value in ("L0", "L1")),
            key=lambda m: (LEVELS[m.level.value if m.level else "L3"], m.id),
        )
        for m in core:
            if len(why) >= minimum:
                break
            if m.id not in why:
                add(m.id, "core")
    weight = {mid: sum(WHY[r][1] for r in reasons) for mid, reasons in why.items()}
    kept = sorted(why, key=lambda mid: (-weight[mid], mid))[:limit]

    def order(mid: str) -> tuple[int, int, str]:
        level = metrics[mid].level
        return (LEVELS[level.value] if level else 4, -weight[mid], mid)

    items = []
    for mid in sorted(kept, key=order):
        m = metrics[mid]
        items.append(
            ReadingItem(
                id=m.id,
                name=m.name,
                level=m.level.value if m.level else None,
                role=m.role.value if m.role else None,
                owner=m.owner,
                why=tuple(_(WHY[r][0]) for r in why[mid]),
                weight=weight[mid],
            )
        )
    return ReadingList(dept.id, dept.name, tuple(items))


def metric_ref(metric_id: str) -> NodeRef:
    return NodeRef(NodeKind.METRIC, metric_id)
