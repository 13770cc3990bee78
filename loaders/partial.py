"""Reading only the metric files that changed, validated against an index of the rest (#23).

In the manner of dbt-core's partial parsing: a load keeps, beside its per-file cache, an index
of what every metric declared (:data:`MetricFacts`: its file, the metrics it refers to, the
formula / hierarchy links it makes, the keys the conflict rules group it by, the facets of the
catalog's summary). A later load whose changed files are all metric files parses only those
(:func:`read_partial`) and checks them against that index and the ids of the other files:

- duplicate ids: a changed file's id declared by an unchanged file;
- references: the changed metrics' references resolved against the ids of the whole catalog;
  a metric the edit removed that an unchanged metric still names;
- cycles: only when the delta adds ``INPUT_TO`` / ``ROLLS_UP_TO`` links, over the index's links;
- a catalog left without metrics.

Any of these problems, or any problem in the changed files, raises :class:`FullRead`: the whole
catalog is then read as before, which reports the same file:line errors (with suggestions) as a
full load does — the delta never has errors of its own wording.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Collection, Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.i18n import _
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from loaders.catalog import is_metric_file, read_metric_files
from loaders.catalog_cache import FileCache, FileEntry
from loaders.delta_check import Problem, check_delta
from loaders.references import resolve_metric_references
from loaders.validate import CatalogState, Origin
from loaders.yaml_lines import LDict

#: metric-derived edges whose *target* is the metric that declares them (the others: source)
PRODUCED_BY_TARGET = frozenset(
    {Relation.INPUT_TO, Relation.DRIVES, Relation.FEEDS, Relation.OWNS, Relation.REVIEWS}
)
PRODUCED_BY_SOURCE = frozenset(
    {Relation.CAUSES, Relation.ROLLS_UP_TO, Relation.SHOWN_ON, Relation.SLICED_BY}
)


#: What one metric declared, as the index of a load keeps it: a plain tuple (a load record holds
#: one per metric and is written after every load: plain tuples of strings are what marshal
#: writes and reads fastest), its fields at these places:
FILE: Final = 0  # the file declaring it
REFERS: Final = 1  # metric ids it names (formula, drivers, causes, rolls_up_to, parallel)
LINKS: Final = 2  # (relation, source id, target id) of the INPUT_TO / ROLLS_UP_TO edges it makes
KEYS: Final = 3  # graph_schema.rules.conflict.index_keys
ATOMIC: Final = 4
LEVEL: Final = 5
DOMAIN: Final = 6
UPDATED: Final = 7
MetricFacts = tuple[
    str,
    tuple[str, ...],
    tuple[tuple[str, str, str], ...],
    tuple[str, ...],
    str | None,
    str | None,
    str | None,
    str | None,
]


class FullRead(Exception):
    """The changed files cannot be read alone; the reason is said in the load's output."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def producer(edge: Edge) -> NodeRef | None:
    """The metric whose definition makes ``edge`` (``None``: a containment edge)."""
    if edge.type in PRODUCED_BY_TARGET:
        return edge.target
    if edge.type in PRODUCED_BY_SOURCE:
        return edge.source
    return None


def metric_facts(
    metrics: Iterable[Metric], edges: Iterable[Edge], file_of: Mapping[NodeRef, str]
) -> dict[str, MetricFacts]:
    """The index entries of ``metrics``, from the edges their definitions made."""
    from graph_schema.rules.conflict import index_keys

    refers: dict[str, set[str]] = {}
    links: dict[str, list[tuple[str, str, str]]] = {}
    for e in edges:
        rel = e.type
        if rel is Relation.INPUT_TO or rel is Relation.DRIVES:
            refers.setdefault(e.target.id, set()).add(e.source.id)
            if rel is Relation.INPUT_TO:
                links.setdefault(e.target.id, []).append((rel.value, e.source.id, e.target.id))
        elif rel is Relation.CAUSES or rel is Relation.ROLLS_UP_TO:
            refers.setdefault(e.source.id, set()).add(e.target.id)
            if rel is Relation.ROLLS_UP_TO:
                links.setdefault(e.source.id, []).append((rel.value, e.source.id, e.target.id))
    out: dict[str, MetricFacts] = {}
    posix: dict[str, str] = {}  # a few files, many metrics: each file's path converted once
    for m in metrics:
        named = refers.get(m.id, set()) | set(m.parallel)
        file = file_of[m.ref]
        where = posix.get(file)
        if where is None:
            where = posix[file] = Path(file).as_posix()
        out[m.id] = (
            where,
            tuple(sorted(named)),
            tuple(sorted(links.get(m.id, ()))),
            index_keys(m),
            m.atomic,
            m.level.value if m.level else None,
            m.domain,
            m.updated,
        )
    return out


