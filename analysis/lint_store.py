"""Lint one proposed metric definition against a published graph by the rules' scopes
(issue #23): :func:`analysis.lint.lint_definition` runs over the part of the graph its rules
read, not over the whole stored catalog.

What is read (:class:`graph_schema.rules.base.Scope`):

- node and neighbour rules: the metric, every stored edge touching it and the nodes at their
  other ends, the nodes its new definition refers to and its ``atomic``;
- name rules (``conflict.*``): the metrics sharing a conflict key with it, transitively
  (:func:`graph_schema.rules.conflict.lookup_keys`) — found by keyed lookups of the store's
  conflict-key index (:meth:`store.base.GraphReader.metrics_keyed`), one per step of the
  closure, not a read of every metric;
- a metric with SQL: also every metric with SQL (the index's
  :data:`~graph_schema.rules.conflict.WITH_SQL` key) and the catalog's systems, tables and
  fields (what the SQL is checked against);
- the whole-graph rules (``orphans.*``) look only at the focus metric's links there.

The findings are those of :func:`~analysis.lint.lint_definition` over the whole stored graph
(an equivalence test compares them on random proposals, on both backends).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import suppress
from typing import Any

from analysis.lint import lint_definition
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from graph_schema.rules import DEFAULT_RULES
from graph_schema.rules.base import LintIssue, LintRule
from graph_schema.rules.conflict import WITH_SQL, lookup_keys
from store.base import GraphReader, SearchQuery, Walk

ALL = 10**9
_SOURCES = frozenset({NodeKind.SYSTEM, NodeKind.TABLE, NodeKind.FIELD})


def lint_in_store(
    reader: GraphReader,
    definition: Metric | Mapping[str, Any],
    *,
    rules: Iterable[LintRule] = DEFAULT_RULES,
) -> list[LintIssue]:
    """:func:`analysis.lint.lint_definition` of ``definition`` over the graph ``reader``
    reads, reading only what the rules' scopes need."""
    metric = definition if isinstance(definition, Metric) else Metric.model_validate(definition)
    return lint_definition(scoped_graph(reader, metric), metric, rules=rules)


def scoped_graph(reader: GraphReader, metric: Metric) -> CatalogGraph:
    """The part of the stored graph the lint of ``metric`` (put in place of the stored
    metric with its id) reads; nodes and edges in the order of the whole stored graph."""
    ref = metric.ref
    info = reader.info()
    edges = reader.edges_of([ref], Walk.UNDIRECTED, list(Relation))
    wanted: set[NodeRef] = {ref, *_referred(metric)}
    for e in edges:
        wanted |= {e.source, e.target}
    nodes: dict[NodeRef, BaseNode] = {m.ref: m for m in _closure(reader, metric)}
    if metric.sql:
        nodes.update({m.ref: m for m in reader.metrics_keyed([WITH_SQL]) if m.ref != ref})
        page = reader.search(SearchQuery(kinds=_SOURCES, limit=ALL))
        nodes.update({n.ref: n for n in page.items})
    nodes.update(reader.get_nodes([r for r in wanted if r not in nodes]))
    ordered = sorted(nodes.values(), key=lambda n: str(n.ref))
    return CatalogGraph(
        name=info.catalog or "catalog",
        nodes=tuple(ordered),
        edges=tuple(sorted(edges, key=Edge.sort_key)),
        meta=dict(info.meta),
    )


def _referred(metric: Metric) -> list[NodeRef]:
    """Everything the definition names (what exists is read; the rest is lint.unknown-ref)."""
    from graph_schema.errors import FormulaSyntaxError
    from graph_schema.formula import parse_formula

    refs = [NodeRef(NodeKind.DEPARTMENT, d) for d in (metric.owner, metric.reviewer) if d]
    refs += [NodeRef(NodeKind.FIELD, f) for f in metric.fields]
    refs += [NodeRef(NodeKind.DIMENSION, d) for d in metric.dimensions]
    refs += [NodeRef(NodeKind.DASHBOARD, b) for b in metric.dashboards]
    refs += [NodeRef(NodeKind.METRIC, c.metric) for c in metric.causes]
    refs += [NodeRef(NodeKind.METRIC, m) for m in (metric.rolls_up_to, metric.atomic) if m]
    for expr in (metric.formula, metric.drivers):
        if expr:
            with suppress(FormulaSyntaxError):
                refs += [NodeRef(NodeKind.METRIC, n) for n, _ in parse_formula(expr).inputs()]
    return refs


def _closure(reader: GraphReader, metric: Metric) -> list[Metric]:
    """The stored metrics (but ``metric``'s own) sharing a conflict key with ``metric``,
    transitively: one keyed lookup per step, with the keys the step found new."""
    keys = set(lookup_keys(metric))
    found: dict[NodeRef, Metric] = {}
    asked = keys
    while asked:
        fresh = [
            m for m in reader.metrics_keyed(asked) if m.ref != metric.ref and m.ref not in found
        ]
        found.update((m.ref, m) for m in fresh)
        asked = {k for m in fresh for k in lookup_keys(m)} - keys
        keys |= asked
    return list(found.values())
