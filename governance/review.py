"""The quarterly review (seed 001 第六步 定期审查（每季度）): "哪些指标已经不再使用?（可以归档）…
哪些指标定义需要优化? … 哪些指标的行业基准需要更新?" and 质量监控 "争议率 … 异常率"; "数据治理委员会
组织 … 集中讨论和决策 … 更新指标字典，发布变更通知".

:func:`review_lists` gives the four lists for a window; the committee's decisions become change
requests in one batch through :meth:`governance.changes.Governance.submit` (the normal
approvals apply); :func:`close_review` publishes one change notice per department once no request
of the review is still open. A review is kept in the ledger's progress records (kind
``review``, key: the review id).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.i18n import N_, _, in_language_of
from governance.bulletins import department_items
from governance.changes import Governance
from governance.notify import STATUSES
from graph_schema.errors import InvalidQueryError
from graph_schema.governance import Action, ChangeStatus, OutboxItem, User, now_iso
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Department, Metric, Status
from graph_schema.programme import ProgressKind, ProgressRecord
from store.ledger import Ledger

#: message ids: reasons, caveats and notices are written in the catalog's language (they are
#: kept in change requests and sent to departments), errors in the reader's
TEXT: dict[str, str] = {
    "rework_caveat": N_(
        "Data governance committee review {review}: this definition is often disputed; the "
        "owning department is asked to improve it. {note}"
    ),
    "deprecate_reason": N_("Quarterly review {review}: unused for {days} days, archived"),
    "rework_reason": N_(
        "Quarterly review {review}: often disputed, the owning department is asked to improve "
        "the definition"
    ),
    "benchmark_reason": N_(
        "Quarterly review {review}: the industry benchmark's source is old, updated to {source}"
    ),
    # errors stay English, as the other errors do
    "no_stale": "{metric}: no benchmark older than the threshold to update",
    "need_source": "update_benchmark needs source (the new source and year)",
    "open_left": "{n} request(s) of review {review} still open: {ids}; decide them first",
    "no_review": "no review {review}",
    "notice_title": N_("Metric dictionary change notice · quarterly review {review} · {name}"),
    "notice_line": N_("{name} ({id}): {what} — request #{change} {status}"),
}
WHAT = {
    "deprecate": N_("archive"),
    "rework": N_("improve the definition"),
    "update_benchmark": N_("update the industry benchmark"),
}


def said(key: str, **values: object) -> str:
    """``TEXT[key]`` in the language in use, fields filled."""
    return _(TEXT[key], **values)


def recorded(gov: Governance, key: str, **values: object) -> str:
    """``TEXT[key]`` in the catalog's language: text a change request keeps."""
    with in_language_of(gov.store.info().meta):
        return said(key, **values)


UNUSED_KINDS = ("view", "api", "ask")
DISPUTE_RATE, DISPUTE_MIN = 0.2, 2
STALE_YEARS = 2
_YEAR = re.compile(r"(19|20)\d{2}")


@dataclass(frozen=True)
class ReviewLists:
    window: tuple[str, str]
    unused: list[dict[str, Any]]
    disputed: list[dict[str, Any]]
    anomalous: list[dict[str, Any]]
    stale_benchmarks: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "window": {"start": self.window[0], "end": self.window[1]},
            "unused": self.unused,
            "disputed": self.disputed,
            "anomalous": self.anomalous,
            "stale_benchmarks": self.stale_benchmarks,
        }


def default_window(today: dt.date | None = None) -> tuple[str, str]:
    """The last full quarter: (first day, first day of the next)."""
    today = today or dt.datetime.now(dt.UTC).date()
    q = (today.month - 1) // 3
    end = dt.date(today.year, q * 3 + 1, 1)
    start = dt.date(end.year - (q == 0), ((q - 1) % 4) * 3 + 1, 1)
    return start.isoformat(), end.isoformat()


