"""Run the lint rules over a catalog, or over one proposed metric definition.

The runner builds a :class:`~graph_schema.rules.base.LintContext` (nodes, edges, where each
node is written, the catalog's ``lint:`` settings, what each metric's SQL reads), runs every
rule safely — a rule that crashes becomes a ``lint.rule-crashed`` issue, not a traceback —
and applies the configured severities.

Examples
--------
>>> report = lint_catalog("catalogs/automotive_aftersales")
>>> sorted(report.counts())
['error', 'info', 'warning']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.i18n import _
from graph_schema.errors import FormulaSyntaxError
from graph_schema.formula import parse_formula
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Edge, Metric, Table
from graph_schema.relations import Relation
from graph_schema.rules import DEFAULT_RULES, RULE_IDS
from graph_schema.rules.base import (
    LintConfig,
    LintContext,
    LintIssue,
    LintRule,
    Severity,
    SqlCheck,
)

MANIFEST = "kpigraph.yaml"


class KeyLines(Mapping[NodeRef, Mapping[str, int]]):
    """Node → line of each key, read from the YAML mappings as needed (no copy of them all)."""

    def __init__(self, raw: Mapping[NodeRef, Any]) -> None:
        self._raw = raw

    def __getitem__(self, ref: NodeRef) -> Mapping[str, int]:
        lines: Mapping[str, int] = self._raw[ref].key_lines
        return lines

    def __iter__(self) -> Iterator[NodeRef]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


@dataclass(frozen=True)
class LintReport:
    """Every issue found, most severe first."""

    issues: tuple[LintIssue, ...]

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for issue in self.issues:
            out[issue.severity.value] += 1
        return out

    @property
    def has_errors(self) -> bool:
        return any(i.severity is Severity.ERROR for i in self.issues)

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts(), "issues": [i.to_json() for i in self.issues]}


def parse_config(raw: Any) -> tuple[LintConfig, list[LintIssue]]:
    """``lint:`` of kpigraph.yaml → config, plus ``lint.config`` issues for what is wrong."""
    issues: list[LintIssue] = []

    def bad(message: str, fix: str) -> None:
        issues.append(LintIssue("lint.config", Severity.ERROR, message, MANIFEST, None, (), fix))

    if raw is None:
        return LintConfig(), issues
    if not isinstance(raw, Mapping):
        bad("'lint' must be a mapping", "write lint: {disable: [...], severity: {...}}")
        return LintConfig(), issues
    try:
        config = LintConfig.model_validate(dict(raw))
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            bad(f"lint.{where}: {err['msg']}", "see README 'kpigraph lint' for the lint settings")
        return LintConfig(), issues
    families = {r.split(".", 1)[0] for r in RULE_IDS}
    for name in [*config.disable, *config.severity]:
        if name not in RULE_IDS and name not in families:
            bad(f"lint: unknown rule {name!r}", "rule ids: " + ", ".join(RULE_IDS))
    for name, value in config.severity.items():
        if value not in ("error", "warning", "info", "off"):
            bad(f"lint.severity.{name}: {value!r}", "use error, warning, info or off")
    if issues:
        return LintConfig(), issues
    return config, issues


def run_rules(
    ctx: LintContext,
    rules: Iterable[LintRule] = DEFAULT_RULES,
    min_severity: Severity = Severity.INFO,
) -> list[LintIssue]:
    """Each rule safely, with the configured severities; disabled rules do not run, nor do
    rules whose (configured) severity is below ``min_severity`` (a load gate skips the
    info-only orphan rules)."""
    out: list[LintIssue] = []
    for rule in rules:
        if rule.mandatory:  # the SQL sandbox: no catalog setting turns it off or lowers it
            out += _run_one(rule, ctx)
            continue
        effective = ctx.config.severity_of(rule.id, rule.severity)
        if effective is None or effective.rank > min_severity.rank:
            continue
        try:
            found = list(rule.check(ctx))
        except Exception as exc:  # a broken rule must not hide the other rules' findings
            fix = _("report this bug; meanwhile add {rule} to lint.disable", rule=rule.id)
            out.append(_crashed(rule, exc, fix))
            continue
        for issue in found:
            sev = ctx.config.severity_of(rule.id, issue.severity)
            if sev is None:
                continue
            if rule.id in ctx.config.severity or rule.id.split(".")[0] in ctx.config.severity:
                issue = _with(issue, sev)
            out.append(issue)
    return out


def _run_one(rule: LintRule, ctx: LintContext) -> list[LintIssue]:
    try:
        return list(rule.check(ctx))
    except Exception as exc:  # a broken rule must not hide the other rules' findings
        return [_crashed(rule, exc, _("report this bug"))]


def _crashed(rule: LintRule, exc: Exception, fix: str) -> LintIssue:
    """The issue that stands for ``rule``, which raised ``exc``."""
    return LintIssue(
        "lint.rule-crashed",
        Severity.ERROR,
        _("rule {rule} crashed: {error}", rule=rule.id, error=f"{type(exc).__name__}: {exc}"),
        fix=fix,
    )


def _with(issue: LintIssue, severity: Severity) -> LintIssue:
    d = issue.to_json()
    d["severity"] = severity
    d["refs"] = tuple(d["refs"])
    return LintIssue(**d)


def lint_graph(
    graph: CatalogGraph,
    *,
    origins: Mapping[NodeRef, tuple[str, int | None]] | None = None,
    key_lines: Mapping[NodeRef, Mapping[str, int]] | None = None,
    rules: Iterable[LintRule] = DEFAULT_RULES,
    min_severity: Severity = Severity.INFO,
) -> LintReport:
    """Lint a loaded graph; the ``lint`` and ``dialect`` settings come from ``graph.meta``."""
    config, issues = parse_config(graph.meta.get("lint"))
    ctx = _context(graph.nodes, list(graph.edges), graph.meta, config, origins, key_lines)
    issues += run_rules(ctx, rules, min_severity)
    return LintReport(tuple(sorted(issues, key=LintIssue.sort_key)))


def _context(
    nodes: Iterable[Any],
    edges: list[Edge],
    meta: Mapping[str, Any],
    config: LintConfig,
    origins: Mapping[NodeRef, tuple[str, int | None]] | None,
    key_lines: Mapping[NodeRef, Mapping[str, int]] | None,
) -> LintContext:
    nodes = list(nodes)
    dialect = meta.get("dialect")
    if any(isinstance(n, Metric | Table) and n.sql for n in nodes):  # SQL, or views
        # sqlglot is imported only for a catalog that has SQL to check
        from analysis.lint_sql import sql_checks

        sql, views = sql_checks(
            nodes,
            dialect,
            config.severity_of("sql.unknown-table", Severity.ERROR) is Severity.ERROR,
        )
    else:
        sql, views = _no_sql, {}
    return LintContext(
        nodes={n.ref: n for n in nodes},
        edges=edges,
        config=config,
        origins=origins if isinstance(origins, dict) else dict(origins or {}),
        key_lines=key_lines if key_lines is not None else {},
        sql=sql,
        views=views,
        dialect=meta.get("dialect"),
        dialect_problem=_dialect_problem,
    )


def _no_sql(metric: Metric) -> SqlCheck | None:
    return None


def dialect_problem(name: str) -> str | None:
    """Why ``name`` is not a SQL dialect sqlglot knows (imported only when asked)."""
    from analysis.lint_sql import dialect_problem as problem

    return problem(name)


_dialect_problem = dialect_problem


def lint_catalog(path: str | Path, rules: Iterable[LintRule] = DEFAULT_RULES) -> LintReport:
    """Load the catalog at ``path`` (a :class:`CatalogError` if it does not load) and lint it."""
    from loaders.catalog import read_catalog

    source = read_catalog(path)
    key_lines = KeyLines(source.raw)
    return lint_graph(source.graph, origins=source.origins, key_lines=key_lines, rules=rules)


#: edges a metric's own definition makes: (relation, the metric is the edge's source?)
_OWN_EDGES = {
    Relation.OWNS: False,
    Relation.REVIEWS: False,
    Relation.FEEDS: False,
    Relation.INPUT_TO: False,
    Relation.DRIVES: False,
    Relation.SLICED_BY: True,
    Relation.SHOWN_ON: True,
    Relation.CAUSES: True,
    Relation.ROLLS_UP_TO: True,
}


def lint_definition(
    graph: CatalogGraph,
    definition: Metric | Mapping[str, Any],
    *,
    rules: Iterable[LintRule] = DEFAULT_RULES,
) -> list[LintIssue]:
    """Lint one proposed metric definition (new, or replacing the metric with its id) in the
    context of ``graph``; returns the issues that concern it, most severe first.

    ``definition`` is a :class:`Metric` or the mapping a metric YAML file holds (a pydantic
    ``ValidationError`` if it is not a valid metric). References the graph cannot resolve are
    ``lint.unknown-ref`` errors. Issues carry no file/line (the definition is not in a file).

    >>> from loaders.catalog import load_catalog
    >>> g = load_catalog("catalogs/automotive_aftersales")
    >>> [i.rule for i in lint_definition(g, {"id": "atp2", "name": "客单价", "level": "L1",
    ...     "formula": "revenue / visits", "rolls_up_to": "revenue"})][:2]
    ['conflict.name', 'card.incomplete']
    """
    metric = definition if isinstance(definition, Metric) else Metric.model_validate(definition)
    ref = metric.ref
    nodes = {n.ref: n for n in graph.nodes}
    nodes[ref] = metric
    edges = [
        e
        for e in graph.edges
        if not (e.type in _OWN_EDGES and (e.source if _OWN_EDGES[e.type] else e.target) == ref)
    ]
    issues: list[LintIssue] = []
    edges += _definition_edges(metric, nodes, issues)
    config, _config_issues = parse_config(graph.meta.get("lint"))
    ctx = _context(nodes.values(), edges, graph.meta, config, None, None)
    ctx.focus = ref
    mine = str(ref)
    issues += [i for i in run_rules(ctx, rules) if mine in i.refs or not i.refs]
    return sorted(issues, key=LintIssue.sort_key)


def _definition_edges(
    metric: Metric, nodes: Mapping[NodeRef, Any], issues: list[LintIssue]
) -> list[Edge]:
    ref = metric.ref
    out: list[Edge] = []

    def link(kind: NodeKind, target_id: str, rel: Relation, outgoing: bool, **props: Any) -> None:
        target = NodeRef(kind, target_id)
        if target not in nodes:
            issues.append(
                LintIssue(
                    "lint.unknown-ref",
                    Severity.ERROR,
                    _(
                        "metric {id!r}: {relation} refers to unknown {kind} {target!r}",
                        id=metric.id,
                        relation=rel.value,
                        kind=kind.value.lower(),
                        target=target_id,
                    ),
                    refs=(str(ref),),
                    fix=_("use an existing {kind} id", kind=kind.value.lower()),
                )
            )
            return
        src, dst = (ref, target) if outgoing else (target, ref)
        out.append(Edge(source=src, target=dst, type=rel, props=props))

    if metric.owner:
        link(NodeKind.DEPARTMENT, metric.owner, Relation.OWNS, False)
    if metric.reviewer:
        link(NodeKind.DEPARTMENT, metric.reviewer, Relation.REVIEWS, False)
    for fid in metric.fields:
        link(NodeKind.FIELD, fid, Relation.FEEDS, False)
    for did in metric.dimensions:
        link(NodeKind.DIMENSION, did, Relation.SLICED_BY, True)
    for bid in metric.dashboards:
        link(NodeKind.DASHBOARD, bid, Relation.SHOWN_ON, True)
    for cause in metric.causes:
        link(NodeKind.METRIC, cause.metric, Relation.CAUSES, True)
    if metric.rolls_up_to:
        link(NodeKind.METRIC, metric.rolls_up_to, Relation.ROLLS_UP_TO, True)
    for attr, rel in (("formula", Relation.INPUT_TO), ("drivers", Relation.DRIVES)):
        expr = getattr(metric, attr)
        if not expr:
            continue
        try:
            inputs = parse_formula(expr).inputs()
        except FormulaSyntaxError as exc:
            issues.append(
                LintIssue(
                    "lint.unknown-ref",
                    Severity.ERROR,
                    _(
                        "metric {id!r}: {attr} does not parse: {why}",
                        id=metric.id,
                        attr=attr,
                        why=exc.reason_in_words(),
                    ),
                    refs=(str(ref),),
                    fix=_("formulas use metric ids, numbers, + - * / and parentheses"),
                )
            )
            continue
        for name, role in inputs:
            link(NodeKind.METRIC, name, rel, False, role=role.value)
    return out


def crash(exc: BaseException) -> str:
    """``TypeError: …``: what a crashed rule raised."""
    return f"{type(exc).__name__}: {exc}"