def summary_of(facts: Mapping[str, MetricFacts], recent: int = 10) -> dict[str, Any]:
    """:meth:`graph_schema.graph.CatalogGraph.summary` from the index alone."""
    levels = Counter(f[LEVEL] or "—" for f in facts.values())
    domains = Counter(f[DOMAIN] or "—" for f in facts.values())
    dated = heapq.nlargest(
        recent, ((date, mid) for mid, f in facts.items() if (date := f[UPDATED]))
    )
    return {
        "levels": dict(sorted(levels.items())),
        "domains": dict(sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))),
        "north_star": sorted(mid for mid, f in facts.items() if f[LEVEL] == "L0"),
        "recent": [{"id": mid, "date": date} for date, mid in dated[:recent]],
    }


class Either(Container[str]):
    """Ids in one of two sets (without copying the larger)."""

    def __init__(self, first: Container[str], second: Container[str]) -> None:
        self.sets = (first, second)

    def __contains__(self, item: object) -> bool:
        return any(item in s for s in self.sets)


class _IdLookup:
    """:class:`loaders.references.NameLookup` over the ids of the whole catalog (``Kind:id``
    strings). A delta with an unknown reference is read whole, so suggestions are never
    asked of it."""

    def __init__(self, ids: Container[str]) -> None:
        self.ids = ids

    def has(self, kind: NodeKind, node_id: str) -> bool:
        return f"{kind.value}:{node_id}" in self.ids

    def excused(self, kind: NodeKind, node_id: str) -> bool:
        return False

    def suggest(self, kind: NodeKind, word: str) -> list[str]:
        return []

    def any_of(self, kind: NodeKind) -> bool:
        return True


class IndexLookup(_IdLookup):
    """:class:`loaders.delta_check.GraphLookup` over the index of the last load: ``facts``
    (what each metric declared before the delta), ``outside`` (``Kind:id`` → file, the nodes
    of the files the delta leaves alone) and ``ids`` (every ``Kind:id`` after the delta)."""

    def __init__(
        self, facts: Mapping[str, MetricFacts], outside: Mapping[str, str], ids: Container[str]
    ) -> None:
        super().__init__(ids)
        self.facts = facts
        self.outside = outside
        self._next: dict[Relation, dict[NodeRef, list[NodeRef]]] = {}

    def declared(self, refs: Collection[NodeRef]) -> dict[NodeRef, str]:
        return {r: file for r in refs if (file := self.outside.get(str(r))) is not None}

    def referrers(self, ids: Collection[str]) -> set[str]:
        wanted = set(ids)
        return {mid for mid, f in self.facts.items() if not wanted.isdisjoint(f[REFERS])}

    def links(self, rel: Relation, refs: Collection[NodeRef]) -> set[tuple[NodeRef, NodeRef]]:
        return {
            (_metric(s), _metric(t))
            for ref in refs
            if (f := self.facts.get(ref.id)) is not None
            for r, s, t in f[LINKS]
            if r == rel.value
        }

    def _successors(self, rel: Relation) -> dict[NodeRef, list[NodeRef]]:
        if rel not in self._next:
            succ: dict[NodeRef, list[NodeRef]] = {}
            for f in self.facts.values():
                for r, s, t in f[LINKS]:
                    if r == rel.value:
                        succ.setdefault(_metric(s), []).append(_metric(t))
            self._next[rel] = succ
        return self._next[rel]

    def downstream(self, rel: Relation, starts: Collection[NodeRef]) -> set[NodeRef]:
        succ = self._successors(rel)
        seen: set[NodeRef] = set()
        todo = list(starts)
        while todo:
            for t in succ.get(todo.pop(), ()):
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return seen

    def links_among(
        self, rel: Relation, members: Collection[NodeRef]
    ) -> list[tuple[NodeRef, NodeRef]]:
        succ = self._successors(rel)
        inside = set(members)
        return [(s, t) for s in inside for t in succ.get(s, ()) if t in inside]

    def origin(self, ref: NodeRef) -> tuple[str, int | None]:
        f = self.facts.get(ref.id)
        return (f[FILE], None) if f is not None else (str(ref), None)