def review_lists(
    graph: CatalogGraph,
    ledger: Ledger,
    window: tuple[str, str],
    *,
    findings: Mapping[str, list[str]] | None = None,
    dispute_rate: float = DISPUTE_RATE,
    stale_years: int = STALE_YEARS,
    today: dt.date | None = None,
) -> ReviewLists:
    """The four lists for ``window`` (start ≤ day < end). ``findings``: metric id → the
    check-values findings about it (异常率), when values are configured."""
    start, end = window
    reads: dict[str, int] = defaultdict(int)
    questions: dict[str, int] = defaultdict(int)
    for day, metric, kind, n in ledger.usage(start):
        if day >= end:
            continue
        if kind in UNUSED_KINDS:
            reads[metric] += n
        elif kind == "question":
            questions[metric] += n
    metrics = sorted(
        (n for n in graph.nodes if isinstance(n, Metric) and n.status is not Status.DEPRECATED),
        key=lambda m: m.id,
    )
    year = (today or dt.datetime.now(dt.UTC).date()).year

    def row(m: Metric, **extra: Any) -> dict[str, Any]:
        level = m.level.value if m.level else None
        return {"id": m.id, "name": m.name, "level": level, "owner": m.owner, **extra}

    unused = [row(m) for m in metrics if not reads.get(m.id)]
    disputed = []
    for m in metrics:
        q = questions.get(m.id, 0)
        rate = q / max(reads.get(m.id, 0), 1)
        if q >= DISPUTE_MIN and rate >= dispute_rate:
            disputed.append(row(m, questions=q, reads=reads.get(m.id, 0), rate=round(rate, 3)))
    anomalous = [
        row(m, findings=len(findings[m.id]), checks=sorted(set(findings[m.id])))
        for m in metrics
        if findings and findings.get(m.id)
    ]
    stale = []
    for m in metrics:
        old = [b for b in m.benchmarks if _source_year(b.source) is not None]
        old = [b for b in old if year - (_source_year(b.source) or year) > stale_years]
        if old:
            sources = sorted({b.source or "" for b in old})
            stale.append(row(m, sources=sources))
    return ReviewLists(window, unused, disputed, anomalous, stale)


def _source_year(source: str | None) -> int | None:
    found = _YEAR.search(source or "")
    return int(found.group(0)) if found else None


class Decision(BaseModel):
    """One of the committee's ticks."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(max_length=200)
    action: Literal["deprecate", "rework", "update_benchmark"]
    note: str = Field(default="", max_length=2000)
    #: for update_benchmark: the new source (with its year), e.g. "中国汽车流通协会 2026"
    source: str | None = Field(default=None, max_length=200)


def submit_decisions(
    gov: Governance,
    user: User,
    review: str,
    decisions: list[Decision],
    *,
    unused_days: int = 90,
    stale_years: int = STALE_YEARS,
) -> list[int]:
    """Turn ``decisions`` into change requests (one each, in order) through the governance
    service's submit — owner review and committee approval as for any request — and keep the
    review's record. Returns the change ids."""
    ids: list[int] = []
    rows: list[dict[str, Any]] = []
    year = dt.datetime.now(dt.UTC).year
    for d in decisions:
        ref = NodeRef(NodeKind.METRIC, d.metric)
        node = gov.store.get_nodes([ref]).get(ref)
        current = node.props() if node is not None else {}
        version = current.get("version")
        definition = {k: v for k, v in current.items() if k != "version"}
        if d.action == "deprecate":
            reason = recorded(gov, "deprecate_reason", review=review, days=unused_days)
            change = gov.submit(user, Action.DEPRECATE, ref, None, version, _with(reason, d.note))
        elif d.action == "rework":
            caveat = recorded(gov, "rework_caveat", review=review, note=d.note).strip()
            definition["caveats"] = [*definition.get("caveats", []), caveat]
            reason = recorded(gov, "rework_reason", review=review)
            change = gov.submit(
                user, Action.UPDATE, ref, definition, version, _with(reason, d.note)
            )
        else:
            if not d.source:
                raise InvalidQueryError(TEXT["need_source"])
            marks = definition.get("benchmarks", [])
            changed = False
            for b in marks:
                y = _source_year(b.get("source"))
                if y is not None and year - y > stale_years:
                    b["source"], changed = d.source, True
            if not changed:
                raise InvalidQueryError(TEXT["no_stale"].format(metric=d.metric))
            reason = recorded(gov, "benchmark_reason", review=review, source=d.source)
            change = gov.submit(
                user, Action.UPDATE, ref, definition, version, _with(reason, d.note)
            )
        ids.append(change.id)
        rows.append({**d.model_dump(), "change": change.id})

    def add(previous: ProgressRecord | None) -> ProgressRecord:
        # read and written in one transaction: two members submitting at once (two servers)
        # both keep their decisions
        data: dict[str, Any] = dict(previous.data) if previous else {"opened_by": user.name}
        data["decisions"] = [*data.get("decisions", []), *rows]
        data["closed_at"] = None
        return ProgressRecord(
            user=REVIEW_USER, kind=ProgressKind.REVIEW, key=review, at=now_iso(), data=data
        )

    gov.ledger.change_progress(REVIEW_USER, ProgressKind.REVIEW, review, add)
    return ids


