"""Impact of changing a metric, a field, a table or a system: what breaks, whom to tell, and why.

Two kinds of reach are kept apart (issue #13, "impact that says why"):

* **definition** — along FEEDS, HAS_FIELD, HAS_TABLE, INPUT_TO and SHOWN_ON only: what is
  reached is *recomputed* when the root changes;
* **influence** — reached only when DRIVES, CAUSES or ROLLS_UP_TO are followed too: what is
  reached may be *read differently* (a driver tree, a causal chain, a hierarchy).

A node reachable by definition relations alone is ``via: definition``, whatever else also
reaches it. Each affected node carries ``path``: a shortest route of its class from the root.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from analysis.resolve import not_found
from analysis.results import ImpactDashboard, ImpactDepartment, ImpactMetric, ImpactReport, Via
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.relations import DEFINITION_RELATIONS, LINEAGE_RELATIONS, Relation
from store.base import GraphReader, Walk


def impact(
    store: GraphReader, root: NodeRef, relations: Iterable[Relation] | None = None
) -> ImpactReport:
    """Everything downstream of ``root`` at any depth, split into definition and influence.

    ``relations`` limits the walk (default: every lineage relation). Departments are those
    that own or review the root or any affected metric. ``touches_l0`` is true when an L0
    metric other than the root is reached *via definition*; ``influences_l0`` when one is
    reached via influence only. A table's impact includes its fields' (and a system's its
    tables'), because containment edges are definition edges. Definition entries come first,
    each group ordered by depth, then ref.

    Examples
    --------
    >>> from tests.helpers import demo_store
    >>> report = impact(demo_store(), NodeRef.parse("atp"))
    >>> [(m.ref, m.via.value) for m in report.metrics][:1]
    [('Metric:revenue', 'influence')]
    >>> report.metrics[0].path
    ['Metric:atp', 'Metric:revenue']
    >>> report.touches_l0, report.influences_l0
    (False, True)
    """
    rels = frozenset(relations) if relations else LINEAGE_RELATIONS
    def_rels = rels & DEFINITION_RELATIONS
    by_def = store.traverse(root, Walk.FORWARD, def_rels, None) if def_rels else {}
    by_any = store.traverse(root, Walk.FORWARD, rels, None) if rels != def_rels else by_def
    labels = store.labels([root, *by_any])
    if root not in labels:
        raise not_found(store, root)
    def_paths = _shortest_paths(store, root, by_def, def_rels)
    infl = {ref: d for ref, d in by_any.items() if ref not in by_def}
    infl_paths = _shortest_paths(store, root, {**by_any}, rels, only=set(infl)) if infl else {}
    metrics: list[ImpactMetric] = []
    dashboards: list[ImpactDashboard] = []
    for via, reached, paths in (
        (Via.DEFINITION, by_def, def_paths),
        (Via.INFLUENCE, infl, infl_paths),
    ):
        for ref, depth in sorted(reached.items(), key=lambda item: (item[1], str(item[0]))):
            label = labels[ref]
            path = [str(r) for r in paths.get(ref, [])]
            if ref.kind is NodeKind.METRIC:
                metrics.append(
                    ImpactMetric(
                        ref=str(ref),
                        name=label.name,
                        level=label.level,
                        depth=depth,
                        via=via,
                        path=path,
                    )
                )
            elif ref.kind is NodeKind.DASHBOARD:
                dashboards.append(
                    ImpactDashboard(ref=str(ref), name=label.name, depth=depth, via=via, path=path)
                )
    return ImpactReport(
        root=str(root),
        metrics=metrics,
        dashboards=dashboards,
        departments=departments_of(store, [root, *(NodeRef.parse(m.ref) for m in metrics)]),
        touches_l0=any(m.level == "L0" and m.via is Via.DEFINITION for m in metrics),
        influences_l0=any(m.level == "L0" and m.via is Via.INFLUENCE for m in metrics),
    )


def departments_of(store: GraphReader, refs: Iterable[NodeRef]) -> list[ImpactDepartment]:
    """The departments owning or reviewing any of the metrics among ``refs``."""
    concerned = [r for r in refs if r.kind is NodeKind.METRIC]
    owns: dict[NodeRef, set[str]] = defaultdict(set)
    reviews: dict[NodeRef, set[str]] = defaultdict(set)
    for edge in store.edges_of(concerned, Walk.BACKWARD, [Relation.OWNS, Relation.REVIEWS]):
        bucket = owns if edge.type is Relation.OWNS else reviews
        bucket[edge.source].add(str(edge.target))
    dept_refs = sorted(set(owns) | set(reviews), key=str)
    dept_names = store.labels(dept_refs)
    return [
        ImpactDepartment(
            ref=str(d),
            name=dept_names[d].name,
            owns=sorted(owns.get(d, set())),
            reviews=sorted(reviews.get(d, set())),
        )
        for d in dept_refs
    ]


def _shortest_paths(
    store: GraphReader,
    root: NodeRef,
    depths: dict[NodeRef, int],
    relations: frozenset[Relation],
    only: set[NodeRef] | None = None,
) -> dict[NodeRef, list[NodeRef]]:
    """A shortest path from ``root`` to each reached node (to those in ``only``, if given),
    rebuilt from breadth-first ``depths``: each node's predecessor is the smallest ref one hop
    nearer with an edge to it — deterministic, so both backends give the same paths."""
    if not depths or not relations:
        return {}
    hop = {root: 0, **depths}
    parent: dict[NodeRef, NodeRef] = {}
    for edge in store.edges_among(list(hop), relations):
        s, t = edge.source, edge.target
        if t in depths and hop.get(s) == hop[t] - 1:
            best = parent.get(t)
            if best is None or str(s) < str(best):
                parent[t] = s
    out: dict[NodeRef, list[NodeRef]] = {}
    for ref in only if only is not None else depths:
        path = [ref]
        while path[-1] != root and path[-1] in parent:
            path.append(parent[path[-1]])
        out[ref] = path[::-1]
    return out
