"""levels.*: the L0–L3 hierarchy (L0 north star at the top) and what an L0 must carry."""

from __future__ import annotations

from collections.abc import Iterable

from core.i18n import N_, _
from graph_schema.models import Metric
from graph_schema.relations import Relation
from graph_schema.rules.base import LintContext, LintIssue, LintRule, Scope, Severity


def _rank(m: Metric) -> int | None:
    return int(m.level.value[1:]) if m.level is not None else None


class LevelsRollupLower(LintRule):
    """``rolls_up_to`` must point up the hierarchy: an L2 under an L1 or L0, never under an L3."""

    id = "levels.rollup-lower"
    scope = Scope.NEIGHBOURS
    severity = Severity.ERROR
    summary = N_("a metric rolls up to a metric of a lower level")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for edge in ctx.edges_of(Relation.ROLLS_UP_TO):
            if ctx.focus is not None and ctx.focus not in (edge.source, edge.target):
                continue
            child, parent = ctx.nodes.get(edge.source), ctx.nodes.get(edge.target)
            if not isinstance(child, Metric) or not isinstance(parent, Metric):
                continue
            c, p = _rank(child), _rank(parent)
            if c is None or p is None or p < c:
                continue
            how = _("the same level") if p == c else _("a lower level")
            yield self.issue(
                ctx,
                child.ref,
                _(
                    "metric {id!r} ({level}) rolls up to {parent!r} ({parent_level}), {how}",
                    id=child.id,
                    level=child.level,
                    parent=parent.id,
                    parent_level=parent.level,
                    how=how,
                ),
                _("roll up to a higher-level metric (L0 is the top), or correct the levels"),
                key="rolls_up_to",
                refs=[parent.ref],
                severity=self.severity if p > c else Severity.INFO,
            )


class LevelsL0Governance(LintRule):
    """A warning by default (the card is incomplete, the graph is sound); catalogs that want
    it to block a load set ``lint: {severity: {levels.l0-governance: error}}``."""

    id = "levels.l0-governance"
    scope = Scope.NODE
    severity = Severity.WARNING
    summary = N_("an L0 (north-star) metric needs an owner, a reviewer and a version")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for m in ctx.subjects():
            if m.level is None or m.level.value != "L0":
                continue
            missing = [k for k in ("owner", "reviewer", "version") if not getattr(m, k)]
            if missing:
                yield self.issue(
                    ctx,
                    m.ref,
                    _("L0 metric {id!r} has no {keys}", id=m.id, keys=_(", ").join(missing)),
                    _(
                        "an L0 metric is governed: add {keys}",
                        keys=", ".join(f"{k}:" for k in missing),
                    ),
                    key="level",
                )


RULES = (LevelsRollupLower(), LevelsL0Governance())