def _with(reason: str, note: str) -> str:
    return f"{reason}（{note}）" if note else reason


#: the ledger keeps a review's record under this user (the committee's, not one member's)
REVIEW_USER = "committee"


def _record(ledger: Ledger, review: str) -> ProgressRecord | None:
    found = [r for r in ledger.progress(ProgressKind.REVIEW.value, REVIEW_USER) if r.key == review]
    return found[0] if found else None


def review_record(ledger: Ledger, review: str) -> dict[str, Any] | None:
    record = _record(ledger, review)
    return {"review": review, **record.data} if record else None


def close_review(gov: Governance, review: str) -> list[OutboxItem]:
    """Publish one change notice per department (owner or reviewer of a decided metric) to
    its webhooks, once every request of the review is decided; returns the items queued."""
    record = _record(gov.ledger, review)
    if record is None:
        raise InvalidQueryError(TEXT["no_review"].format(review=review))
    decisions = record.data.get("decisions", [])
    changes = {d["change"]: gov.get(d["change"]) for d in decisions}
    still_open = [
        c.id
        for c in changes.values()
        if c.status is ChangeStatus.SUBMITTED or c.status is ChangeStatus.OWNER_APPROVED
    ]
    if still_open:
        ids = ", ".join(f"#{i}" for i in still_open)
        raise InvalidQueryError(TEXT["open_left"].format(n=len(still_open), review=review, ids=ids))
    graph = gov.store.catalog()
    with in_language_of(graph.meta):  # notices go out in the catalog's language
        names = {n.id: n.name for n in graph.nodes if isinstance(n, Department)}
        per: dict[str, list[str]] = defaultdict(list)
        bodies: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in decisions:
            change = changes[d["change"]]
            props = change.definition or {}
            node = graph_metric(graph, d["metric"])
            depts = {x for x in (props.get("owner"), props.get("reviewer")) if x}
            if node is not None:
                depts |= {x for x in (node.owner, node.reviewer) if x}
            name = props.get("name") or (node.name if node else d["metric"])
            line = said(
                "notice_line",
                name=name,
                id=d["metric"],
                what=_(WHAT[d["action"]]),
                change=change.id,
                status=_(STATUSES.get(change.status.value, change.status.value)),
            )
            for dept in sorted(depts):
                per[dept].append(line)
                bodies[dept].append(
                    {
                        "metric": d["metric"],
                        "action": d["action"],
                        "change": change.id,
                        "status": change.status.value,
                    }
                )
        notices = {}
        for dept, lines in per.items():
            title = said("notice_title", review=review, name=names.get(dept, dept))
            body = {
                "event": "review.notice",
                "title": title,
                "review": review,
                "department": dept,
                "decisions": bodies[dept],
            }
            notices[dept] = (title, lines, body)
    items = department_items(graph, f"review:{review}", "review.notice", notices)
    gov.ledger.enqueue(items)

    def closed(current: ProgressRecord | None) -> ProgressRecord:
        base = current or record  # decisions submitted meanwhile stay in the record
        return base.model_copy(
            update={"data": {**base.data, "closed_at": now_iso()}, "at": now_iso()}
        )

    gov.ledger.change_progress(REVIEW_USER, ProgressKind.REVIEW, review, closed)
    return items


def graph_metric(graph: CatalogGraph, metric_id: str) -> Metric | None:
    ref = NodeRef(NodeKind.METRIC, metric_id)
    return next((n for n in graph.nodes if isinstance(n, Metric) and n.ref == ref), None)