def _metric(node_id: str) -> NodeRef:
    return NodeRef(NodeKind.METRIC, node_id)


@dataclass
class Placed:
    """A node with where it is written."""

    node: BaseNode
    file: str
    line: int | None
    raw: LDict


@dataclass
class PartialRead:
    """The changed metric files read and checked (see the module)."""

    #: every node of the changed files, where it is written, and the edges made by the
    #: metrics in ``changed`` and ``moved``
    state: CatalogState
    #: metrics added or whose definition changed: what the store's delta holds
    changed: dict[NodeRef, Metric]
    #: metrics no file declares any more
    removed: set[NodeRef]
    #: metrics whose definition is the same but whose file or lines moved (lint only)
    moved: set[NodeRef]
    #: the old versions of the changed files' nodes (``None``: the cache no longer held them)
    before: dict[NodeRef, Placed] | None
    #: the index after this read
    facts: dict[str, MetricFacts]
    #: file → refs of the nodes it declares, after this read (as the load record keeps them)
    refs: dict[str, list[str]]
    #: the graph's meta as a whole read makes it
    meta: dict[str, Any]
    #: every ``Kind:id`` of the catalog after this read
    ids: Container[str]


def read_partial(
    root: Path,
    changed: list[str],
    refs: Mapping[str, list[str]],
    facts: Mapping[str, MetricFacts],
    keys: Mapping[str, str],
    cache: FileCache,
    meta: Mapping[str, Any] | None = None,
) -> PartialRead:
    """Read the changed files ``changed`` (POSIX, relative to ``root``) of a catalog whose
    last load declared ``refs`` per file, indexed as ``facts`` and cached under ``keys``;
    ``meta``: the graph's meta that load's ``kpigraph.yaml`` gave (without ``summary``; the
    caller makes sure that file did not change), else it is read again.

    Raises
    ------
    FullRead
        A changed file is not a metric file, or the changed files have a problem of their own
        or against the rest of the catalog (the whole read reports it).
    """
    from loaders.catalog import catalog_meta

    if not all(is_metric_file(rel) for rel in changed):
        raise FullRead(_("a file other than a metric file changed"))
    meta = dict(meta) if meta is not None else catalog_meta(root)
    if meta is None:
        raise FullRead(_("the catalog settings do not read"))
    touched = set(changed)
    present = [rel for rel in changed if (root / rel).is_file()]
    entries = _entries(changed, refs, keys, cache)
    before = _before(entries) if entries is not None else None
    state = read_metric_files(root, present, cache, entries)
    if state.issues or state.unreadable or state.unverifiable:
        raise FullRead(_("the changed files have problems"))
    outside = {r: rel for rel, rs in refs.items() if rel not in touched for r in rs}
    new_refs = {str(ref) for ref in state.nodes}
    old_refs = {r for rel in changed for r in refs.get(rel, ())}
    removed = {NodeRef.parse(r) for r in old_refs - new_refs}
    changed_nodes: dict[NodeRef, Metric] = {}
    moved: set[NodeRef] = set()
    for ref, node in state.nodes.items():
        if not isinstance(node, Metric):
            continue
        old = before.get(ref) if before is not None else None
        origin = state.origins[ref]
        if old is None or (old.node is not node and old.node != node):
            changed_nodes[ref] = node
        elif (old.file, old.line, old.raw.key_lines) != (
            origin.file,
            origin.line,
            state.raw[ref].key_lines,
        ):
            moved.add(ref)
    # the changed and moved metrics are checked (the others of the changed files still name
    # what the index says they name: a removed metric they name is found as one the other
    # files name — renaming a metric in its own file left a formula beside it naming the old
    # id, and the delta loaded it)
    ids = Either(outside.keys(), new_refs)
    lookup = IndexLookup(facts, outside, ids)
    anew = [*changed_nodes, *sorted(moved, key=str)]
    problems = check_delta(state, lookup, resolve=anew, removed=removed)
    for problem, reason in _REASONS:
        if problem in problems and problem is not Problem.CYCLE:
            raise FullRead(reason())
    new_facts = dict(facts)
    for ref in removed:
        new_facts.pop(ref.id, None)
    file_of = {ref: o.file for ref, o in state.origins.items()}
    posix = _Posix()
    for ref, node in state.nodes.items():
        if isinstance(node, Metric) and ref not in changed_nodes and ref not in moved:
            old_facts = facts.get(ref.id)
            if old_facts is not None:
                where = posix(file_of[ref])
                if old_facts[FILE] != where:
                    new_facts[ref.id] = (where, *old_facts[1:])
                continue
            changed_nodes[ref] = node  # not indexed (should not happen): treat as changed
    fresh = [
        n
        for r, n in state.nodes.items()
        if isinstance(n, Metric) and (r in changed_nodes or r in moved)
    ]
    fresh_facts = metric_facts(fresh, state.edges.values(), file_of)
    new_facts.update(fresh_facts)
    if not new_facts:
        raise FullRead(_("the catalog would define no metrics"))
    if Problem.CYCLE in problems:
        raise FullRead(_("the change makes a cycle"))
    new_record = {rel: list(rs) for rel, rs in refs.items() if rel not in touched}
    for ref, origin in state.origins.items():
        new_record.setdefault(posix(origin.file), []).append(str(ref))
    meta["summary"] = summary_of(new_facts)
    return PartialRead(
        state, changed_nodes, removed, moved, before, new_facts, new_record, meta, ids
    )


