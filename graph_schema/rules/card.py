"""card.*: which sections of the definition template (seed 001) each level must fill."""

from __future__ import annotations

from collections.abc import Iterable

from core.i18n import N_
from graph_schema.rules.base import CARD_SECTIONS, LintContext, LintIssue, LintRule, Severity


class CardIncomplete(LintRule):
    id = "card.incomplete"
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
                    f"{m.level.value} metric {m.id!r} misses {', '.join(missing)}",
                    f"fill in {', '.join(missing)} (a {m.level.value} card needs "
                    f"{', '.join(wanted)})",
                )


RULES = (CardIncomplete(),)
