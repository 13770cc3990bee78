"""Lint by scope: a delta lints the changed metrics and what each rule's scope says (#23).

Each rule declares what it reads (:class:`graph_schema.rules.base.Scope`). For a delta read by
:mod:`loaders.partial` the findings of the last load are kept, except those that name a
metric the delta touched (added, changed, removed, moved in its file, or using a touched metric
as its ``atomic``); those are found again over a small context:

- node rules: the touched metrics themselves;
- neighbour rules: the touched metrics with every formula / hierarchy link into or out of them
  (from the load index) and what their own definitions link to (dashboards, causes, atomic);
- name rules (``conflict.*``): the touched metrics with every metric sharing one of the
  conflict keys with them, transitively (:func:`graph_schema.rules.conflict.index_keys`) —
  findings naming any of those are found again;
- a rule of the whole graph (``orphans.*``, when a catalog turns them up to the gate), a
  touched metric with SQL, or a context too large: :class:`FullLint` (the caller lints the whole
  catalog). The findings are the same as a full lint's (a property test compares them).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from pathlib import Path

from analysis.lint import LintReport, parse_config, run_rules
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from graph_schema.rules import DEFAULT_RULES, RUNNER_RULE_IDS, Scope
from graph_schema.rules.base import LintContext, LintIssue, LintRule, Severity
from loaders.catalog_cache import FileCache, FileEntry
from loaders.partial import ATOMIC, FILE, KEYS, LINKS, MetricFacts, PartialRead, Placed, placed
from loaders.validate import make_edge

#: a name-rule context past this many metrics is linted whole
MAX_CLOSURE = 2000


class FullLint(Exception):
    """The delta cannot be linted alone; the reason is said in the load's output."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def lint_partial(
    part: PartialRead,
    old_facts: Mapping[str, MetricFacts],
    old_findings: Iterable[LintIssue],
    keys: Mapping[str, str],
    cache: FileCache,
    min_severity: Severity = Severity.WARNING,
) -> LintReport:
    """The findings a full lint (at ``min_severity``) of the catalog after ``part`` gives.

    Raises
    ------
    FullLint
        See the module.
    """
    from core.i18n import _

    old_findings = tuple(old_findings)
    config, problems = parse_config(part.meta.get("lint"))
    if problems or any(i.rule in RUNNER_RULE_IDS for i in old_findings):
        raise FullLint(_("the lint settings have problems"))
    rules = [r for r in DEFAULT_RULES if _runs(r, config, min_severity)]
    whole = [r.id for r in rules if r.scope is Scope.GRAPH]
    if whole:
        raise FullLint(_("lint rule {rule} reads the whole graph", rule=whole[0]))
    touched = set(part.changed) | part.moved | part.removed
    ids = {r.id for r in touched}
    users = {
        NodeRef(NodeKind.METRIC, mid)
        for facts in (old_facts, part.facts)
        for mid, f in facts.items()
        if f[ATOMIC] in ids
    }
    touched |= {u for u in users if u.id in part.facts}
    if any(isinstance(n, Metric) and n.sql for r, n in part.state.nodes.items() if r in touched):
        raise FullLint(_("a changed metric has SQL"))
    names = _closure(touched, old_facts, part.facts)
    if len(names) > MAX_CLOSURE:
        raise FullLint(_("the change touches too many metrics"))
    nodes = _Nodes(part, keys, cache)
    alive = {r for r in touched if r.id in part.facts}
    edges = _edges(part, alive, nodes)
    wanted = set(alive) | set(names)
    for e in edges:
        wanted |= {e.source, e.target}
    for ref in list(wanted):
        node = nodes.get(ref) if ref.kind is NodeKind.METRIC else None
        if isinstance(node, Metric) and node.atomic:
            wanted.add(NodeRef(NodeKind.METRIC, node.atomic))
    context = nodes.context(wanted, edges, config, part.meta.get("dialect"))
    if any(isinstance(n, Metric) and n.sql for r, n in context.nodes.items() if r in names):
        raise FullLint(_("a changed metric has SQL"))
    found = run_rules(context, rules, min_severity)
    if any(i.rule in RUNNER_RULE_IDS for i in found):
        raise FullLint(_("a lint rule crashed"))
    scope = {r.id: r.scope for r in DEFAULT_RULES}
    near = {str(r) for r in touched}
    by_name = {str(r) for r in names}

    def mine(issue: LintIssue) -> bool:
        within = by_name if scope.get(issue.rule) is Scope.NAMES else near
        return not within.isdisjoint(issue.refs)

    issues = [i for i in old_findings if not mine(i)] + [i for i in found if mine(i)]
    return LintReport(tuple(sorted(issues, key=LintIssue.sort_key)))


def _runs(rule: LintRule, config: object, min_severity: Severity) -> bool:
    """Whether :func:`analysis.lint.run_rules` runs ``rule`` at ``min_severity``."""
    if rule.mandatory:
        return True
    effective = config.severity_of(rule.id, rule.severity)  # type: ignore[attr-defined]
    return effective is not None and effective.rank <= min_severity.rank


