"""A metric's version timeline (版本记录): the revisions that changed it, merged with the
hand-written ``history`` of its catalog entry.

A hand-written entry and the revision that first carried the same version are one line: the
catalog's date and reason win (they say when the business changed it and why), the revision
adds who loaded it, its change class and which fields moved.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from graph_schema.models import Metric
from graph_schema.revisions import ChangeClass, ChangeOp, NodeHistoryEntry
from graph_schema.semver import is_semver, parse_semver

#: Fields not listed as "what changed" (they change with every version).
QUIET_FIELDS = frozenset({"version", "history"})


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str | None
    date: str | None = None
    author: str | None = None
    reason: str | None = None
    change_class: ChangeClass | None = None
    op: str | None = None
    fields: list[str] = Field(default_factory=list)
    revision: int | None = None
    source: str = Field(description="catalog, revision or both")


def version_timeline(metric: Metric, entries: Iterable[NodeHistoryEntry]) -> list[TimelineEntry]:
    """Newest first.

    Examples
    --------
    >>> m = Metric(id="atp", name="客单价", version="1.1.0",
    ...            history=[{"version": "1.0.0", "date": "2023-09-01", "change": "初始定义"},
    ...                     {"version": "1.1.0", "date": "2024-03-01", "change": "排除保险代收款"}])
    >>> [(e.version, e.reason, e.source) for e in version_timeline(m, [])]
    [('1.1.0', '排除保险代收款', 'catalog'), ('1.0.0', '初始定义', 'catalog')]
    """
    merged: dict[str, TimelineEntry] = {}
    loose: list[TimelineEntry] = []
    for item in entries:
        change, rev = item.change, item.revision
        version = change.new_version or (change.new or {}).get("version")
        if change.op is ChangeOp.REMOVED:
            version = change.old_version
        entry = TimelineEntry(
            version=version,
            date=rev.created_at[:10],
            author=rev.author,
            reason=rev.message,
            change_class=change.change_class,
            op=change.op.value,
            fields=[f.field for f in change.fields if f.field not in QUIET_FIELDS],
            revision=rev.number,
            source="revision",
        )
        if version and version not in merged and change.op is not ChangeOp.REMOVED:
            merged[version] = entry
        else:
            loose.append(entry)
    for hand in metric.history:
        seen = merged.get(hand.version)
        if seen is None:
            merged[hand.version] = TimelineEntry(
                version=hand.version,
                date=hand.date,
                author=hand.author,
                reason=hand.change,
                source="catalog",
            )
        else:
            merged[hand.version] = seen.model_copy(
                update={
                    "date": hand.date or seen.date,
                    "reason": hand.change or seen.reason,
                    "author": hand.author or seen.author,
                    "source": "both",
                }
            )
    out = [*merged.values(), *loose]
    return sorted(out, key=_key, reverse=True)


def _key(e: TimelineEntry) -> tuple[tuple[int, int, int, int, str], int]:
    version = parse_semver(e.version).sort_key() if e.version and is_semver(e.version) else None
    return (version or (-1, 0, 0, 0, "")), e.revision or 0
