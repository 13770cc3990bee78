"""Usage monitoring (seed 001 第六步 4. 质量监控): most and least used metrics, most questioned
(争议率 = questions per 100 uses), last changed, and archive candidates (unused for 90 days)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from graph_schema.ids import NodeKind
from graph_schema.models import Metric
from store.base import GraphStore, SearchQuery
from store.ledger import Ledger

UNUSED_DAYS = 90


def metric_stats(
    store: GraphStore, ledger: Ledger, days: int = UNUSED_DAYS, top: int = 10
) -> dict[str, Any]:
    today = dt.datetime.now(dt.UTC).date()
    since = (today - dt.timedelta(days=days - 1)).isoformat()
    uses: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    last_used: dict[str, str] = {}
    for day, metric, kind, n in ledger.usage(since):
        uses[metric][kind] += n
        if kind != "question":
            last_used[metric] = max(last_used.get(metric, ""), day)
    page = store.search(SearchQuery(kinds=frozenset({NodeKind.METRIC}), limit=10**9))
    rows: list[dict[str, Any]] = []
    for node in page.items:
        if not isinstance(node, Metric):
            continue
        u = uses.get(node.id, {})
        used = u.get("view", 0) + u.get("api", 0) + u.get("ask", 0)
        questions = u.get("question", 0)
        rows.append(
            {
                "id": node.id,
                "name": node.name,
                "level": node.level.value if node.level else None,
                "status": node.status.value,
                "views": u.get("view", 0),
                "api": u.get("api", 0),
                "ask": u.get("ask", 0),
                "uses": used,
                "questions": questions,
                "dispute_rate": round(100 * questions / used, 1) if used else None,
                "last_used": last_used.get(node.id),
                "last_changed": node.updated,
                "version": node.version,
                "archive_candidate": used == 0 and node.status.value != "deprecated",
            }
        )
    rows.sort(key=lambda r: (-r["uses"], -r["questions"], r["id"]))
    by_use = rows
    first = min((row[0] for row in ledger.usage("")), default=None)
    return {
        "days": days,
        "since": since,
        "counting_since": first,
        # counting began inside the window: "unused" is only as old as the counting
        "provisional": first is None or first > since,
        "metrics": rows,
        "most_used": by_use[:top],
        "least_used": sorted(rows, key=lambda r: (r["uses"], r["id"]))[:top],
        "most_questioned": sorted(
            (r for r in rows if r["questions"]), key=lambda r: (-r["questions"], r["id"])
        )[:top],
        "archive_candidates": [r for r in rows if r["archive_candidate"]],
    }