class _Posix:
    """A file's path as POSIX, converted once per file (a file holds many nodes)."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, file: str) -> str:
        got = self.seen.get(file)
        if got is None:
            got = self.seen[file] = Path(file).as_posix()
        return got


def _entries(
    changed: list[str], refs: Mapping[str, list[str]], keys: Mapping[str, str], cache: FileCache
) -> dict[str, FileEntry] | None:
    """The cache's entries of what the changed files held at the last load (``None`` when one
    is gone: every node of the changed files then counts as changed)."""
    out: dict[str, FileEntry] = {}
    for rel in changed:
        if not refs.get(rel):
            continue
        key = keys.get(rel)
        entry = cache.get(key) if key else None
        if entry is None:
            return None
        cache.used.discard(key)  # not kept for the next load: the file changed
        out[rel] = entry
    return out


def _before(entries: Mapping[str, FileEntry]) -> dict[NodeRef, Placed]:
    """The nodes of ``entries`` with where they were written."""
    return {
        node.ref: Placed(node, rel, line, raw)
        for rel, entry in entries.items()
        for node, line, raw in entry.nodes
    }


#: why a delta is read whole, by the check it failed (in the order a whole read finds them)
_REASONS: tuple[tuple[Problem, Callable[[], str]], ...] = (
    (Problem.DUPLICATE, lambda: _("an id of a changed file is declared in another file")),
    (Problem.DANGLING, lambda: _("a removed metric is still referred to")),
    (Problem.UNRESOLVED, lambda: _("a reference of a changed metric does not resolve")),
    (Problem.CYCLE, lambda: _("the change makes a cycle")),
)


def resolve_placed(nodes: list[Placed], ids: Container[str]) -> list[Edge]:
    """The edges the metrics ``nodes`` make, resolved against the catalog's ``ids``."""
    sub = CatalogState(Path("."))
    for p in nodes:
        sub.nodes[p.node.ref] = p.node
        sub.origins[p.node.ref] = Origin(p.file, p.line)
        sub.raw[p.node.ref] = p.raw
    resolve_metric_references(sub, _IdLookup(ids))
    return list(sub.edges.values())


def placed(state: CatalogState, ref: NodeRef) -> Placed:
    origin: Origin = state.origins[ref]
    return Placed(state.nodes[ref], origin.file, origin.line, state.raw[ref])
