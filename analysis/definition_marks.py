"""Where a metric's definition changed, for its value charts: one mark per major or minor
version (patch versions reword, they do not change the number), dated by the catalog's
``history`` when it says when the business changed it, else by the revision that loaded it.

A chart draws each mark at its month; ``explain`` warns when the two months it compares were
computed under definitions a major change apart.

Examples
--------
>>> from graph_schema.models import Metric
>>> m = Metric(id="atp", name="客单价", version="2.0.0", history=[
...     {"version": "1.0.0", "date": "2024-01-05", "change": "初始定义"},
...     {"version": "1.0.1", "date": "2024-02-01", "change": "错别字"},
...     {"version": "2.0.0", "date": "2026-06-01", "change": "分子含税"}])
>>> [(k.version, k.change_class, k.period) for k in definition_marks(m, [])]
[('2.0.0', 'major', '2026-06')]
>>> from core.i18n import use
>>> with use("en"):
...     straddle_warning(definition_marks(m, []), "2026-05", "2026-06")
'2026-05 and 2026-06 were computed under different definitions: 2.0.0 (2026-06-01) 分子含税'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from analysis.timeline import TimelineEntry, version_timeline
from core.i18n import _
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from graph_schema.revisions import NodeHistoryEntry
from graph_schema.semver import is_semver, parse_semver
from store.base import GraphStore

MARKED = ("major", "minor")


class DefinitionMark(BaseModel):
    """One definition change on a metric's charts."""

    model_config = ConfigDict(frozen=True)

    version: str
    change_class: str = Field(description="major or minor")
    date: str | None = Field(description="YYYY-MM-DD the definition changed")
    period: str | None = Field(description="the month of date (YYYY-MM), where charts mark it")
    fields: list[str] = Field(default_factory=list, description="what changed, when known")
    reason: str | None = None
    revision: int | None = None
    link: str | None = Field(default=None, description="the revision's page, when there is one")


def definition_marks(
    metric: Metric, entries: Iterable[NodeHistoryEntry], base_url: str = ""
) -> list[DefinitionMark]:
    """The marks of ``metric``, oldest first (its first version is not a change)."""
    timeline = sorted(version_timeline(metric, entries), key=_order)
    marks: list[DefinitionMark] = []
    previous: str | None = None
    for entry in timeline:
        if entry.op == "removed" or not entry.version:
            continue
        kind = _class(entry, previous)
        first = previous is None
        previous = entry.version
        if first or kind not in MARKED:
            continue
        link = f"{base_url.rstrip('/')}/history/{entry.revision}" if entry.revision else None
        marks.append(
            DefinitionMark(
                version=entry.version,
                change_class=kind,
                date=entry.date,
                period=entry.date[:7] if entry.date else None,
                fields=entry.fields,
                reason=entry.reason,
                revision=entry.revision,
                link=link,
            )
        )
    return marks


def metric_marks(store: GraphStore, metric_id: str, base_url: str = "") -> list[DefinitionMark]:
    """The marks of a loaded metric (none for anything else)."""
    ref = NodeRef(NodeKind.METRIC, metric_id)
    node = store.get_nodes([ref]).get(ref)
    if not isinstance(node, Metric):
        return []
    return definition_marks(node, store.node_history(ref), base_url)


def between(marks: Sequence[DefinitionMark], a: str, b: str) -> list[DefinitionMark]:
    """Marks after the earlier of two months and up to the later one: what separates them."""
    lo, hi = sorted((a, b))
    return [m for m in marks if m.period and lo < m.period <= hi]


def straddle_warning(marks: Sequence[DefinitionMark], a: str, b: str) -> str | None:
    """The sentence ``explain`` shows when months ``a`` and ``b`` straddle a major change."""
    major = [m for m in between(marks, a, b) if m.change_class == "major"]
    if not major:
        return None
    lo, hi = sorted((a, b))
    what = _("; ").join(
        f"{m.version} ({m.date}) "
        + (_("changed {fields}", fields=_(", ").join(m.fields)) if m.fields else m.reason or "")
        for m in major
    )
    return _(
        "{a} and {b} were computed under different definitions: {what}",
        a=lo,
        b=hi,
        what=what.strip(),
    )


def with_definition_changes(
    report: dict[str, Any], marks: Sequence[DefinitionMark]
) -> dict[str, Any]:
    """An explain report (JSON) with ``definition_changes`` (the marks between its two months)
    and ``definition_warning`` (when a major one separates them, else ``None``)."""
    base, period = report.get("base_period"), report.get("period")
    if not (isinstance(base, str) and isinstance(period, str)):
        return {**report, "definition_changes": [], "definition_warning": None}
    return {
        **report,
        "definition_changes": [m.model_dump(mode="json") for m in between(marks, base, period)],
        "definition_warning": straddle_warning(marks, base, period),
    }


def _class(entry: TimelineEntry, previous: str | None) -> str | None:
    """The entry's change class; for a hand-written entry, from the version bump."""
    if entry.change_class is not None:
        return entry.change_class.value
    if previous is None or not (is_semver(entry.version or "") and is_semver(previous)):
        return None
    new, old = parse_semver(entry.version or ""), parse_semver(previous)
    if new.major != old.major:
        return "major"
    if new.minor != old.minor:
        return "minor"
    return "patch"


def _order(entry: TimelineEntry) -> tuple[tuple[int, int, int, int, str], int]:
    version = (
        parse_semver(entry.version).sort_key()
        if entry.version and is_semver(entry.version)
        else (-1, 0, 0, 0, "")
    )
    return version, entry.revision or 0
