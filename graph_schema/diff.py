"""Field-level differences between two graphs, and the version rules applied to them.

Both stores call these inside a load (to record a revision) and ``kpigraph diff`` calls them on
two catalogs; a graph is compared as a :class:`Snapshot` — stored properties by ref, edge
properties by ``(source, type, target)`` — so stores can diff what they hold without
rebuilding models.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from graph_schema.graph import CatalogGraph, stored_text
from graph_schema.ids import NodeKind
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.revisions import ChangeOp, EdgeChange, NodeChange
from graph_schema.versions import auto_version, classify_metric, field_changes, judge_version

EdgeKey = tuple[str, str, str]  # (source, type, target)


@dataclass(frozen=True)
class Snapshot:
    """A graph as plain data: node properties by ref, edge properties by key."""

    nodes: Mapping[str, Mapping[str, Any]]
    edges: Mapping[EdgeKey, Mapping[str, Any]]


def snapshot(graph: CatalogGraph) -> Snapshot:
    """The plain-data view of a graph (what stores persist)."""
    return Snapshot(
        nodes={str(n.ref): n.props() for n in graph.nodes},
        edges={edge_key(e): e.props for e in graph.edges},
    )


def edge_key(edge: Edge) -> EdgeKey:
    return (str(edge.source), edge.type + "", str(edge.target))  # Relation is a str


def graph_digest(
    nodes: Iterable[BaseNode],
    edges: Iterable[Edge],
    *,
    metric_hashes: dict[str, int] | None = None,
    texts: list[str] | None = None,
) -> str:
    """A content hash of a graph, independent of order: equal digests, equal graphs. A reload
    of an unchanged catalog is recognised by it without reading the stored graph back.

    It is the sum (mod 2**128) of one hash per node and per edge (:func:`item_hash`), so a
    delta updates it from the items it changes alone (:func:`digest_update`).

    Examples
    --------
    >>> from graph_schema.models import Metric
    >>> a, b = Metric(id="a", name="A"), Metric(id="b", name="B")
    >>> graph_digest([a, b], []) == graph_digest([b, a], [])
    True
    >>> d = graph_digest([a], [])
    >>> digest_update(d, added=[node_item(b.ref, b.props())]) == graph_digest([a, b], [])
    True

    ``metric_hashes``: filled with each metric's item hash by id (a publish takes the
    metrics that get an automatic version out of the digest with them: :func:`digest_update`).
    ``texts``: filled with each node's stored text (:func:`~graph_schema.graph.stored_text`),
    in order, from the same properties (a first load serialises each node's once for both).
    """
    total = 0
    for n in nodes:
        props = n.props()
        h = item_hash(node_item(n.ref, props))
        total += h
        if metric_hashes is not None and n.kind is NodeKind.METRIC:
            metric_hashes[n.id] = h
        if texts is not None:
            texts.append(stored_text(props))
    for e in edges:
        total += item_hash(edge_item(edge_key(e), e.props))
    return f"{total % _MOD:032x}"


_MOD = 1 << 128


def node_item(ref: object, props: Mapping[str, Any]) -> str:
    """The text of one node that the digest hashes."""
    return f"{ref}\t{_props_text(props)}"


def edge_item(key: EdgeKey, props: Mapping[str, Any] | None) -> str:
    """The text of one edge that the digest hashes."""
    return "\t".join((*key, _props_text(props) if props else "{}"))


def item_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest(), "big")


def digest_update(
    digest: str,
    *,
    added: Iterable[str] = (),
    removed: Iterable[str] = (),
    removed_hashes: Iterable[int] = (),
) -> str:
    """``digest`` with the items ``removed`` taken out and ``added`` put in (item texts of
    :func:`node_item` / :func:`edge_item`; a modified item is removed as it was and added as
    it is); ``removed_hashes``: items taken out by their :func:`item_hash` already known."""
    total = int(digest, 16)
    total += sum(item_hash(t) for t in added)
    total -= sum(item_hash(t) for t in removed)
    total -= sum(removed_hashes)
    return f"{total % _MOD:032x}"


def diff_digest(digest: str, diff: GraphDiff) -> str:
    """``digest`` of the graph a revision's ``diff`` was taken on, updated to the graph after it."""
    added: list[str] = []
    removed: list[str] = []
    for c in diff.nodes:
        if c.op is not ChangeOp.ADDED:
            removed.append(node_item(c.ref, c.old or {}))
        if c.op is not ChangeOp.REMOVED:
            added.append(node_item(c.ref, c.new or {}))
    for e in diff.edges:
        key = (e.source, e.type, e.target)
        if e.op is not ChangeOp.ADDED:
            removed.append(edge_item(key, e.old))
        if e.op is not ChangeOp.REMOVED:
            added.append(edge_item(key, e.new))
    return digest_update(digest, added=added, removed=removed)


_props_text = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


@dataclass(frozen=True)
class GraphDiff:
    """Node and edge changes between two snapshots, sorted by ref / key."""

    nodes: list[NodeChange] = field(default_factory=list)
    edges: list[EdgeChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.nodes and not self.edges

    @property
    def problems(self) -> list[str]:
        """Version-rule violations: one line each, saying the version to write."""
        return [p for c in self.nodes for p in [_problem(c)] if p]


def _problem(change: NodeChange) -> str | None:
    if change.version_ok is not False:
        return None
    metric_id = change.ref.split(":", 1)[1]
    verdict = judge_version(
        metric_id,
        change.old_version,
        change.new_version,
        change.change_class,
        change.fields,
    )
    return verdict.problem


def diff_snapshots(old: Snapshot | None, new: Snapshot) -> GraphDiff:
    """Every node and edge added, removed or modified from ``old`` to ``new``.

    A modified metric carries its change class, its old and new version, the version the
    class requires and whether the new one satisfies it (see :mod:`graph_schema.versions`).

    Examples
    --------
    >>> a = Snapshot({"Metric:atp": {"id": "atp", "name": "客单价", "unit": "元",
    ...                              "version": "1.1.0"}}, {})
    >>> b = Snapshot({"Metric:atp": {"id": "atp", "name": "客单价", "unit": "%",
    ...                              "version": "1.1.0"}}, {})
    >>> from core.i18n import use
    >>> d = diff_snapshots(a, b)
    >>> d.nodes[0].change_class.value, d.nodes[0].required_version, d.nodes[0].version_ok
    ('major', '2.0.0', False)
    >>> with use("en"):  # problems are worded in the language in use (zh by default)
    ...     d.problems
    ['atp: unit changed (major) — set version: 2.0.0 (now 1.1.0)']
    """
    old_nodes = old.nodes if old else {}
    old_edges = old.edges if old else {}
    nodes: list[NodeChange] = []
    for ref in sorted(set(old_nodes) | set(new.nodes)):
        a, b = old_nodes.get(ref), new.nodes.get(ref)
        if a == b:
            continue
        nodes.append(_node_change(ref, a, b))
    edges: list[EdgeChange] = []
    for key in sorted(set(old_edges) | set(new.edges)):
        ea, eb = old_edges.get(key), new.edges.get(key)
        if ea == eb:
            continue
        op = ChangeOp.ADDED if ea is None else ChangeOp.REMOVED if eb is None else ChangeOp.MODIFIED
        source, rtype, target = key
        if op is not ChangeOp.MODIFIED:  # plain data already checked: built without validation
            edges.append(
                _built(
                    EdgeChange,
                    {
                        "source": source,
                        "target": target,
                        "type": rtype,
                        "op": op,
                        "fields": [],
                        "old": dict(ea) if ea is not None else None,
                        "new": dict(eb) if eb is not None else None,
                    },
                )
            )
            continue
        edges.append(
            EdgeChange(
                source=source,
                target=target,
                type=rtype,
                op=op,
                fields=field_changes(ea, eb) if op is ChangeOp.MODIFIED else [],
                old=dict(ea) if ea is not None else None,
                new=dict(eb) if eb is not None else None,
            )
        )
    return GraphDiff(nodes, edges)


def _node_change(
    ref: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> NodeChange:
    is_metric = ref.startswith(f"{NodeKind.METRIC.value}:")
    old_d, new_d = dict(old) if old else None, dict(new) if new else None
    if old is None or new is None:
        op = ChangeOp.ADDED if old is None else ChangeOp.REMOVED
        version = (new_d or old_d or {}).get("version") if is_metric else None
        return _built(  # whole graphs on a first load: no re-validation
            NodeChange,
            {
                "ref": ref,
                "op": op,
                "fields": [],
                "change_class": None,
                "old_version": version if op is ChangeOp.REMOVED else None,
                "new_version": version if op is ChangeOp.ADDED else None,
                "required_version": None,
                "version_ok": None,
                "old": old_d,
                "new": new_d,
            },
        )
    if not is_metric:
        return NodeChange(
            ref=ref, op=ChangeOp.MODIFIED, fields=field_changes(old, new), old=old_d, new=new_d
        )
    cls, changes = classify_metric(old, new)
    old_v, new_v = old.get("version"), new.get("version")
    verdict = judge_version(ref.split(":", 1)[1], old_v, new_v, cls, changes)
    return NodeChange(
        ref=ref,
        op=ChangeOp.MODIFIED,
        fields=changes,
        change_class=cls,
        old_version=old_v,
        new_version=new_v,
        required_version=verdict.required,
        version_ok=verdict.ok,
        old=old_d,
        new=new_d,
    )


_Change = TypeVar("_Change", NodeChange, EdgeChange)
_set = object.__setattr__


def _built(cls: type[_Change], values: dict[str, Any]) -> _Change:
    """A change model from values already checked, every field given: no validation, and
    cheaper than ``model_construct`` (a first load holds one per node and edge)."""
    change = cls.__new__(cls)
    _set(change, "__dict__", values)
    _set(change, "__pydantic_fields_set__", set(values))
    _set(change, "__pydantic_extra__", None)
    _set(change, "__pydantic_private__", None)
    return change


def with_auto_versions(
    old: Snapshot | None, graph: CatalogGraph
) -> tuple[CatalogGraph, dict[str, str]]:
    """``graph`` with a version written into every metric that declares none (``1.0.0`` when
    new, else the stored version bumped per change class), and the versions that differ from
    the stored ones — what a revision records as automatic.

    Examples
    --------
    >>> from tests.helpers import DEMO
    >>> from loaders.catalog import load_catalog
    >>> g = load_catalog(DEMO)
    >>> g2, auto = with_auto_versions(None, g)
    >>> auto["bay_turnover"], "atp" in auto  # atp declares version: 1.1.0
    ('1.0.0', False)
    """
    stored = old.nodes if old else {}
    nodes: list[BaseNode] = []
    auto: dict[str, str] = {}
    for node in graph.nodes:
        if isinstance(node, Metric) and not node.version:
            prior = stored.get(str(node.ref))
            version = auto_version(prior, node.props())
            if version:
                node = node.model_copy(update={"version": version})
                if not prior or prior.get("version") != version:
                    auto[node.id] = version
        nodes.append(node)
    if not auto and all(a is b for a, b in zip(nodes, graph.nodes, strict=True)):
        return graph, {}
    return CatalogGraph(graph.name, tuple(nodes), graph.edges, dict(graph.meta)), auto
