"""Lint rules: one class per rule, one module per family, and the default set.

``DEFAULT_RULES`` is one explicit tuple a caller may replace (the dbt-semantic-interfaces
pattern). The runner is :mod:`analysis.lint`.
"""

from __future__ import annotations

from graph_schema.rules import (
    card,
    conflict,
    levels,
    lifecycle,
    naming,
    orphans,
    roles,
    sql_fields,
)
from graph_schema.rules.base import (
    LintConfig,
    LintContext,
    LintIssue,
    LintRule,
    Scope,
    Severity,
    SqlCheck,
)

DEFAULT_RULES: tuple[LintRule, ...] = (
    *conflict.RULES,
    *naming.RULES,
    *levels.RULES,
    *roles.RULES,
    *lifecycle.RULES,
    *orphans.RULES,
    *card.RULES,
    *sql_fields.RULES,
)

#: ids the runner itself reports
RUNNER_RULE_IDS = ("lint.rule-crashed", "lint.config", "lint.unknown-ref")

RULE_IDS: tuple[str, ...] = (*(r.id for r in DEFAULT_RULES), *RUNNER_RULE_IDS)

__all__ = [
    "DEFAULT_RULES",
    "RULE_IDS",
    "LintConfig",
    "LintContext",
    "LintIssue",
    "LintRule",
    "Scope",
    "Severity",
    "SqlCheck",
]
