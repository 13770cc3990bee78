"""Validation of a delta — the public unit every way into the graph validates through (#23).

A *delta* is a set of added or changed definitions (the nodes of a :class:`CatalogState`, with
their files and lines) and a set of removed ones, checked against the graph they change. What
the graph holds is asked of a :class:`GraphLookup`, so every caller's errors come from this one
code path, worded and placed (file:line, field) alike:

- a whole catalog read from files (``kpigraph load``, the importers, ``pull``, write-back:
  :func:`loaders.catalog.read_catalog`): the delta is the whole catalog, against nothing
  (:class:`WholeCatalog`);
- the changed metric files of a load against the index the last load kept
  (:class:`loaders.partial.IndexLookup`);
- one metric of a proposal or an approved request against the published graph behind the
  store's seam (:class:`loaders.metric_check.StoreLookup`: ``propose``, ``apply``, MCP lint).

:func:`check_delta` checks, in the delta's definitions:

- duplicate ids: an added definition whose id the graph declares outside the delta;
- references: every reference resolved against the graph after the delta, an unknown one
  reported with the closest ids and names (:func:`loaders.references.resolve_metric_references`);
- removed metrics a definition outside the delta still names;
- cycles of ``INPUT_TO`` / ``ROLLS_UP_TO``, only when the delta adds links of that relation:
  over the nodes reached from the new links (the graph before the delta has none, so a cycle
  goes through a new link), reported as a whole read reports them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from enum import StrEnum
from typing import Protocol

from core.i18n import _
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from graph_schema.relations import Relation
from loaders.references import (
    NameIndex,
    NameLookup,
    build_index,
    report_cycles,
    resolve_metric_references,
)
from loaders.validate import CatalogState, kind_word, node_label

#: relations whose cycles a graph refuses
ACYCLIC = (Relation.INPUT_TO, Relation.ROLLS_UP_TO)

Pair = tuple[NodeRef, NodeRef]


class Problem(StrEnum):
    """What kind of check a delta failed (its callers say why in their own words)."""

    DUPLICATE = "duplicate"
    UNRESOLVED = "unresolved"
    DANGLING = "dangling"
    CYCLE = "cycle"


class GraphLookup(NameLookup, Protocol):
    """What :func:`check_delta` asks of the graph a delta changes.

    The :class:`~loaders.references.NameLookup` half answers about the graph *after* the delta
    (the delta's own definitions included); the methods below about the definitions *outside*
    the delta, as the graph holds them before it."""

    def declared(self, refs: Collection[NodeRef]) -> dict[NodeRef, str]:
        """Which of ``refs`` a definition outside the delta declares, with where it is."""
        ...

    def referrers(self, ids: Collection[str]) -> set[str]:
        """The metrics whose definitions name one of the metric ids ``ids``."""
        ...

    def links(self, rel: Relation, refs: Collection[NodeRef]) -> set[Pair]:
        """The links of ``rel`` the definitions of ``refs`` made before the delta."""
        ...

    def downstream(self, rel: Relation, starts: Collection[NodeRef]) -> set[NodeRef]:
        """The nodes reachable from ``starts`` over the links of ``rel`` before the delta."""
        ...

    def links_among(self, rel: Relation, members: Collection[NodeRef]) -> list[Pair]:
        """The links of ``rel`` between ``members`` before the delta."""
        ...

    def origin(self, ref: NodeRef) -> tuple[str, int | None]:
        """Where the definition of ``ref`` outside the delta is (for a cycle's report)."""
        ...


class WholeCatalog:
    """:class:`GraphLookup` of a delta that is the whole catalog: every definition is in it,
    nothing outside (what a full read of a catalog directory checks)."""

    def __init__(self, index: NameIndex) -> None:
        self.index = index

    def has(self, kind: NodeKind, node_id: str) -> bool:
        return self.index.has(kind, node_id)

    def excused(self, kind: NodeKind, node_id: str) -> bool:
        return self.index.excused(kind, node_id)

    def suggest(self, kind: NodeKind, word: str) -> list[str]:
        return self.index.suggest(kind, word)

    def any_of(self, kind: NodeKind) -> bool:
        return self.index.any_of(kind)

    def declared(self, refs: Collection[NodeRef]) -> dict[NodeRef, str]:
        return {}

    def referrers(self, ids: Collection[str]) -> set[str]:
        return set()

    def links(self, rel: Relation, refs: Collection[NodeRef]) -> set[Pair]:
        return set()

    def downstream(self, rel: Relation, starts: Collection[NodeRef]) -> set[NodeRef]:
        return set()

    def links_among(self, rel: Relation, members: Collection[NodeRef]) -> list[Pair]:
        return []

    def origin(self, ref: NodeRef) -> tuple[str, int | None]:  # pragma: no cover - never asked
        return (_("the catalog"), None)


def whole_catalog(state: CatalogState) -> WholeCatalog:
    """The lookup of a full read: the catalog's own nodes."""
    return WholeCatalog(build_index(state))


def producer(rel: Relation, pair: Pair) -> NodeRef:
    """The metric whose definition makes the link ``pair`` of ``rel`` (a formula input: the
    metric with the formula; a parent: the child)."""
    return pair[1] if rel is Relation.INPUT_TO else pair[0]


def check_delta(
    state: CatalogState,
    lookup: GraphLookup,
    *,
    resolve: Iterable[NodeRef] | None = None,
    removed: Collection[NodeRef] = (),
) -> set[Problem]:
    """Check the delta whose definitions ``state`` holds (and ``removed``) against the graph
    ``lookup`` answers about; the problems are noted in ``state.issues`` (file:line, field,
    hint) and the edges of the resolved definitions added to ``state.edges``.

    ``resolve``: the metrics whose references are resolved (default: every metric of
    ``state``; a load's changed files also hold metrics it need not resolve again).
    Returns the kinds of problem found (empty: the delta validates).
    """
    found: set[Problem] = set()
    count = len(state.issues)
    _check_duplicates(state, lookup)
    if len(state.issues) > count:
        found.add(Problem.DUPLICATE)
    count = len(state.issues)
    targets = _resolve(state, lookup, resolve)
    if len(state.issues) > count:
        found.add(Problem.UNRESOLVED)
    count = len(state.issues)
    redefined = set(targets) | set(removed)
    _check_removed(state, lookup, removed, redefined)
    if len(state.issues) > count:
        found.add(Problem.DANGLING)
    count = len(state.issues)
    for rel in ACYCLIC:
        _check_cycles(state, lookup, rel, targets)
    if len(state.issues) > count:
        found.add(Problem.CYCLE)
    return found


def _check_duplicates(state: CatalogState, lookup: GraphLookup) -> None:
    for ref, where in lookup.declared(list(state.nodes)).items():
        origin = state.origins[ref]
        state.issue(
            origin.file,
            origin.line,
            _(
                "duplicate {kind} id {id} (first defined at {where})",
                kind=kind_word(ref.kind),
                id=repr(ref.id),
                where=where,
            ),
            _("ids must be unique; rename one of them"),
            field="id",
        )


def _resolve(
    state: CatalogState, lookup: GraphLookup, resolve: Iterable[NodeRef] | None
) -> list[NodeRef]:
    """The references of the metrics ``resolve`` resolved (edges and issues into ``state``);
    the metrics resolved."""
    if resolve is None:
        resolve_metric_references(state, lookup)
        return [r for r, n in state.nodes.items() if isinstance(n, Metric)]
    refs = list(resolve)
    sub = CatalogState(state.root, stage=state.stage)
    for ref in refs:
        sub.nodes[ref] = state.nodes[ref]
        sub.origins[ref] = state.origins[ref]
        sub.raw[ref] = state.raw[ref]
    resolve_metric_references(sub, lookup)
    state.issues += sub.issues
    state.edges.update(sub.edges)
    return refs


def _check_removed(
    state: CatalogState, lookup: GraphLookup, removed: Collection[NodeRef], redefined: set[NodeRef]
) -> None:
    """A removed metric that a definition outside the delta still names."""
    gone = {r.id for r in removed if r.kind is NodeKind.METRIC}
    if not gone:
        return
    ids = {r.id for r in redefined if r.kind is NodeKind.METRIC}
    for mid in sorted(lookup.referrers(gone) - ids):
        ref = NodeRef(NodeKind.METRIC, mid)
        file, line = lookup.origin(ref)
        state.issue(
            file,
            line,
            _(
                "{metric} refers to a metric this change removes",
                metric=node_label(NodeKind.METRIC, mid),
            ),
            _("keep the metric, or change what refers to it in the same change"),
        )


def _check_cycles(
    state: CatalogState, lookup: GraphLookup, rel: Relation, resolved: list[NodeRef]
) -> None:
    """The cycles of ``rel`` the delta's new links close. The graph before the delta has none,
    so each goes through a new link (s, t): its nodes are reachable from t — over the links
    before the delta and the new ones — and are read with the links among them."""
    mine = set(resolved)
    new = [(s, t) for (s, t, r) in state.edges if r is rel and producer(rel, (s, t)) in mine]
    if not new or not set(new) - lookup.links(rel, mine):
        return
    after: dict[NodeRef, list[NodeRef]] = {}
    for s, t in new:
        after.setdefault(s, []).append(t)
    reach: set[NodeRef] = set()
    frontier = {t for _s, t in new}
    while frontier:
        reach |= frontier
        reach |= lookup.downstream(rel, frontier)
        frontier = {t for s in after.keys() & reach for t in after[s] if t not in reach}
    if not any(s in reach for s, _t in new):
        return
    stored = [p for p in lookup.links_among(rel, reach) if producer(rel, p) not in mine]
    # the whole graph's edge order: by the metric whose definition makes them (sorted by ref,
    # the delta's last, in its order), as resolving every metric in turn adds them; what
    # matters is the order of each node's successors (a metric has one parent: none there)
    pairs = sorted(stored, key=lambda p: str(p[1])) + [
        p for p in new if p[0] in reach and p[1] in reach
    ]
    report_cycles(state, rel, pairs, touching=mine, origin_of=lookup.origin)