def _closure(
    touched: set[NodeRef], old: Mapping[str, MetricFacts], new: Mapping[str, MetricFacts]
) -> set[NodeRef]:
    """The touched metrics and every metric sharing a conflict key with them, transitively
    (one scan of the index per step; a step or two in practice)."""
    seen = {r.id for r in touched if r.kind is NodeKind.METRIC}
    keys = {k for mid in seen for facts in (old, new) if mid in facts for k in facts[mid][KEYS]}
    while len(seen) <= MAX_CLOSURE:
        added = [m for m, f in new.items() if m not in seen and not keys.isdisjoint(f[KEYS])]
        if not added:
            break
        for mid in added:
            seen.add(mid)
            keys.update(new[mid][KEYS])
    return {NodeRef(NodeKind.METRIC, mid) for mid in seen if mid in new}


def _edges(part: PartialRead, alive: set[NodeRef], nodes: _Nodes) -> list[Edge]:
    """Every edge the neighbour rules read around the metrics ``alive``: those their own
    definitions make and every formula / hierarchy link into them."""
    own = [e for e in part.state.edges.values()]
    made = {r for r in alive if r in part.changed or r in part.moved}
    outside = [r for r in alive if r not in made]
    if outside:  # atomic users in unchanged files: their definitions resolved here
        own += nodes.resolved(outside, part.ids)
    ids = {r.id for r in alive}  # alive holds metrics only (see lint_partial)
    for mid, f in part.facts.items():
        links = f[LINKS]
        if not links or mid in ids:
            continue
        for rel, source, target in links:
            if source in ids or target in ids:
                own.append(
                    make_edge(
                        NodeRef(NodeKind.METRIC, source),
                        NodeRef(NodeKind.METRIC, target),
                        Relation(rel),
                        {},
                    )
                )
    keep = {Relation.INPUT_TO, Relation.ROLLS_UP_TO, Relation.SHOWN_ON, Relation.CAUSES}
    return [e for e in own if e.type in keep]


class _Nodes:
    """Nodes by ref: the changed files' from the partial read, the others from the cache's
    entries of their files (each file unpickled at most once)."""

    def __init__(self, part: PartialRead, keys: Mapping[str, str], cache: FileCache) -> None:
        self.part = part
        self.keys = keys
        self.cache = cache
        self.loaded: dict[str, FileEntry] = {}
        self.positions: dict[str, dict[str, int]] = {}

    def file_of(self, ref: NodeRef) -> str | None:
        """The file declaring ``ref``: a metric's from the index; others (dashboards) from the
        section files' lists of refs (never the large metric or sources files)."""
        if ref.kind is NodeKind.METRIC:
            facts = self.part.facts.get(ref.id)
            return facts[FILE] if facts is not None else None
        wanted = str(ref)
        for rel, refs in self.part.refs.items():
            if "/" not in rel and wanted in refs:
                return rel
        return None

    def order(self, ref: NodeRef) -> tuple[tuple[str, ...], int]:
        """Where a whole read meets ``ref``: its file, then its place in the file."""
        rel = self.file_of(ref)
        if rel is None:
            return ((), 0)
        if rel not in self.positions:
            self.positions[rel] = {r: i for i, r in enumerate(self.part.refs.get(rel, ()))}
        return (Path(rel).parts, self.positions[rel].get(str(ref), 0))

    def placed(self, ref: NodeRef) -> Placed | None:
        if ref in self.part.state.nodes:
            return placed(self.part.state, ref)
        rel = self.file_of(ref)
        if rel is None:
            return None
        entry = self.loaded.get(rel)
        if entry is None:
            key = self.keys.get(rel)
            # only the chunks holding the nodes asked for are unpickled (FileEntry.find)
            entry = self.cache.get(key, lazy=True) if key else None
            if entry is None:
                raise FullLint(_gone(rel))
            self.loaded[rel] = entry
        try:
            found = entry.find(str(ref))
        except Exception as exc:  # a damaged chunk: lint the whole catalog
            raise FullLint(_gone(rel)) from exc
        if found is None:
            return None
        node, line, raw = found
        return Placed(node, rel, line, raw)

    def get(self, ref: NodeRef) -> BaseNode | None:
        found = self.placed(ref)
        return found.node if found is not None else None

    def resolved(self, refs: list[NodeRef], ids: Container[str]) -> list[Edge]:
        from loaders.partial import resolve_placed

        return resolve_placed([p for r in refs if (p := self.placed(r)) is not None], ids)

    def context(
        self, refs: set[NodeRef], edges: list[Edge], config: object, dialect: object
    ) -> LintContext:
        from analysis.lint import dialect_problem

        found = {r: p for r in refs if r.kind in _KINDS and (p := self.placed(r)) is not None}
        ordered = sorted(found, key=self.order)
        return LintContext(
            nodes={r: found[r].node for r in ordered},
            edges=edges,
            config=config,  # type: ignore[arg-type]
            origins={r: (found[r].file, found[r].line) for r in ordered},
            key_lines={r: found[r].raw.key_lines for r in ordered},
            dialect=dialect if isinstance(dialect, str) else None,
            dialect_problem=dialect_problem,
        )


def _gone(rel: str) -> str:
    from core.i18n import _

    return _("the per-file cache no longer holds {file}", file=rel)


_KINDS = frozenset({NodeKind.METRIC, NodeKind.DASHBOARD})
