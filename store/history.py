"""What both stores share about revisions: deciding what a load records, and rebuilding
catalogs and nodes from recorded changes.

A load compares the new graph with the stored one (a content digest first: an unchanged
catalog is recognised without reading the graph back). A load that changes something records
revision ``head + 1`` with every node and edge change — the first revision lists the whole
graph as added, so any node, and the whole catalog, can be rebuilt as of any revision.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from core.i18n import _
from graph_schema.diff import EdgeKey, GraphDiff, Snapshot, diff_snapshots, snapshot
from graph_schema.errors import ConflictError
from graph_schema.governance import ChangeRaceError, LedgerCommit
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric, node_from_props
from graph_schema.relations import RELATION_BY_VALUE
from graph_schema.revisions import (
    ChangeClass,
    ChangeCounts,
    ChangeOp,
    EdgeChange,
    NodeChange,
    Revision,
    RevisionDraft,
    RevisionSummary,
    count_changes,
)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def race_lost(commit: LedgerCommit) -> ChangeRaceError:
    """The error of a store write whose change request moved meanwhile."""
    return ChangeRaceError(
        f"change request #{commit.change.id} changed meanwhile (another process applied, "
        "rejected or withdrew it); nothing was written",
        {"id": commit.change.id},
    )


def check_head(where: str, head: int, expect_head: int | None) -> None:
    """Raise :class:`ConflictError` when the caller expected another head revision."""
    if expect_head is not None and head != expect_head:
        raise ConflictError(
            _(
                "the graph in {where} moved to revision {head} while this change was "
                "prepared against revision {expect_head}; nothing was changed — read it "
                "again and retry",
                where=where,
                head=head,
                expect_head=expect_head,
            ),
            {"head": head, "expected": expect_head},
        )


class PlannedRevision:
    """A revision a load is about to record (``number`` is ``head + 1``).

    ``diff``: its node and edge changes. Revision 1 of a first load is planned as ``whole``
    instead — every node and edge of that graph added: its change records are written from the
    graph's stored texts (:func:`revision_rows`, one serialisation per node shared with the
    stored row), and ``diff`` is only built if something asks for it.
    """

    __slots__ = ("_diff", "summary", "whole")

    def __init__(
        self,
        summary: RevisionSummary,
        diff: GraphDiff | None = None,
        *,
        whole: CatalogGraph | None = None,
    ) -> None:
        if diff is None and whole is None:
            raise ValueError(_("a planned revision needs its diff or the whole graph it adds"))
        self.summary = summary
        self.whole = whole
        self._diff = diff

    @property
    def diff(self) -> GraphDiff:
        if self._diff is None:
            assert self.whole is not None
            self._diff = diff_snapshots(None, snapshot(self.whole))
        return self._diff

    def __repr__(self) -> str:
        how = "whole graph added" if self._diff is None else "diff"
        return f"PlannedRevision(number={self.summary.number}, {how})"


def plan_revision(
    head: int,
    stored: Snapshot | None,
    graph: CatalogGraph,
    draft: RevisionDraft | None,
    created_at: str,
) -> PlannedRevision | None:
    """The revision a load of ``graph`` over ``stored`` records; ``None`` when nothing changes.

    With no revision yet (``head == 0``) everything is compared with nothing, so revision 1
    holds the whole graph (planned as ``whole``: no change models built).
    """
    diff = None if head == 0 else diff_snapshots(stored, snapshot(graph))
    if diff is not None and diff.empty:
        return None
    draft = draft or RevisionDraft()
    if diff is None:
        node_counts = ChangeCounts(added=len(graph.nodes))
        edge_counts = ChangeCounts(added=len(graph.edges))
    else:
        node_counts, edge_counts = count_changes(diff.nodes), count_changes(diff.edges)
    summary = RevisionSummary(
        number=head + 1,
        created_at=created_at,
        catalog=graph.name,
        author=draft.author,
        message=draft.message,
        source=draft.source or _source_of(graph),
        counts=graph.counts(),
        version_check=draft.version_check,
        auto_versions=draft.auto_versions,
        nodes=node_counts,
        edges=edge_counts,
    )
    return PlannedRevision(summary, diff, whole=graph if diff is None else None)


def _source_of(graph: CatalogGraph) -> dict[str, Any]:
    source = graph.meta.get("source")
    out: dict[str, Any] = {"path": str(source)} if source else {}
    if graph.meta.get("git_commit"):
        out["git_commit"] = graph.meta["git_commit"]
    return out


# -- rows as stored: one JSON document per change, keyed by (entity, key) ----------------------


def change_rows(diff: GraphDiff) -> list[dict[str, Any]]:
    """One row per change: ``entity`` (node / edge), ``key`` (ref, or source|type|target),
    ``op`` and ``data`` (the change as JSON, whole properties before and after included)."""
    rows = [
        {"entity": "node", "key": c.ref, "op": c.op.value, "data": _dump(c)} for c in diff.nodes
    ]
    rows += [
        {"entity": "edge", "key": c.key, "op": c.op.value, "data": _dump(c)} for c in diff.edges
    ]
    return rows


def revision_rows(planned: PlannedRevision) -> Iterator[tuple[str, str, str, str]]:
    """The change rows of ``planned`` as ``(entity, key, op, data)`` (see :func:`change_rows`),
    produced one at a time. Revision 1 of a first load (``planned.whole``): each record is
    written around the node's or edge's stored text (:attr:`CatalogGraph.texts`) — the same
    JSON :func:`_dump` writes for an added entity, without building a change model."""
    if planned.whole is None:
        for r in change_rows(planned.diff):
            yield r["entity"], r["key"], r["op"], r["data"]
        return
    graph = planned.whole
    node_texts, edge_texts = graph.texts
    added = ChangeOp.ADDED.value
    for node, text in zip(graph.nodes, node_texts, strict=True):
        ref = f"{node.kind.value}:{node.id}"
        version = node.version if isinstance(node, Metric) else None
        yield "node", ref, added, _added_node(ref, text, version)
    for edge, text in zip(graph.edges, edge_texts, strict=True):
        source, rtype, target = str(edge.source), edge.type.value, str(edge.target)
        yield "edge", f"{source}|{rtype}|{target}", added, _added_edge(source, rtype, target, text)


def added_record(entity: str, key: str, text: str) -> str:
    """The change record (JSON) of a node or edge added with the stored properties ``text``
    (``entity`` "node" with its ref, or "edge" with ``source|type|target``): what
    :func:`change_rows` writes for it."""
    if entity == "node":
        version = None
        if key.startswith(_METRIC_PREFIX):
            version = json.loads(text).get("version")
        return _added_node(key, text, version)
    source, rtype, target = key.split("|", 2)
    return _added_edge(source, rtype, target, text)


def added_as_old(entity: str, key: str, change: str) -> str:
    """The change record of a node or edge added as the ``old`` side of ``change`` (a stored
    change record) shows it: what a base revision, whose records are not stored, recorded
    for an entity a later revision changed (:mod:`store.embedded_base`, :mod:`store.neo4j_base`)."""
    old = json.loads(change).get("old")
    return added_record(entity, key, stored_text(old or {}))


def stored_text(props: Mapping[str, Any]) -> str:
    """Properties as a stored row holds them (``json.dumps(props, ensure_ascii=False)``)."""
    return _encode(props)


def _added_node(ref: str, text: str, version: object) -> str:
    versioned = f'"new_version": {_encode(version)}, ' if version is not None else ""
    return f'{{"ref": {_encode(ref)}, {versioned}"new": {text}, "op": "added"}}'


def _added_edge(source: str, rtype: str, target: str, text: str) -> str:
    return (
        f'{{"source": {_encode(source)}, "target": {_encode(target)}, '
        f'"type": {_encode(rtype)}, "new": {text}, "op": "added"}}'
    )


_encode = json.JSONEncoder(ensure_ascii=False).encode
_METRIC_PREFIX = f"{NodeKind.METRIC.value}:"


def _dump(change: NodeChange | EdgeChange) -> str:
    """The change as JSON without its defaults (a first load writes one per node and edge:
    built by hand, it is several times faster than ``model_dump``)."""
    if change.op is not ChangeOp.MODIFIED:  # added / removed: no fields, no class
        data = change.__dict__
        out = {k: v for k, v in data.items() if v is not None and k != "fields" and k != "op"}
        out["op"] = change.op.value
        return json.dumps(out, ensure_ascii=False, default=str)
    out = {}
    for name, value in change:
        if value is None or value == []:
            continue
        if name == "fields":
            value = [f.model_dump(mode="json", exclude_defaults=True) for f in value]
        elif isinstance(value, ChangeOp | ChangeClass):
            value = value.value
        out[name] = value
    return json.dumps(out, ensure_ascii=False, default=str)


def revision_from(summary_json: str, change_json: Iterable[tuple[str, str]]) -> Revision:
    """A whole revision from its stored summary and ``(entity, data)`` change rows."""
    nodes: list[NodeChange] = []
    edges: list[EdgeChange] = []
    for entity, data in change_json:
        if entity == "node":
            nodes.append(NodeChange.model_validate_json(data))
        else:
            edges.append(EdgeChange.model_validate_json(data))
    nodes.sort(key=lambda c: c.ref)
    edges.sort(key=lambda c: (c.source, c.type, c.target))
    return Revision(
        **json.loads(summary_json),
        node_changes=nodes,
        edge_changes=edges,
    )


def summary_json(summary: RevisionSummary) -> str:
    return json.dumps(summary.model_dump(mode="json"), ensure_ascii=False)


def node_as_of(ref: NodeRef, data: str | None) -> BaseNode | None:
    """The node as a change left it (``None`` when that change removed it)."""
    if data is None:
        return None
    change = NodeChange.model_validate_json(data)
    if change.op is ChangeOp.REMOVED or change.new is None:
        return None
    return node_from_props(ref.kind, change.new)


def catalog_from_changes(
    name: str, meta: Mapping[str, Any], latest: Iterable[tuple[str, str]]
) -> CatalogGraph:
    """A catalog from the latest change of every node and edge (``(entity, data)`` rows): what
    was live after that revision."""
    nodes: list[BaseNode] = []
    edges: list[Edge] = []
    for entity, data in latest:
        if entity == "node":
            node = node_as_of(NodeRef.parse(json.loads(data)["ref"]), data)
            if node is not None:
                nodes.append(node)
            continue
        change = EdgeChange.model_validate_json(data)
        if change.op is not ChangeOp.REMOVED:
            edges.append(
                Edge.model_construct(
                    source=NodeRef.parse(change.source),
                    target=NodeRef.parse(change.target),
                    type=RELATION_BY_VALUE[change.type],
                    props=change.new or {},
                )
            )
    nodes.sort(key=lambda n: str(n.ref))
    edges.sort(key=Edge.sort_key)
    return CatalogGraph(name, tuple(nodes), tuple(edges), dict(meta))


def edge_key_str(key: EdgeKey) -> str:
    source, rtype, target = key
    return f"{source}|{rtype}|{target}"


def graph_from_snapshot(name: str, meta: Mapping[str, Any], snap: Snapshot) -> CatalogGraph:
    """A catalog graph from stored plain data (what ``store.catalog()`` returns)."""
    nodes = [
        node_from_props(NodeRef.from_stored(ref).kind, dict(props))
        for ref, props in snap.nodes.items()
    ]
    edges = [
        Edge.model_construct(
            source=NodeRef.from_stored(source),
            target=NodeRef.from_stored(target),
            type=RELATION_BY_VALUE[rtype],
            props=dict(props),
        )
        for (source, rtype, target), props in snap.edges.items()
    ]
    nodes.sort(key=lambda n: str(n.ref))
    edges.sort(key=Edge.sort_key)
    return CatalogGraph(name, tuple(nodes), tuple(edges), dict(meta))
