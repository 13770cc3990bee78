"""orphans.*: definitions nobody looks at and columns nobody reads."""

from __future__ import annotations

from collections.abc import Iterable

from core.i18n import N_, _
from graph_schema.ids import NodeKind
from graph_schema.models import Status
from graph_schema.relations import Relation
from graph_schema.rules.base import LintContext, LintIssue, LintRule, Severity

_USES = (Relation.INPUT_TO, Relation.DRIVES, Relation.CAUSES)


class OrphanMetric(LintRule):
    id = "orphans.metric"
    severity = Severity.INFO
    summary = N_("a metric no dashboard shows and no other metric uses")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        linked = {e.source for e in ctx.edges_of(Relation.SHOWN_ON)}
        for rel in _USES:
            linked |= {e.source for e in ctx.edges_of(rel)}
        for e in ctx.edges_of(Relation.ROLLS_UP_TO):
            linked |= {e.source, e.target}
        for m in ctx.subjects():
            if m.ref not in linked and m.status is not Status.DEPRECATED:
                yield self.issue(
                    ctx,
                    m.ref,
                    _(
                        "metric {id!r} is on no dashboard, in no formula, drives and causes "
                        "nothing and is in no roll-up",
                        id=m.id,
                    ),
                    _(
                        "show it on a dashboard, link it (rolls_up_to, formula, causes), or "
                        "deprecate it"
                    ),
                )


class OrphanField(LintRule):
    id = "orphans.field"
    severity = Severity.INFO
    summary = N_("a source field no metric declares or reads")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        if ctx.focus is not None and ctx.focus.kind is not NodeKind.FIELD:
            return  # issues about fields only; reading every metric's SQL is not needed
        used = {e.source for e in ctx.edges_of(Relation.FEEDS)}
        read: set[str] = set()
        for m in ctx.metrics():
            found = ctx.sql(m) if m.sql else None
            if found is not None:
                read |= found.fields | found.view_fields
        views = {t.id for t in ctx.of_kind(NodeKind.TABLE) if getattr(t, "sql", None) is not None}
        for node in ctx.of_kind(NodeKind.FIELD):
            table = node.id.rsplit(".", 1)[0]
            if node.ref in used or node.id in read or table in views:
                continue
            yield self.issue(
                ctx,
                node.ref,
                _(
                    "field {id!r} feeds no metric (no 'fields:' entry, no SQL reads it)",
                    id=node.id,
                ),
                _("bind it to the metrics computed from it, or drop it from sources.yaml"),
            )


RULES = (OrphanMetric(), OrphanField())
