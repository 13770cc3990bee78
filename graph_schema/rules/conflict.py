"""conflict.*: one concept, one definition (seed 001: five stores, five 客单价).

Each issue lists *all* members of a conflicting group, so a committee sees the whole set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from difflib import SequenceMatcher

from core.i18n import N_, _, percent
from graph_schema.models import Metric
from graph_schema.rules.base import LintContext, LintIssue, LintRule, Scope, Severity

_BRACKETS = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]")
#: near-equal text is compared pairwise among definitions with the same inputs, at most this many
MAX_GROUP = 200


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


def _base_name(text: str) -> str:
    """``客单价（A店口径）`` → ``客单价``."""
    if not any(c in text for c in "（(【["):
        return _norm(text)
    return _norm(_BRACKETS.sub("", text))


#: why two definitions are one (message ids)
EQUAL = {"formula": N_("equal formula"), "sql": N_("equal sql"), "caliber": N_("equal caliber")}
NEAR = {
    "formula": N_("near-equal formula ({alike} alike)"),
    "sql": N_("near-equal sql ({alike} alike)"),
}


def _groups(metrics: Iterable[Metric], key: Callable[[Metric], str | None]) -> list[list[Metric]]:
    by: dict[str, list[Metric]] = {}
    for m in metrics:
        k = key(m)
        if k:
            by.setdefault(k, []).append(m)
    return [g for g in by.values() if len(g) > 1]


class _SameKey(LintRule):
    attr: str
    what: str

    def value(self, m: Metric) -> str | None:
        raw = getattr(m, self.attr)
        return _norm(raw) if raw else None

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        for group in _groups(ctx.metrics(), self.value):
            yield self._report(ctx, group, _(self.what), self.severity)

    def _report(
        self, ctx: LintContext, group: list[Metric], how: str, severity: Severity
    ) -> LintIssue:
        first = group[0]
        members = _("; ").join(ctx.label(m.ref) for m in group)
        return self.issue(
            ctx,
            first.ref,
            _(
                "{n} metrics with {how} {value!r}: {members}",
                n=len(group),
                how=how,
                value=getattr(first, self.attr),
                members=members,
            ),
            _(
                "agree on one authoritative definition: keep one metric, deprecate or rename the "
                "others (a store-specific variant gets its own qualifier in the name)"
            ),
            key=self.attr,
            refs=[m.ref for m in group],
            severity=severity,
        )


class ConflictName(_SameKey):
    """Two metrics with the same name (error), or the same name once bracketed qualifiers such
    as （A店口径） are dropped (warning)."""

    id = "conflict.name"
    scope = Scope.NAMES
    severity = Severity.ERROR
    summary = N_("two metrics share a name (also ignoring bracketed qualifiers)")
    attr, what = "name", N_("the same name")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        metrics = list(ctx.metrics())
        exact = _groups(metrics, self.value)
        yield from (self._report(ctx, g, _("the same name"), self.severity) for g in exact)
        seen = {frozenset(m.id for m in g) for g in exact}
        for group in _groups(metrics, lambda m: _base_name(m.name)):
            if frozenset(m.id for m in group) in seen or len({_norm(m.name) for m in group}) < 2:
                continue
            yield self._report(ctx, group, _("the same base name"), Severity.WARNING)


class ConflictNameEn(_SameKey):
    id = "conflict.name-en"
    scope = Scope.NAMES
    severity = Severity.WARNING
    summary = N_("two metrics share an English name")
    attr, what = "name_en", N_("the same English name")


class ConflictAbbr(_SameKey):
    id = "conflict.abbr"
    scope = Scope.NAMES
    severity = Severity.WARNING
    summary = N_("two metrics share an abbreviation")
    attr, what = "abbr", N_("the same abbreviation")


def _definitions(m: Metric) -> dict[str, str]:
    out: dict[str, str] = {}
    if m.formula:
        out["formula"] = _norm(m.formula)
    if m.sql:
        out["sql"] = _norm(m.sql.rstrip("; \n"))
    if m.caliber is not None:
        # what is counted (numerator/denominator/scope); a shared time rule alone is no conflict
        body = m.caliber.model_dump(
            mode="json", include={"numerator", "denominator", "scope"}, exclude_none=True
        )
        if any(part.get("includes") or part.get("excludes") for part in body.values()):
            out["caliber"] = _norm(repr(sorted(body.items())))
    return out


class ConflictDefinition(LintRule):
    """Metrics under different names whose formula, SQL or caliber is equal or near-equal."""

    id = "conflict.definition"
    scope = Scope.NAMES
    severity = Severity.WARNING
    summary = N_("equal or near-equal formula / SQL / caliber under different names")

    def check(self, ctx: LintContext) -> Iterable[LintIssue]:
        metrics = [m for m in ctx.metrics() if m.status.value != "deprecated"]
        defs = {m.id: _definitions(m) for m in metrics}
        parent = {m.id: m.id for m in metrics}
        why: dict[frozenset[str], set[str]] = {}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def join(a: Metric, b: Metric, reason: str) -> None:
            if _norm(a.name) == _norm(b.name):
                return  # same name: conflict.name reports it
            parent[find(a.id)] = find(b.id)
            why.setdefault(frozenset((a.id, b.id)), set()).add(reason)

        for kind in ("formula", "sql", "caliber"):
            exact: dict[str, list[Metric]] = {}
            for m in metrics:
                if kind in defs[m.id]:
                    exact.setdefault(defs[m.id][kind], []).append(m)
            for group in exact.values():
                for other in group[1:]:
                    join(group[0], other, _(EQUAL[kind]))
        groups: dict[str, list[Metric]] = {}
        for m in metrics:
            groups.setdefault(find(m.id), []).append(m)
        for group in groups.values():
            if len(group) < 2:
                continue
            ids = {m.id for m in group}
            reasons = sorted({r for pair, rs in why.items() if pair <= ids for r in rs})
            yield self._report(ctx, group, _(", ").join(reasons))
        for a, b, reason in self._near_pairs(ctx, metrics, defs, find):
            yield self._report(ctx, [a, b], reason)

    def _near_pairs(
        self,
        ctx: LintContext,
        metrics: list[Metric],
        defs: dict[str, dict[str, str]],
        find: Callable[[str], str],
    ) -> Iterable[tuple[Metric, Metric, str]]:
        """Pairs that use the same inputs (the columns a SQL reads; the metrics a formula
        names) and whose text is at least ``similarity`` alike, not already equal. A breakdown
        (one rolls up to the other, or both to the same parent) differs by a filter on purpose
        and is left alone. Candidates are grouped by inputs first, so a catalog costs one SQL
        analysis per metric, not one text comparison per pair."""
        threshold = ctx.config.conflict.similarity
        if threshold >= 1.0:
            return
        for kind in ("sql", "formula"):
            having = [m for m in metrics if kind in defs[m.id]]
            if ctx.focus is not None:  # one metric against the rest: text first, inputs after
                focus = [m for m in having if m.ref == ctx.focus]
                candidates = [(f, m) for f in focus for m in having if m.ref != ctx.focus]
            else:
                candidates = []
                for group in _by_inputs(ctx, having, kind).values():
                    group = group[:MAX_GROUP]
                    candidates += [(a, b) for i, a in enumerate(group) for b in group[i + 1 :]]
            for a, b in candidates:
                x, y = defs[a.id][kind], defs[b.id][kind]
                if 2 * min(len(x), len(y)) < threshold * (len(x) + len(y)):
                    continue  # the best ratio two texts of these lengths can reach
                if x == y or find(a.id) == find(b.id) or _norm(a.name) == _norm(b.name):
                    continue
                if _breakdown(a, b):
                    continue
                matcher = SequenceMatcher(None, x, y, autojunk=False)
                if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                    continue
                ratio = matcher.ratio()
                if ratio < threshold or _inputs(ctx, a, kind) != _inputs(ctx, b, kind):
                    continue
                yield a, b, _(NEAR[kind], alike=percent(ratio, digits=0))

    def _report(self, ctx: LintContext, group: list[Metric], reasons: str) -> LintIssue:
        members = _("; ").join(ctx.label(m.ref) for m in group)
        return self.issue(
            ctx,
            group[0].ref,
            _(
                "{n} metrics under different names share a definition ({reasons}): {members}",
                n=len(group),
                reasons=reasons,
                members=members,
            ),
            _(
                "if they are one concept, keep one metric and deprecate the others; if not, "
                "make the difference explicit in their caliber"
            ),
            refs=[m.ref for m in group],
        )


def _breakdown(a: Metric, b: Metric) -> bool:
    """One rolls up to the other, or both to the same parent."""
    return (
        a.rolls_up_to == b.id
        or b.rolls_up_to == a.id
        or (a.rolls_up_to is not None and a.rolls_up_to == b.rolls_up_to)
    )


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _inputs(ctx: LintContext, m: Metric, kind: str) -> frozenset[str] | None:
    """What a definition is computed from: the columns its SQL reads (``None`` if the SQL
    cannot be analysed), or the metric ids its formula names."""
    if kind == "formula":
        return frozenset(_WORD.findall(m.formula or ""))
    found = ctx.sql(m)
    return None if found is None or found.error_kind or not found.fields else found.fields


def _by_inputs(
    ctx: LintContext, metrics: list[Metric], kind: str
) -> dict[frozenset[str], list[Metric]]:
    out: dict[frozenset[str], list[Metric]] = {}
    for m in metrics:
        key = _inputs(ctx, m, kind)
        if key:
            out.setdefault(key, []).append(m)
    return out


def index_keys(m: Metric) -> tuple[str, ...]:
    """What the conflict rules group ``m`` by: two metrics sharing none of these keys are never
    in one finding of theirs, so a delta lints a changed metric together with the metrics that
    share a key with it (transitively) and no others (:mod:`analysis.lint_delta`).

    >>> index_keys(Metric(id="atp", name="客单价（A店口径）", formula="revenue / visits"))
    ('name:客单价（a店口径）', 'base:客单价', 'formula:revenue/visits', 'inputs:revenue visits')
    """
    keys = [f"name:{_norm(m.name)}", f"base:{_base_name(m.name)}"]
    keys += [f"{attr}:{_norm(v)}" for attr in ("name_en", "abbr") if (v := getattr(m, attr))]
    if m.status.value != "deprecated":
        keys += [f"{kind}:{text}" for kind, text in _definitions(m).items()]
        if m.formula and (words := _inputs_words(m.formula)):
            keys.append("inputs:" + " ".join(sorted(words)))
    return tuple(keys)


#: a formula naming no metric (``100 * 2``): compared with every other such formula
NO_INPUTS = "inputs:"
#: what every metric with SQL is indexed by (a metric with SQL is linted beside all of them)
WITH_SQL = "has:sql"


def lookup_keys(m: Metric) -> frozenset[str]:
    """The keys the metrics in one conflict finding with ``m`` share with it:
    :func:`index_keys`, and :data:`NO_INPUTS` for a formula naming no metric. The metrics
    sharing one, transitively, are the name scope of ``m``'s lint (:mod:`analysis.lint_store`).

    >>> sorted(lookup_keys(Metric(id="k", name="常数", formula="100 * 2")))
    ['base:常数', 'formula:100*2', 'inputs:', 'name:常数']
    """
    keys = set(index_keys(m))
    if (
        m.formula
        and m.status.value != "deprecated"
        and not any(k.startswith(NO_INPUTS) for k in keys)
    ):
        keys.add(NO_INPUTS)
    return frozenset(keys)


def stored_keys(m: Metric) -> tuple[str, ...]:
    """What a store indexes ``m`` by (:meth:`store.base.GraphReader.metrics_keyed`):
    :func:`lookup_keys`, and :data:`WITH_SQL` for a metric with SQL.

    >>> stored_keys(Metric(id="s", name="营收", sql="SELECT 1"))
    ('base:营收', 'has:sql', 'name:营收', 'sql:select1')
    """
    keys = set(lookup_keys(m))
    if m.sql:
        keys.add(WITH_SQL)
    return tuple(sorted(keys))


def _inputs_words(formula: str) -> frozenset[str]:
    return frozenset(_WORD.findall(formula))


RULES = (ConflictName(), ConflictNameEn(), ConflictAbbr(), ConflictDefinition())
