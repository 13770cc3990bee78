"""lifecycle.*: draft → active → deprecated, and what may depend on what."""

from __future__ import annotations

from collections.abc import Iterable

from core.i18n import N_, _
from graph_schema.models import Metric, Status
from graph_schema.relations import Relation
from graph_schema.rules.base import LintContext, LintIssue, LintRule, Scope, Severity


class _DependsOn(LintRule):
    status: Status
    scope = Scope.NEIGHBOURS

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        flagged = {m.ref for m in ctx.metrics() if m.status is self.status}
        if not flagged:
            return
        uses = [
            (e.target, e.source, "", "formula")
            for e in ctx.edges_of(Relation.INPUT_TO)
            if e.source in flagged
        ]
        uses += [
            (e.source, e.target, "", "rolls_up_to")
            for e in ctx.edges_of(Relation.ROLLS_UP_TO)
            if e.target in flagged
        ]
        for user_ref, used_ref, _how, key in uses:
            user, used = ctx.nodes.get(user_ref), ctx.nodes.get(used_ref)
            if not isinstance(user, Metric) or not isinstance(used, Metric):
                continue
            if user.status is Status.ACTIVE and used.status is self.status:
                yield self.issue(
                    ctx,
                    user.ref,
                    (
                        _(
                            "active metric {id!r} uses {status} metric {used!r} in its formula",
                            id=user.id,
                            status=_(self.status.value),
                            used=used.id,
                        )
                        if key == "formula"
                        else _(
                            "active metric {id!r} rolls up to {status} metric {used!r}",
                            id=user.id,
                            status=_(self.status.value),
                            used=used.id,
                        )
                    ),
                    _("base it on an active metric, or make {used!r} active first", used=used.id)
                    if self.status is Status.DRAFT
                    else _("move it off {used!r} (deprecated), or deprecate it too", used=used.id),
                    key=key,
                    refs=[used.ref],
                )


class LifecycleDependsOnDeprecated(_DependsOn):
    id = "lifecycle.depends-on-deprecated"
    severity = Severity.WARNING
    summary = N_("an active metric is computed from (or rolls up to) a deprecated one")
    status = Status.DEPRECATED


class LifecycleDependsOnDraft(_DependsOn):
    id = "lifecycle.depends-on-draft"
    severity = Severity.WARNING
    summary = N_("an active metric is computed from (or rolls up to) a draft one")
    status = Status.DRAFT


class LifecycleDashboardDeprecated(LintRule):
    id = "lifecycle.dashboard-deprecated"
    scope = Scope.NEIGHBOURS
    severity = Severity.WARNING
    summary = N_("a dashboard shows a deprecated metric")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for edge in ctx.edges_of(Relation.SHOWN_ON):
            m = ctx.nodes.get(edge.source)
            if isinstance(m, Metric) and m.status is Status.DEPRECATED:
                board = ctx.nodes.get(edge.target)
                yield self.issue(
                    ctx,
                    m.ref,
                    _(
                        "dashboard {board} shows deprecated metric {id!r}",
                        board=board.name if board else repr(edge.target.id),
                        id=m.id,
                    ),
                    _(
                        "replace it on the dashboard with its successor, then drop it from "
                        "'dashboards'"
                    ),
                    key="dashboards",
                    refs=[edge.target],
                )


RULES = (LifecycleDependsOnDeprecated(), LifecycleDependsOnDraft(), LifecycleDashboardDeprecated())
