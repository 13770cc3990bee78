"""The inventory (指标梳理清单, seed 001 第一步): every metric in the seed's columns, its
"当前是否有定义" computed from the card and from lint, never typed by hand.

Seed 001::

    | 指标级别 | 指标名称 | 所属领域 | 优先级 | 当前是否有定义 |
    | L0 | 客户留存率 | 客户运营 | P0 | ❌ 无统一定义 |
    | L1 | 客单价 | 门店运营 | P0 | ❌ 定义不统一 |
    | L1 | 毛利率 | 财务 | P0 | ✅ 有统一定义 |

The rule, in order:

* **❌ 定义不统一** — a ``conflict.*`` lint rule lists the metric with at least one other
  metric that is not deprecated (several definitions of one name, abbreviation or meaning: the
  five stores' five 客单价; deprecating the variants, keeping one, resolves it);
* **❌ 无统一定义** — the metric is a draft, has no definition, or its card misses a section its
  level requires (``card.incomplete``);
* **✅ 有统一定义** — otherwise.

Deprecated metrics are archived (归档) and left out. Rows are sorted P0 first (then P1, P2, no
priority), then by level (L0 first), then by name. 统一度 ("指标定义统一度 100%") is the share
of rows that are ✅, over all rows and over the core (P0 and P1) rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from analysis.lint import LintReport, lint_graph
from core.i18n import N_, _
from graph_schema.graph import CatalogGraph
from graph_schema.models import Metric, Status
from graph_schema.rules.base import CARD_SECTIONS


class DefinitionState(StrEnum):
    """当前是否有定义 (the seed's three answers)."""

    UNIFIED = "✅ 有统一定义"
    CONFLICTING = "❌ 定义不统一"
    MISSING = "❌ 无统一定义"


#: The seed's column headers, in order (also the Excel layout, see loaders.excel.inventory).
COLUMNS = ("指标级别", "指标名称", "所属领域", "优先级", "当前是否有定义")
#: The same headers as message ids, for pages and the terminal (the seed's words in zh)
COLUMN_WORDS = (
    N_("Level"),
    N_("Metric name"),
    N_("Domain"),
    N_("Priority"),
    N_("Has an agreed definition"),
)
#: The states in words (message ids; the seed's words in zh)
STATE_WORDS = {
    DefinitionState.UNIFIED.value: N_("✅ One agreed definition"),
    DefinitionState.CONFLICTING.value: N_("❌ Conflicting definitions"),
    DefinitionState.MISSING.value: N_("❌ No agreed definition"),
}
#: Why a row is not ✅, in words (message ids, written in the language in use)
REASONS = {
    "conflict": N_("lint {rules}: {others}"),
    "draft": N_("draft"),
    "no_definition": N_("no definition"),
    "incomplete": N_("card incomplete: {missing}"),
}
PRIORITY_ORDER = {"P0": 0, "P1": 1, "P2": 2}
LEVEL_ORDER = {"L0": 0, "L1": 1, "L2": 2, "L3": 3}


@dataclass(frozen=True)
class InventoryRow:
    id: str
    level: str | None
    name: str
    domain: str | None
    priority: str | None
    state: DefinitionState
    reasons: tuple[str, ...] = ()
    owner: str | None = None

    @property
    def ok(self) -> bool:
        return self.state is DefinitionState.UNIFIED

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["state"] = self.state.value
        out["reasons"] = list(self.reasons)
        return out

    def cells(self) -> list[str]:
        """The seed's five columns."""
        return [
            self.level or "",
            self.name,
            self.domain or "",
            self.priority or "",
            self.state.value,
        ]


@dataclass(frozen=True)
class Inventory:
    rows: tuple[InventoryRow, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def unified(self) -> float | None:
        """统一度 over every row (``None``: no rows)."""
        return _share(self.rows)

    @property
    def core_unified(self) -> float | None:
        """统一度 over the core rows (P0 and P1)."""
        return _share([r for r in self.rows if r.priority in ("P0", "P1")])

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": list(COLUMNS),
            "total": len(self.rows),
            "counts": self.counts,
            "unified": self.unified,
            "core_unified": self.core_unified,
            "rows": [r.to_json() for r in self.rows],
        }


def _share(rows: Iterable[InventoryRow]) -> float | None:
    rows = list(rows)
    if not rows:
        return None
    return round(sum(r.ok for r in rows) / len(rows), 4)


def _sort_key(row: InventoryRow) -> tuple[int, int, str, str]:
    return (
        PRIORITY_ORDER.get(row.priority or "", 3),
        LEVEL_ORDER.get(row.level or "", 4),
        row.name,
        row.id,
    )


def inventory(graph: CatalogGraph, report: LintReport | None = None) -> Inventory:
    """The inventory of ``graph`` (``report``: its lint, computed when not given).

    Examples
    --------
    >>> from graph_schema.models import Metric
    >>> g = CatalogGraph(name="x", nodes=(
    ...     Metric(id="a", name="客单价", level="L1", priority="P0", definition="甲"),
    ...     Metric(id="b", name="客单价", level="L1", priority="P0", definition="乙"),
    ...     Metric(id="c", name="毛利率", level="L2", priority="P0", definition="丙"),
    ...     Metric(id="d", name="工位周转率", level="L2", priority="P1", status="draft"),
    ... ), edges=())
    >>> inv = inventory(g)
    >>> [(r.id, r.state.value) for r in inv.rows]
    [('a', '❌ 定义不统一'), ('b', '❌ 定义不统一'), ('c', '✅ 有统一定义'), ('d', '❌ 无统一定义')]
    >>> inv.unified, inv.counts["✅ 有统一定义"]
    (0.25, 1)
    """
    report = report if report is not None else lint_graph(graph)
    conflicts: dict[str, list[str]] = {}
    others: dict[str, set[str]] = {}
    incomplete: dict[str, str] = {}
    live = {
        str(n.ref)
        for n in graph.nodes
        if isinstance(n, Metric) and n.status is not Status.DEPRECATED
    }
    for issue in report.issues:
        metric_refs = [r for r in issue.refs if r.startswith("Metric:")]
        if issue.rule.startswith("conflict."):
            metric_refs = [r for r in metric_refs if r in live]  # archived variants: resolved
            if len(metric_refs) < 2:
                continue
            for ref in metric_refs:
                conflicts.setdefault(ref, []).append(issue.rule)
                others.setdefault(ref, set()).update(r for r in metric_refs if r != ref)
        elif issue.rule == "card.incomplete" and metric_refs:
            # the sections the card misses, named in the message in card order (any language)
            said = issue.message.split("'", 2)[-1]
            found = sorted((i, k) for k in CARD_SECTIONS if (i := _word_at(said, k)) is not None)
            incomplete[metric_refs[0]] = _(", ").join(k for _i, k in found) or issue.message
    rows = []
    for node in graph.nodes:
        if not isinstance(node, Metric) or node.status is Status.DEPRECATED:
            continue
        ref = str(node.ref)
        reasons: list[str] = []
        if ref in conflicts:
            state = DefinitionState.CONFLICTING
            names = ", ".join(sorted(r.split(":", 1)[1] for r in others.get(ref, ())))
            rules = ", ".join(sorted(set(conflicts[ref])))
            reasons.append(_(REASONS["conflict"], rules=rules, others=names))
        else:
            if node.status is Status.DRAFT:
                reasons.append(_(REASONS["draft"]))
            if not node.definition:
                reasons.append(_(REASONS["no_definition"]))
            if ref in incomplete:
                reasons.append(_(REASONS["incomplete"], missing=incomplete[ref]))
            state = DefinitionState.MISSING if reasons else DefinitionState.UNIFIED
        rows.append(
            InventoryRow(
                id=node.id,
                level=node.level.value if node.level else None,
                name=node.name,
                domain=node.domain,
                priority=node.priority.value if node.priority else None,
                state=state,
                reasons=tuple(reasons),
                owner=node.owner,
            )
        )
    rows.sort(key=_sort_key)
    counts = {s.value: 0 for s in DefinitionState}
    for row in rows:
        counts[row.state.value] += 1
    return Inventory(tuple(rows), counts)


@dataclass(frozen=True)
class UnifiedPoint:
    """统一度 after one revision."""

    revision: int
    created_at: str
    message: str | None
    total: int
    unified: float | None
    core_unified: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def unified_history(store: Any, limit: int = 20) -> list[UnifiedPoint]:
    """统一度 after each of the last ``limit`` revisions of ``store`` (a
    :class:`~store.base.GraphStore`), oldest first."""
    points = []
    for rev in reversed(store.revisions(limit=limit)):
        inv = inventory(store.catalog(at=rev.number))
        points.append(
            UnifiedPoint(
                revision=rev.number,
                created_at=rev.created_at,
                message=rev.message,
                total=len(inv.rows),
                unified=inv.unified,
                core_unified=inv.core_unified,
            )
        )
    return points


def _word_at(text: str, word: str) -> int | None:
    """Where ``word`` stands as a whole word in ``text`` (``None``: nowhere)."""
    import re

    found = re.search(r"(?<![\w.])" + re.escape(word) + r"(?![\w.])", text)
    return found.start() if found else None
