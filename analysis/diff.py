"""The diff report of two catalogs: what changed, how much (change class and required version),
and the impact of the change — whom it recomputes or influences, whom to notify, who approves.

``kpigraph diff OLD NEW`` and ``GET /api/diff`` return :class:`DiffReport`; its Markdown form
is written to be pasted as a pull-request comment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field

from analysis.catalog_view import CatalogView
from analysis.impact import impact
from analysis.results import ImpactDashboard, ImpactDepartment, ImpactMetric, Via
from core.i18n import _, ngettext
from graph_schema.diff import GraphDiff, diff_snapshots, snapshot, with_auto_versions
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.revisions import (
    ChangeClass,
    ChangeCounts,
    ChangeOp,
    EdgeChange,
    NodeChange,
    count_changes,
)
from store.base import GraphStore

#: Who approves a change to, or a recomputation of, an L0 or L1 metric (seed 001: 数据治理委员会).
COMMITTEE = "governance committee"
COMMITTEE_LEVELS = frozenset({"L0", "L1"})
#: Changed nodes of these kinds have an impact worth reporting.
IMPACT_KINDS = frozenset({NodeKind.METRIC, NodeKind.FIELD, NodeKind.TABLE, NodeKind.SYSTEM})
FAIL_LEVELS = ("major", "minor", "any")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class AffectedNode(_Out):
    ref: str
    name: str
    level: str | None = None
    via: Via
    depth: int
    path: list[str]
    because: list[str] = Field(description="the changed nodes whose change reaches it")


class Approval(_Out):
    """One sign-off a change needs: a department as owner or reviewer, or the committee."""

    approver: str
    role: str = Field(description="owner, reviewer or committee")
    name: str
    metrics: list[str]
    reason: str


class DiffImpact(_Out):
    metrics: list[AffectedNode]
    dashboards: list[AffectedNode]
    departments: list[ImpactDepartment]
    approvals: list[Approval]
    touches_l0: bool
    influences_l0: bool


class DiffReport(_Out):
    old: str
    new: str
    nodes: list[NodeChange]
    edges: list[EdgeChange]
    node_counts: ChangeCounts
    edge_counts: ChangeCounts
    classes: dict[str, int] = Field(description="changed metrics per change class")
    problems: list[str] = Field(description="version rules broken: the exact version to write")
    auto_versions: dict[str, str] = Field(default_factory=dict)
    impact: DiffImpact

    @property
    def empty(self) -> bool:
        return not self.nodes and not self.edges

    def metric_changes(self) -> list[NodeChange]:
        return [c for c in self.nodes if c.ref.startswith("Metric:")]

    def other_changes(self) -> list[NodeChange]:
        return [c for c in self.nodes if not c.ref.startswith("Metric:")]

    def fails(self, level: str | None) -> bool:
        """Whether a CI gate at ``level`` (major, minor, any; ``None``: versions only) fails:
        a broken version rule always fails; otherwise a change of that class or larger."""
        if self.problems:
            return True
        if level is None:
            return False
        if level == "any":
            return not self.empty
        wanted = {"major": ("major",), "minor": ("major", "minor")}[level]
        return any(self.classes.get(c, 0) for c in wanted)


def diff_catalogs(
    old: CatalogGraph | None,
    new: CatalogGraph,
    old_label: str = "old",
    new_label: str = "new",
) -> DiffReport:
    """Compare two catalogs. Metrics of ``new`` without a ``version`` are versioned as a load
    would version them (relative to ``old``), so a catalog compared with what is loaded shows
    the versions the load would write.

    Examples
    --------
    >>> from tests.helpers import DEMO
    >>> from loaders.catalog import load_catalog
    >>> old = load_catalog(DEMO)
    >>> atp = next(n for n in old.nodes if n.id == "atp")
    >>> changed = atp.model_copy(update={"formula": "labor_revenue / visits"})
    >>> new = CatalogGraph(old.name, tuple(changed if n is atp else n for n in old.nodes),
    ...                    old.edges, old.meta)
    >>> from core.i18n import use
    >>> with use("en"):  # problems are worded in the language in use (zh by default)
    ...     report = diff_catalogs(old, new)
    >>> report.problems
    ['atp: formula changed (major) — set version: 2.0.0 (now 1.1.0)']
    >>> [a.approver for a in report.impact.approvals]
    ['Department:finance', 'Department:ops', 'governance committee']
    """
    if old is not None:  # a catalog side versions its unversioned metrics as a load would
        old, _auto = with_auto_versions(None, old)
    old_snap = snapshot(old) if old else None
    versioned, auto = with_auto_versions(old_snap, new)
    changes = diff_snapshots(old_snap, snapshot(versioned))
    classes: dict[str, int] = {}
    for change in changes.nodes:
        if change.change_class is not None:
            classes[change.change_class.value] = classes.get(change.change_class.value, 0) + 1
    return DiffReport(
        old=old_label,
        new=new_label,
        nodes=[_slim(c) for c in changes.nodes],
        edges=changes.edges,
        node_counts=count_changes(changes.nodes),
        edge_counts=count_changes(changes.edges),
        classes=classes,
        problems=changes.problems,
        auto_versions=auto,
        impact=diff_impact(changes, old, versioned),
    )


def _slim(change: NodeChange) -> NodeChange:
    """A change without the whole old/new property dicts (the report lists fields)."""
    if change.op is ChangeOp.MODIFIED:
        return change.model_copy(update={"old": None, "new": None})
    return change


def diff_impact(changes: GraphDiff, old: CatalogGraph | None, new: CatalogGraph) -> DiffImpact:
    """The impact of every changed metric, field, table or system, merged: a node reached by
    several changes is listed once, via definition when any change recomputes it."""
    views = {"new": CatalogView(new), "old": CatalogView(old) if old else None}
    affected: dict[str, dict[str, Any]] = {}
    departments: dict[str, ImpactDepartment] = {}
    roots = [c for c in changes.nodes if NodeRef.parse(c.ref).kind in IMPACT_KINDS]
    root_refs = {c.ref for c in roots}
    for change in roots:
        if change.op is ChangeOp.ADDED:
            continue
        view = views["old"] if change.op is ChangeOp.REMOVED else views["new"]
        if view is None:
            continue
        report = impact(cast(GraphStore, view), NodeRef.parse(change.ref))
        items: list[ImpactMetric | ImpactDashboard] = [*report.metrics, *report.dashboards]
        for item in items:
            if item.ref in root_refs:
                continue
            entry = affected.get(item.ref)
            rank = (0 if item.via is Via.DEFINITION else 1, item.depth)
            if entry is None or rank < entry["rank"]:
                because = entry["because"] if entry else []
                entry = {
                    "rank": rank,
                    "item": item,
                    "because": because,
                    "level": getattr(item, "level", None),
                }
                affected[item.ref] = entry
            entry["because"] = sorted({*entry["because"], change.ref})
        for dept in report.departments:
            seen = departments.get(dept.ref)
            departments[dept.ref] = (
                dept
                if seen is None
                else ImpactDepartment(
                    ref=dept.ref,
                    name=dept.name,
                    owns=sorted({*seen.owns, *dept.owns}),
                    reviews=sorted({*seen.reviews, *dept.reviews}),
                )
            )
    ordered = sorted(affected.values(), key=lambda e: (e["rank"], e["item"].ref))
    nodes = [
        AffectedNode(
            ref=e["item"].ref,
            name=e["item"].name,
            level=e["level"],
            via=e["item"].via,
            depth=e["item"].depth,
            path=e["item"].path,
            because=e["because"],
        )
        for e in ordered
    ]
    metrics = [n for n in nodes if n.ref.startswith("Metric:")]
    return DiffImpact(
        metrics=metrics,
        dashboards=[n for n in nodes if n.ref.startswith("Dashboard:")],
        departments=[departments[k] for k in sorted(departments)],
        approvals=approvals(changes.nodes, metrics, old, new),
        touches_l0=any(m.level == "L0" and m.via is Via.DEFINITION for m in metrics),
        influences_l0=any(m.level == "L0" and m.via is Via.INFLUENCE for m in metrics),
    )


def approvals(
    changes: Iterable[NodeChange],
    affected: Iterable[AffectedNode],
    old: CatalogGraph | None,
    new: CatalogGraph,
) -> list[Approval]:
    """Owner and reviewer department of each changed metric, and the governance committee
    when an L0 or L1 metric is changed or recomputed."""
    names = {str(n.ref): n.name for g in (old, new) if g for n in g.nodes}
    wanted: dict[tuple[str, str], set[str]] = {}
    committee: list[tuple[str, str]] = []  # (ref, why)
    for change in changes:
        if not change.ref.startswith("Metric:"):
            continue
        if change.op is ChangeOp.MODIFIED and change.change_class is None:
            continue  # only the version moved
        props = change.new or change.old or {}
        before = change.old or {}
        for role in ("owner", "reviewer"):
            for dept in {props.get(role), before.get(role)} - {None}:
                wanted.setdefault((f"Department:{dept}", role), set()).add(change.ref)
        if {props.get("level"), before.get("level")} & COMMITTEE_LEVELS:
            level = props.get("level") or before.get("level")
            committee.append(
                (change.ref, _("{ref} ({level}) changed", ref=change.ref, level=level))
            )
    for node in affected:
        if node.via is Via.DEFINITION and node.level in COMMITTEE_LEVELS:
            committee.append(
                (node.ref, _("{ref} ({level}) recomputed", ref=node.ref, level=node.level))
            )
    out = [
        Approval(
            approver=dept,
            role=role,
            name=names.get(dept, dept.split(":", 1)[1]),
            metrics=sorted(metrics),
            reason=(
                ngettext(
                    "owner of the changed metric", "owner of the changed metrics", len(metrics)
                )
                if role == "owner"
                else ngettext(
                    "reviewer of the changed metric",
                    "reviewer of the changed metrics",
                    len(metrics),
                )
            ),
        )
        for (dept, role), metrics in sorted(wanted.items())
    ]
    if committee:
        out.append(
            Approval(
                approver=COMMITTEE,
                role="committee",
                name=_("Data governance committee"),
                metrics=sorted({ref for ref, _why in committee}),
                reason=_("; ").join(why for _ref, why in committee[:10])
                + (" …" if len(committee) > 10 else ""),
            )
        )
    return out


def worst_class(report: DiffReport) -> ChangeClass | None:
    """The largest change class among the changed metrics."""
    for cls in (ChangeClass.MAJOR, ChangeClass.MINOR, ChangeClass.PATCH):
        if report.classes.get(cls.value):
            return cls
    return None
