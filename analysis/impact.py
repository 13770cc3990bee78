"""Impact of changing a metric, a field, a table or a system: what breaks, whom to tell."""

from __future__ import annotations

from collections import defaultdict

from analysis.resolve import not_found
from analysis.results import ImpactDashboard, ImpactDepartment, ImpactMetric, ImpactReport
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.relations import LINEAGE_RELATIONS, Relation
from store.base import GraphStore, Walk


def impact(store: GraphStore, root: NodeRef) -> ImpactReport:
    """Everything downstream of ``root`` over the lineage relations, at any depth.

    Departments are those that own or review the root or any affected metric; ``touches_l0``
    is true when an affected metric other than the root is an L0 (north-star) metric. A
    table's impact includes its fields' (and a system's its tables'), because containment
    edges are lineage edges.

    Examples
    --------
    >>> from tests.helpers import demo_store
    >>> report = impact(demo_store(), NodeRef.parse("atp"))
    >>> [m.ref for m in report.metrics][:2], report.touches_l0
    (['Metric:revenue', 'Metric:gross_profit'], True)
    """
    reached = store.traverse(root, Walk.FORWARD, LINEAGE_RELATIONS, None)
    labels = store.labels([root, *reached])
    if root not in labels:
        raise not_found(store, root)
    metrics: list[ImpactMetric] = []
    dashboards: list[ImpactDashboard] = []
    for ref, depth in sorted(reached.items(), key=lambda item: (item[1], str(item[0]))):
        label = labels[ref]
        if ref.kind is NodeKind.METRIC:
            metrics.append(
                ImpactMetric(ref=str(ref), name=label.name, level=label.level, depth=depth)
            )
        elif ref.kind is NodeKind.DASHBOARD:
            dashboards.append(ImpactDashboard(ref=str(ref), name=label.name, depth=depth))
    concerned = [NodeRef(NodeKind.METRIC, m.ref.split(":", 1)[1]) for m in metrics]
    if root.kind is NodeKind.METRIC:
        concerned.append(root)
    owns: dict[NodeRef, set[str]] = defaultdict(set)
    reviews: dict[NodeRef, set[str]] = defaultdict(set)
    for edge in store.edges_of(concerned, Walk.BACKWARD, [Relation.OWNS, Relation.REVIEWS]):
        bucket = owns if edge.type is Relation.OWNS else reviews
        bucket[edge.source].add(str(edge.target))
    dept_refs = sorted(set(owns) | set(reviews), key=str)
    dept_names = store.labels(dept_refs)
    departments = [
        ImpactDepartment(
            ref=str(d),
            name=dept_names[d].name,
            owns=sorted(owns.get(d, set())),
            reviews=sorted(reviews.get(d, set())),
        )
        for d in dept_refs
    ]
    touches_l0 = any(m.level == "L0" for m in metrics)
    return ImpactReport(
        root=str(root),
        metrics=metrics,
        dashboards=dashboards,
        departments=departments,
        touches_l0=touches_l0,
    )
