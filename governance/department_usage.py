"""Use counts per department (seed 001 第五步 "每月通报: 统计各部门的指标字典使用频率").

A read by a signed-in user is counted twice in the ledger's usage table: under its kind (view,
api: the totals every report uses) and under ``kind@department`` (``@-``: a user without a
department; see :func:`governance.usage.by_department`). No person is recorded. Anonymous reads
are the total less the signed-in ones.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from store.ledger import Ledger

READ_KINDS = ("view", "api")
ANONYMOUS = "anonymous"
NO_DEPARTMENT = "-"


def reads_of_department(ledger: Ledger, department: str, since: str = "") -> dict[str, int]:
    """metric id → reads by signed-in users of ``department`` since ``since`` (a day)."""
    wanted = {f"{k}@{department}" for k in READ_KINDS}
    out: dict[str, int] = defaultdict(int)
    for _day, metric, kind, n in ledger.usage(since):
        if kind in wanted:
            out[metric] += n
    return dict(out)


@dataclass(frozen=True)
class DepartmentUsage:
    """Reads of one department (or ``anonymous``) in a period."""

    department: str
    reads: int
    metrics: int  # distinct metrics read
    top: list[tuple[str, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "reads": self.reads,
            "metrics": self.metrics,
            "top": [{"metric": m, "reads": n} for m, n in self.top],
        }


def usage_by_department(
    ledger: Ledger, start: str, end: str, top: int = 5
) -> list[DepartmentUsage]:
    """Reads per department for days ``start`` ≤ day < ``end`` (ISO dates), most first;
    anonymous reads last, apart."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    for day, metric, kind, n in ledger.usage(start):
        if day >= end:
            continue
        base, _, department = kind.partition("@")
        if base not in READ_KINDS:
            continue
        if department:
            per[department][metric] += n
        else:
            totals[metric] += n
    anonymous: dict[str, int] = {}
    for metric, n in totals.items():
        signed = sum(per[d].get(metric, 0) for d in per)
        if n - signed > 0:
            anonymous[metric] = n - signed
    rows = [_row(d, counts, top) for d, counts in per.items()]
    rows.sort(key=lambda r: (-r.reads, r.department))
    rows.append(_row(ANONYMOUS, anonymous, top))
    return rows


def _row(department: str, counts: dict[str, int], top: int) -> DepartmentUsage:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return DepartmentUsage(department, sum(counts.values()), len(counts), ranked[:top])
