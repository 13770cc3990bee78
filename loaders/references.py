"""References → edges: every metric's owner, fields, dimensions, dashboards, causes, parent and
formula/drivers resolved against a :class:`NameIndex` of the catalog (unknown ids reported with
the closest existing ones), and cycle checks of the formula and hierarchy relations."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from core.i18n import _
from graph_schema.errors import FormulaSyntaxError
from graph_schema.formula import parse_formula
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, FieldNode, Metric, Table
from graph_schema.relations import Relation
from loaders.suggest import closest, did_you_mean
from loaders.validate import CatalogState, Origin, kind_word, node_label
from loaders.yaml_lines import LDict, line_of


class NameLookup(Protocol):
    """What reference resolution asks of the catalog it resolves against: the whole catalog
    read from files (:class:`NameIndex`), or a published graph behind a store (a delta: one
    changed metric checked without reading the rest)."""

    def has(self, kind: NodeKind, node_id: str) -> bool: ...

    def excused(self, kind: NodeKind, node_id: str) -> bool: ...

    def suggest(self, kind: NodeKind, word: str) -> list[str]: ...

    def any_of(self, kind: NodeKind) -> bool:
        """Whether any node of ``kind`` exists (for the hint of an unknown reference)."""
        ...


@dataclass
class NameIndex:
    ids: dict[NodeKind, set[str]]
    #: the nodes the ids are of: their names (for suggestions) are indexed when first needed
    nodes: Mapping[NodeRef, BaseNode]
    unreadable: dict[NodeKind, set[str]] = field(default_factory=dict)
    unverifiable: set[NodeKind] = field(default_factory=set)
    _aliases: dict[NodeKind, dict[str, str]] | None = None

    def has(self, kind: NodeKind, node_id: str) -> bool:
        return node_id in self.ids[kind]

    def excused(self, kind: NodeKind, node_id: str) -> bool:
        """Declared where reading failed (already reported): not a further error."""
        return kind in self.unverifiable or node_id in self.unreadable.get(kind, ())

    def suggest(self, kind: NodeKind, word: str) -> list[str]:
        return closest(word, self.ids[kind], self.aliases[kind])

    def any_of(self, kind: NodeKind) -> bool:
        return bool(self.ids[kind])

    @property
    def aliases(self) -> dict[NodeKind, dict[str, str]]:
        """Each kind's names (lower case) → id: built only for a suggestion (an unknown
        reference), not on every read of a catalog that has none."""
        if self._aliases is None:
            aliases: dict[NodeKind, dict[str, str]] = {k: {} for k in NodeKind}
            for ref, node in self.nodes.items():
                names: list[str | None] = [node.name]
                if isinstance(node, Metric):
                    names += [node.name_en, node.abbr]
                if isinstance(node, FieldNode | Table):
                    names.append(ref.id.rsplit(".", 1)[-1])
                for alias in names:
                    if alias:
                        aliases[ref.kind].setdefault(alias.strip().lower(), ref.id)
            self._aliases = aliases
        return self._aliases


def build_index(state: CatalogState) -> NameIndex:
    ids: dict[NodeKind, set[str]] = {k: set() for k in NodeKind}
    for ref in state.nodes:
        ids[ref.kind].add(ref.id)
    return NameIndex(ids, state.nodes, state.unreadable, state.unverifiable)


def resolve_metric_references(state: CatalogState, index: NameLookup | None = None) -> None:
    """Every metric of ``state`` linked to what it refers to (edges added to ``state``), each
    unknown reference an issue with the closest existing ids. ``index``: what references are
    resolved against (default: the nodes of ``state`` itself)."""
    lookup: NameLookup = index if index is not None else build_index(state)
    metrics = [n for n in state.nodes.values() if isinstance(n, Metric)]
    for metric in metrics:
        ref = metric.ref
        origin = state.origins[ref]
        raw = state.raw[ref]

        def check(
            kind: NodeKind,
            target: str,
            loc: tuple[str | int, ...],
            what: str,
            *,
            _origin: Origin = origin,
            _raw: LDict = raw,
            _metric: Metric = metric,
        ) -> NodeRef | None:
            if lookup.has(kind, target):
                if kind is not NodeKind.METRIC or target != _metric.id or what == "formula":
                    return NodeRef(kind, target)
            elif lookup.excused(kind, target):
                return None
            line = line_of(_raw, loc) or _origin.line  # only for an error: no lookups otherwise
            if not lookup.has(kind, target):
                hint = did_you_mean(lookup.suggest(kind, target)) or _empty_hint(kind, lookup)
                state.issue(
                    _origin.file,
                    line,
                    _(
                        "{metric}: {key} refers to unknown {kind} {id}",
                        metric=node_label(NodeKind.METRIC, _metric.id),
                        key=what,
                        kind=kind_word(kind),
                        id=repr(target),
                    ),
                    hint,
                    field=what,
                )
                return None
            if kind is NodeKind.METRIC and target == _metric.id and what != "formula":
                state.issue(
                    _origin.file,
                    line,
                    _(
                        "{metric}: {key} refers to itself",
                        metric=node_label(NodeKind.METRIC, _metric.id),
                        key=what,
                    ),
                    field=what,
                )
                return None
            return NodeRef(kind, target)

        for attr, rel in (("owner", Relation.OWNS), ("reviewer", Relation.REVIEWS)):
            dept = getattr(metric, attr)
            if dept is not None:
                dref = check(NodeKind.DEPARTMENT, dept, (attr,), attr)
                if dref:
                    state.add_edge(dref, ref, rel)
        for i, fid in enumerate(metric.fields):
            fref = check(NodeKind.FIELD, fid, ("fields", i), "fields")
            if fref:
                state.add_edge(fref, ref, Relation.FEEDS)
        for i, did in enumerate(metric.dimensions):
            dref = check(NodeKind.DIMENSION, did, ("dimensions", i), "dimensions")
            if dref:
                state.add_edge(ref, dref, Relation.SLICED_BY)
        for i, bid in enumerate(metric.dashboards):
            bref = check(NodeKind.DASHBOARD, bid, ("dashboards", i), "dashboards")
            if bref:
                state.add_edge(ref, bref, Relation.SHOWN_ON)
        for i, cause in enumerate(metric.causes):
            cref = check(NodeKind.METRIC, cause.metric, ("causes", i, "metric"), "causes")
            if cref:
                props = cause.model_dump(exclude={"metric"}, exclude_none=True)
                state.add_edge(ref, cref, Relation.CAUSES, props)
        if metric.rolls_up_to:
            pref = check(NodeKind.METRIC, metric.rolls_up_to, ("rolls_up_to",), "rolls_up_to")
            if pref:
                state.add_edge(ref, pref, Relation.ROLLS_UP_TO)
        for i, pid in enumerate(metric.parallel):
            check(NodeKind.METRIC, pid, ("parallel", i), "parallel")
        for attr, rel in (("formula", Relation.INPUT_TO), ("drivers", Relation.DRIVES)):
            expr = getattr(metric, attr)
            if not expr:
                continue
            line = line_of(raw, (attr,)) or origin.line
            try:
                parsed = parse_formula(expr)
            except FormulaSyntaxError as exc:
                state.issue(
                    origin.file,
                    line,
                    _(
                        "{metric}: {key} syntax error: {reason} at column {column} in {expr}",
                        metric=node_label(NodeKind.METRIC, metric.id),
                        key=attr,
                        reason=exc.reason_in_words(),
                        column=exc.column,
                        expr=repr(expr),
                    ),
                    _("formulas use metric ids, numbers, + - * / and parentheses"),
                    field=attr,
                )
                continue
            roles = dict(parsed.inputs())
            bad = False
            for occ in parsed.references():
                if not lookup.has(NodeKind.METRIC, occ.name) and lookup.excused(
                    NodeKind.METRIC, occ.name
                ):
                    bad = True
                elif not lookup.has(NodeKind.METRIC, occ.name):
                    bad = True
                    hint = did_you_mean(lookup.suggest(NodeKind.METRIC, occ.name))
                    state.issue(
                        origin.file,
                        line,
                        _(
                            "{metric}: {key} refers to unknown metric {id} (column {column})",
                            metric=node_label(NodeKind.METRIC, metric.id),
                            key=attr,
                            id=repr(occ.name),
                            column=occ.column,
                        ),
                        hint or _("formulas refer to metrics by id"),
                        field=attr,
                    )
                elif attr == "drivers" and occ.name == metric.id:
                    bad = True
                    state.issue(
                        origin.file,
                        line,
                        _(
                            "{metric}: drivers refers to the metric itself",
                            metric=node_label(NodeKind.METRIC, metric.id),
                        ),
                        _("drivers is an identity over other metrics, e.g. 'visits * atp'"),
                        field="drivers",
                    )
            if bad:
                continue
            for name, role in roles.items():
                state.add_edge(NodeRef(NodeKind.METRIC, name), ref, rel, {"role": role.value})


def _empty_hint(kind: NodeKind, index: NameLookup) -> str:
    if not index.any_of(kind):
        where = {
            NodeKind.DEPARTMENT: "departments.yaml",
            NodeKind.DIMENSION: "dimensions.yaml",
            NodeKind.DASHBOARD: "dashboards.yaml",
            NodeKind.FIELD: "sources.yaml",
        }.get(kind) or _("the catalog")
        return _("no {kind} is defined; add it to {where}", kind=kind_word(kind), where=where)
    if kind is NodeKind.FIELD:
        return _("field ids are 'system.table.field' as declared in sources.yaml")
    return _("define it, or use an existing {kind} id", kind=kind_word(kind))


def acyclic(edges: Iterable[tuple[NodeRef, NodeRef]]) -> bool:
    """Whether the directed graph of ``edges`` has no cycle (Kahn's algorithm: what is left
    after peeling off every node nothing points to is on or behind a cycle).

    Examples
    --------
    >>> a, b, c = (NodeRef(NodeKind.METRIC, x) for x in "abc")
    >>> acyclic([(a, b), (b, c), (a, c)]), acyclic([(a, b), (b, a)]), acyclic([(c, c)])
    (True, False, False)
    """
    targets: dict[NodeRef, list[NodeRef]] = {}
    indegree: dict[NodeRef, int] = {}
    for source, target in edges:
        targets.setdefault(source, []).append(target)
        indegree[target] = indegree.get(target, 0) + 1
        indegree.setdefault(source, 0)
    ready = [node for node, n in indegree.items() if n == 0]
    peeled = 0
    while ready:
        node = ready.pop()
        peeled += 1
        for target in targets.get(node, ()):
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return peeled == len(indegree)


def cycle_issue(rel: Relation, path: list[str]) -> tuple[str, str]:
    """The message and the hint of a cycle of ``rel`` (formula or hierarchy) along ``path``,
    in the language in use."""
    steps = " → ".join(path)
    if rel is Relation.INPUT_TO:
        return (
            _("formula cycle: {path}", path=steps),
            _("a metric cannot depend on itself; break the cycle in one of these formulas"),
        )
    return (
        _("rolls_up_to hierarchy cycle: {path}", path=steps),
        _("a metric cannot roll up to itself; break the cycle in one of these rolls_up_to"),
    )


def check_cycles(state: CatalogState, rel: Relation) -> None:
    report_cycles(state, rel, [(s, t) for (s, t, r) in state.edges if r is rel])


def report_cycles(
    state: CatalogState,
    rel: Relation,
    pairs: list[tuple[NodeRef, NodeRef]],
    *,
    touching: Container[NodeRef] | None = None,
    origin_of: Callable[[NodeRef], tuple[str, int | None]] | None = None,
) -> None:
    """Note in ``state`` each cycle of the links ``pairs`` (of ``rel``), at the definition that
    closes it: its file:line in ``state``, else ``origin_of`` it (a definition outside a
    delta). ``touching``: only the cycles through one of those nodes."""
    if acyclic(pairs):  # the usual case, without importing networkx (~0.1 s of a load)
        return
    import networkx as nx  # a cycle: found and reported as before

    g: nx.DiGraph[NodeRef] = nx.DiGraph()
    g.add_edges_from(pairs)
    for component in nx.strongly_connected_components(g):
        members = sorted(component, key=str)
        if len(members) == 1 and not g.has_edge(members[0], members[0]):
            continue
        if touching is not None and not any(m in touching for m in members):
            continue
        cycle_edges = nx.find_cycle(g.subgraph(component), source=members[0])
        path = [e[0].id for e in cycle_edges] + [cycle_edges[0][0].id]
        first = cycle_edges[-1][1]
        attr = "formula" if rel is Relation.INPUT_TO else "rolls_up_to"
        if first in state.origins or origin_of is None:
            origin = state.origins[first]
            file, line = origin.file, line_of(state.raw[first], (attr,)) or origin.line
        else:
            file, line = origin_of(first)
        message, hint = cycle_issue(rel, path)
        state.issue(file, line, message, hint, field=attr)
