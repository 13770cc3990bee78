"""naming.*: 原子指标 + 业务限定 + 统计维度 (seed 000: "将规则集成到平台内").

A metric may declare ``atomic`` (an atomic metric: a term of ``lint.naming.atomic`` in
kpigraph.yaml, or the id of another metric), ``qualifiers`` (业务限定, e.g. [新增, 线上]) and
``window`` (统计周期/维度, e.g. 近30天). Its name must then read as the catalog's pattern,
``{window}{qualifiers}{atomic}`` unless configured, e.g. 近30天 + 新增 + 订单数 = 近30天新增订单数.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.i18n import N_, _
from graph_schema.models import Metric
from graph_schema.rules.base import LintContext, LintIssue, LintRule, Scope, Severity


def _atomic_name(ctx: LintContext, m: Metric) -> str | None:
    """The atomic term a metric names: a declared term, or the name of a metric id."""
    if m.atomic is None:
        return None
    if m.atomic in ctx.config.naming.atomic:
        return m.atomic
    target = ctx.metric(m.atomic)
    return target.name if target is not None else None


def expected_name(ctx: LintContext, m: Metric) -> str | None:
    """The name the catalog's pattern composes for ``m`` (``None`` without ``atomic``)."""
    atomic = _atomic_name(ctx, m)
    if atomic is None:
        return None
    naming = ctx.config.naming
    return naming.pattern.format(
        window=m.window or "", qualifiers=naming.joiner.join(m.qualifiers), atomic=atomic
    ).strip()


class NamingAtomicUnknown(LintRule):
    id = "naming.atomic-unknown"
    scope = Scope.NEIGHBOURS
    severity = Severity.ERROR
    summary = N_("'atomic' names neither a declared atomic metric nor a metric id")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        declared = ctx.config.naming.atomic
        for m in ctx.subjects():
            if m.atomic is not None and _atomic_name(ctx, m) is None:
                listed = _(", ").join(declared[:12]) if declared else _("none declared")
                yield self.issue(
                    ctx,
                    m.ref,
                    _(
                        "metric {id!r}: atomic {atomic!r} is not a declared atomic metric "
                        "({listed}) nor a metric id",
                        id=m.id,
                        atomic=m.atomic,
                        listed=listed,
                    ),
                    _("add it to lint.naming.atomic in kpigraph.yaml, or use an existing one"),
                    key="atomic",
                )


class NamingPattern(LintRule):
    id = "naming.pattern"
    scope = Scope.NEIGHBOURS
    severity = Severity.WARNING
    summary = N_("the name is not composed from atomic + qualifiers + window per the pattern")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for m in ctx.subjects():
            expected = expected_name(ctx, m)
            if expected is not None and m.name != expected:
                yield self.issue(
                    ctx,
                    m.ref,
                    _(
                        "metric {id!r}: name {name!r} does not follow the naming pattern "
                        "{pattern!r}, which gives {expected!r}",
                        id=m.id,
                        name=m.name,
                        pattern=ctx.config.naming.pattern,
                        expected=expected,
                    ),
                    _(
                        "rename it to {expected!r}, or correct atomic/qualifiers/window",
                        expected=expected,
                    ),
                    key="name",
                )


class NamingUncomposed(LintRule):
    """With a declared list of atomic metrics, every name is an atomic metric or composed
    from one (so ``随便一个名字`` does not pass). A metric with a formula is a composite
    (复合指标, e.g. a rate of two others) and is named freely."""

    id = "naming.uncomposed"
    scope = Scope.NODE
    severity = Severity.WARNING
    summary = N_("a name that is neither an atomic metric nor declares how it is composed")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        atomic = ctx.config.naming.atomic
        if not atomic:
            return
        for m in ctx.subjects():
            if m.atomic is not None or m.name in atomic or m.formula:
                continue
            within = [a for a in atomic if a in m.name]
            if within:
                best = max(within, key=len)
                prefix = m.name.replace(best, "", 1)
                fix = _(
                    "declare atomic: {best} (with qualifiers/window for {prefix!r})",
                    best=best,
                    prefix=prefix,
                )
            else:
                fix = _("add its atomic metric to lint.naming.atomic, or rename it")
            yield self.issue(
                ctx,
                m.ref,
                _(
                    "metric {id!r}: name {name!r} is not a declared atomic metric and does not "
                    "declare 'atomic' (atomic metric + qualifiers + window)",
                    id=m.id,
                    name=m.name,
                ),
                fix,
                key="name",
            )


RULES = (NamingAtomicUnknown(), NamingPattern(), NamingUncomposed())
