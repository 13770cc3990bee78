"""card.*: which sections of the definition template (seed 001) each level must fill."""

from __future__ import annotations

from collections.abc import Iterable

from core.i18n import N_, _
from graph_schema.rules.base import (
    CARD_SECTIONS,
    LintContext,
    LintIssue,
    LintRule,
    Scope,
    Severity,
)


class CardIncomplete(LintRule):
    id = "card.incomplete"
    scope = Scope.NODE
    severity = Severity.WARNING
    summary = N_("a metric card misses sections its level requires (lint.card in kpigraph.yaml)")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for m in ctx.subjects():
            if m.level is None or m.status.value == "deprecated":
                continue
            wanted = ctx.config.card.get(m.level, [])
            missing = [s for s in wanted if s in CARD_SECTIONS and not CARD_SECTIONS[s](m)]
            if missing:
                yield self.issue(
                    ctx,
                    m.ref,
                    _(
                        "{level} metric {id!r} misses {sections}",
                        level=m.level.value,
                        id=m.id,
                        sections=_(", ").join(missing),
                    ),
                    _(
                        "fill in {sections} (a {level} card needs {wanted})",
                        sections=_(", ").join(missing),
                        level=m.level.value,
                        wanted=_(", ").join(wanted),
                    ),
                )


RULES = (CardIncomplete(),)
