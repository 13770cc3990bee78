"""roles.*: the metric roles of seeds 001/002 — an L0 is the north star (北极星指标), and a
leading metric (先行指标, 预测未来) says what it leads (a CAUSES link)."""

from __future__ import annotations

from collections.abc import Iterable

from core.i18n import N_, _
from graph_schema.models import Horizon, Level, Role
from graph_schema.relations import Relation
from graph_schema.rules.base import LintContext, LintIssue, LintRule, Scope, Severity

#: the messages of this module, in one place (message ids: shown through ``_``)
MESSAGES = {
    "l0_role": N_("L0 metric {id!r} has role {role}, not north_star (the north-star metric)"),
    "l0_role_fix": N_("an L0 is the north star: set role: north_star, or move it to L1"),
    "leading": N_("leading metric {id!r} has no CAUSES link: what does it lead?"),
    "leading_fix": N_("add causes: [{{metric: <the metric it predicts>, polarity: '+'}}]"),
}


class RolesL0NorthStar(LintRule):
    """An L0 metric whose role is set to anything but ``north_star``. An L0 without a role is
    read as the north star (seed 001: "L0级指标(北极星指标)"), so it is not reported."""

    id = "roles.l0-north-star"
    scope = Scope.NODE
    severity = Severity.WARNING
    summary = N_("an L0 metric that is not the north star (role: north_star)")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for m in ctx.subjects():
            if m.level is not Level.L0 or m.role in (None, Role.NORTH_STAR):
                continue
            message = _(MESSAGES["l0_role"], id=m.id, role=m.role)
            yield self.issue(ctx, m.ref, message, _(MESSAGES["l0_role_fix"]), key="role")


class RolesLeadingWithoutCause(LintRule):
    """A leading metric with no outgoing CAUSES edge: a prediction of nothing."""

    id = "roles.leading-without-cause"
    scope = Scope.NEIGHBOURS
    severity = Severity.INFO
    summary = N_("a leading metric with no CAUSES link")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        leads = {e.source for e in ctx.edges_of(Relation.CAUSES)}
        for m in ctx.subjects():
            if m.horizon is Horizon.LEADING and m.ref not in leads:
                yield self.issue(
                    ctx,
                    m.ref,
                    _(MESSAGES["leading"], id=m.id),
                    _(MESSAGES["leading_fix"]).format(),
                    key="horizon",
                )


RULES = (RolesL0NorthStar(), RolesLeadingWithoutCause())
