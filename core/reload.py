"""``kpigraph load`` of a directory where a few files changed: a delta, not a whole publish.

In the manner of dbt-core's partial parsing: each load keeps a *record* of the files it read
— every file's SHA-256 and the nodes each file declared (in the per-file cache's directory,
:meth:`loaders.catalog_cache.FileCache.save_record`), named by the digest of all the files
that the store records with the graph (``meta["files"]``). The next load compares the files
with that record; the nodes of the files added, changed or removed are the only ones compared
with the store (:meth:`store.base.GraphStore.stored_rows`: their rows and the edges touching
them), and the revision, automatic versions and digests are computed from them alone and
written by :meth:`store.base.GraphStore.apply` — with the same revision records, digests and
``files`` marker a full load of the same files writes.

What still reads the whole catalog: the catalog is read as a whole in memory (unchanged files
from the per-file cache, see :mod:`loaders.catalog_cache`) and validated by the public
validation unit (:mod:`loaders.validate`, :mod:`loaders.references`: references, cycles,
duplicate ids — the same file:line errors), and the lint gate lints that whole in-memory
graph (the same findings as a full lint by construction); the store is not read back.

A full load is done instead (:class:`FullLoad` says why) for a first load, with no record of
the stored files' load (another cache directory, caching off, a linked folder), when the store
changed since the files were loaded (change requests applied), when the loader's code or
``kpigraph.yaml`` (catalog-level settings) changed, or when many files changed.
"""

from __future__ import annotations

import marshal
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.bulk import paused_gc
from core.i18n import current
from graph_schema.diff import (
    GraphDiff,
    Snapshot,
    diff_digest,
    diff_snapshots,
    digest_update,
    edge_item,
    edge_key,
    node_item,
    snapshot,
    with_auto_versions,
)
from graph_schema.errors import EmptyStoreError, StoreError, VersionError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from graph_schema.revisions import ChangeOp, RevisionDraft, RevisionSummary, count_changes
from graph_schema.rules.base import LintIssue
from loaders.catalog import CatalogSource
from loaders.catalog_cache import CatalogFiles, FileCache
from loaders.catalog_checks import MANIFEST
from loaders.partial import FILE, MetricFacts, PartialRead, metric_facts, producer
from loaders.validate import make_edge
from store.base import GraphStore, StoreInfo
from store.history import PlannedRevision, now

#: A directory where more than this share of the files changed is loaded whole.
MANY_FILES = 0.25
#: ... unless no more than this many files changed.
FEW_FILES = 2


@dataclass(frozen=True)
class LoadRecord:
    """What one load read: each file's SHA-256 and the nodes each file declared."""

    fingerprint: str
    files: dict[str, str]
    #: file → the refs (``Kind:id``) of the nodes it declared
    refs: dict[str, list[str]]
    #: metrics that declare no ``version`` (their stored version is an automatic one)
    undeclared: frozenset[str]
    #: file → its key in the per-file cache (the entry of what the file held)
    keys: dict[str, str] = field(default_factory=dict)
    #: metric id → what it declared (:mod:`loaders.partial`: the index a delta is checked by)
    facts: dict[str, MetricFacts] = field(default_factory=dict)
    #: the lint gate's findings of this load (``None``: not linted)
    lint: tuple[LintIssue, ...] | None = None
    #: the language the findings are worded in (another language's load lints whole)
    language: str = ""
    #: the graph's meta as the files made it (``kpigraph.yaml``: a delta, which needs that
    #: file unchanged, takes it from here instead of reading it again), without ``summary``
    meta: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # the index and the files' refs as marshal blobs, one pair per file: at 100,000 metrics
        # pickle took seconds over their millions of small tuples and strings (our own 0700
        # cache directory, read by this Python only: see loaders/catalog_cache.py); a delta's
        # record writes again the blobs of the files it did not touch as they were read
        # (:meth:`reuse_parts`) and marshals those of the changed files only
        state = {k: v for k, v in self.__dict__.items() if k != "_parts"}
        kept: dict[str, tuple[bytes, bytes]] = self.__dict__.get("_parts", {})
        grouped: dict[str, dict[str, MetricFacts]] = {}
        for mid, facts in self.facts.items():
            if facts[FILE] not in kept:
                grouped.setdefault(facts[FILE], {})[mid] = facts
        parts: dict[str, tuple[bytes, bytes]] = {}
        for file in [*grouped, *self.refs]:
            if file not in parts:
                parts[file] = kept.get(file) or (
                    marshal.dumps(grouped.get(file, {})),
                    marshal.dumps(self.refs.get(file)),
                )
        state["facts"] = state["refs"] = None
        state["parts"] = parts
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        parts: dict[str, tuple[bytes, bytes]] = state.pop("parts")
        facts: dict[str, MetricFacts] = {}
        refs: dict[str, list[str]] = {}
        for file, (facts_blob, refs_blob) in parts.items():
            facts.update(marshal.loads(facts_blob))
            declared = marshal.loads(refs_blob)
            if declared is not None:
                refs[file] = declared
        state["facts"], state["refs"], state["_parts"] = facts, refs, parts
        self.__dict__.update(state)

    def reuse_parts(self, older: LoadRecord, changed: Iterable[str]) -> None:
        """Write the files not in ``changed`` as ``older`` (the record this one was made from
        by a delta, which changes nothing a file it did not read declared) was read."""
        gone = set(changed)
        parts = {f: p for f, p in older.__dict__.get("_parts", {}).items() if f not in gone}
        object.__setattr__(self, "_parts", parts)


def record_of(
    source: CatalogSource,
    files: CatalogFiles,
    cache: FileCache | None,
    lint: tuple[LintIssue, ...] | None = None,
) -> LoadRecord:
    """The record of a load of ``source`` read from ``files`` (through ``cache``)."""
    fingerprint = cache.fingerprint if cache is not None else ""
    refs: dict[str, list[str]] = {}
    posix: dict[str, str] = {}  # a few files, many nodes: each file's path converted once
    for ref, (file, _line) in source.origins.items():
        rel = posix.get(file)
        if rel is None:
            rel = posix[file] = Path(file).as_posix()
        refs.setdefault(rel, []).append(str(ref))
    metrics = [n for n in source.graph.nodes if isinstance(n, Metric)]
    undeclared = frozenset(str(n.ref) for n in metrics if not n.version)
    file_of = {ref: file for ref, (file, _line) in source.origins.items()}
    facts = metric_facts(metrics, source.graph.edges, file_of)
    keys = {Path(rel).as_posix(): key for rel, key in (cache.keys if cache else {}).items()}
    meta = {k: v for k, v in source.graph.meta.items() if k != "summary"}
    return LoadRecord(
        fingerprint, dict(files.files), refs, undeclared, keys, facts, lint, current(), meta
    )


#: the shape of :class:`LoadRecord` (part of a record's name: another shape is never read)
RECORD_FORMAT = "r4"


def save_record(
    cache: FileCache | None,
    files: CatalogFiles,
    record: LoadRecord,
    *,
    changed: bool = True,
    info: StoreInfo | None = None,
) -> None:
    """Keep ``record`` for the next load, under the digest the store names its files by.

    A load that recorded a revision wrote ``files.digest`` into the store (``meta["files"]``);
    a load that changed nothing (``changed=False``) wrote nothing, so the store still names
    the files of an earlier load: the record of these files — which read as the same graph —
    replaces that one, so that the next load compares with these files, not with older ones
    (else an edit undone, or a settings file changed without effect, would be reported again
    by every later load). ``info``: the store's state after the load."""
    if cache is None or files.linked:
        return
    digest: str | None = files.digest
    if not changed:
        marker = info.meta.get("files") if info is not None else None
        digest = None
        if (
            info is not None
            and isinstance(marker, dict)
            and marker.get("digest")
            and marker.get("graph") == info.meta.get("digest")
        ):
            digest = str(marker["digest"])
    if digest is not None:
        cache.save_record(f"{digest}-{RECORD_FORMAT}", record)


@dataclass(frozen=True)
class FullLoad:
    """The load is a full one, and why (said in the output)."""

    reason: str


@dataclass(frozen=True)
class Delta:
    """A load of the files ``changed`` as a delta (planned by :func:`plan_delta`)."""

    changed: list[str]
    head: int
    info: StoreInfo
    planned: PlannedRevision | None
    counts: dict[str, int]
    digest: str
    meta: dict[str, Any]
    auto_versions: dict[str, str] = field(default_factory=dict)
    #: nodes changed, by kind (for the output: "1 metric changed")
    kinds: dict[str, int] = field(default_factory=dict)
    #: the record of this load (the last one's, with the changed files' nodes)
    record: LoadRecord | None = None


def changed_files(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Files added, changed or removed between two records, sorted."""
    return sorted(rel for rel in old.keys() | new.keys() if old.get(rel) != new.get(rel))


def decide(
    store: GraphStore, files: CatalogFiles, cache: FileCache | None
) -> tuple[LoadRecord, list[str], int, StoreInfo] | FullLoad:
    """Whether a load of ``files`` can be a delta: the record of the stored graph's files and
    the files changed since, or why it is a full load (named cases, see the module)."""
    from core.i18n import _

    try:
        head = store.head()
        info = store.info() if head > 0 else None
    except (EmptyStoreError, StoreError):
        info = None
    if info is None:
        return FullLoad(_("first load"))
    marker = info.meta.get("files")
    if not isinstance(marker, dict) or not marker.get("digest"):
        return FullLoad(_("the stored graph was not loaded from files"))
    if marker.get("graph") != info.meta.get("digest") or not info.meta.get("source_digest"):
        return FullLoad(_("the stored graph changed since its files were loaded"))
    if files.linked:
        return FullLoad(_("the catalog has a linked folder"))
    name = f"{marker['digest']}-{RECORD_FORMAT}"
    record = cache.record(name) if cache is not None else None
    if not isinstance(record, LoadRecord):
        # the per-file cache is kept per catalog directory: the last load read another copy
        # of these files (a load of an identical copy records nothing), or it was cleared
        return FullLoad(
            _(
                "this directory's per-file cache has no record of the last load (it read "
                "another copy of the files, or the cache was cleared)"
            )
        )
    if cache is None or record.fingerprint != cache.fingerprint:
        return FullLoad(_("the loader changed since the last load"))
    changed = changed_files(record.files, files.files)
    if MANIFEST in changed:
        return FullLoad(_("catalog settings changed ({file})", file=MANIFEST))
    if len(changed) > max(FEW_FILES, int(len(files.files) * MANY_FILES)):
        return FullLoad(_("{n} of {total} files changed", n=len(changed), total=len(files.files)))
    return record, changed, head, info


def plan_delta(*args: Any, **kwargs: Any) -> Delta | None:
    """:func:`_plan_delta` with the cyclic garbage collector paused (a whole catalog is in
    memory: each collection would walk it)."""
    with paused_gc():
        return _plan_delta(*args, **kwargs)


def _plan_delta(
    store: GraphStore,
    source: CatalogSource,
    files: CatalogFiles,
    record: LoadRecord,
    changed: list[str],
    head: int,
    info: StoreInfo,
    draft: RevisionDraft,
    *,
    check_versions: bool,
) -> Delta | None:
    """The delta that turns the stored graph into ``source.graph``: only the nodes declared by
    the files ``changed`` (before and after) and the edges touching them are compared.
    ``None`` when the delta cannot say what a full load would record (then load in full).

    Raises
    ------
    VersionError
        With ``check_versions``: a metric's version is not bumped as its change requires.
    """
    graph = source.graph
    touched = set(changed) | {str(Path(rel)) for rel in changed}  # as origins spell them
    new_refs = {ref for ref, (file, _line) in source.origins.items() if file in touched}
    old_refs = {NodeRef.parse(r) for rel in changed for r in record.refs.get(rel, ())}
    affected = new_refs | old_refs
    stored = store.stored_rows(affected)
    nodes = tuple(n for n in graph.nodes if n.ref in new_refs)
    edges = tuple(e for e in graph.edges if e.source in affected or e.target in affected)
    new_record = _updated(record, files, changed, source, nodes)
    return _planned(
        PlanInput(graph.name, graph.meta, nodes, edges, stored, record, new_record),
        Standing(files, changed, head, info),
        draft,
        check_versions=check_versions,
    )


def plan_partial(
    store: GraphStore,
    part: PartialRead,
    files: CatalogFiles,
    record: LoadRecord,
    changed: list[str],
    head: int,
    info: StoreInfo,
    draft: RevisionDraft,
    keys: dict[str, str],
    lint: tuple[LintIssue, ...] | None,
    *,
    check_versions: bool,
) -> Delta | None:
    """:func:`plan_delta` of a delta read alone (:func:`loaders.partial.read_partial`): only
    the metrics added, changed or removed, and the edges touching them — those their new
    definitions make, and the stored ones the other metrics make."""
    affected = set(part.changed) | part.removed
    stored = store.stored_rows(affected)
    nodes = tuple(part.changed.values())
    edges = [e for e in part.state.edges.values() if producer(e) in part.changed]
    for (source, rel, target), props in stored.edges.items():
        edge = make_edge(NodeRef.parse(source), NodeRef.parse(target), Relation(rel), dict(props))
        made_by = producer(edge)
        if made_by is None or made_by not in affected:
            edges.append(edge)
    gone = {r for rel in changed for r in record.refs.get(rel, ())}
    undeclared = set(record.undeclared - gone) | {
        str(r) for r, n in part.state.nodes.items() if isinstance(n, Metric) and not n.version
    }
    new_keys = {rel: k for rel, k in record.keys.items() if rel not in changed}
    new_keys.update({Path(rel).as_posix(): k for rel, k in keys.items()})
    new_record = LoadRecord(
        record.fingerprint,
        dict(files.files),
        part.refs,
        frozenset(undeclared),
        new_keys,
        part.facts,
        lint,
        current(),
        record.meta,
    )
    new_record.reuse_parts(record, changed)
    name = str(part.meta.get("name") or info.catalog or "")
    return _planned(
        PlanInput(name, part.meta, nodes, tuple(edges), stored, record, new_record),
        Standing(files, changed, head, info),
        draft,
        check_versions=check_versions,
    )


@dataclass(frozen=True)
class PlanInput:
    """What a delta is planned from: the new definitions of the nodes the changed files
    declare(d), the edges touching them, and the store's rows of the same nodes."""

    #: the catalog's name and meta, as a whole read makes them
    name: str
    graph_meta: dict[str, Any]
    #: the nodes the changed files declare now (added or changed)
    nodes: tuple[BaseNode, ...]
    #: every edge touching a node the changed files declare(d), as the files make it now
    edges: tuple[Edge, ...]
    #: the store's rows of those nodes and edges (:meth:`store.base.GraphStore.stored_rows`)
    stored: Snapshot
    #: the record of the last load, and of this one
    record: LoadRecord
    new_record: LoadRecord


@dataclass(frozen=True)
class Standing:
    """Where the load stands: the files read, those changed since the last load, and the
    store's head and info when the load began (:func:`decide`)."""

    files: CatalogFiles
    changed: list[str]
    head: int
    info: StoreInfo


def _planned(
    plan: PlanInput, standing: Standing, draft: RevisionDraft, *, check_versions: bool
) -> Delta | None:
    name, nodes, edges, stored = plan.name, plan.nodes, plan.edges, plan.stored
    changed, head, info = standing.changed, standing.head, standing.info
    partial = CatalogGraph(name, nodes, edges, {})
    versioned, auto = with_auto_versions(stored, partial)
    diff = diff_snapshots(stored, snapshot(versioned))
    if check_versions and diff.problems:
        raise VersionError(diff.problems)
    old_source = str(info.meta["source_digest"])
    source_digest = digest_update(
        old_source,
        added=[node_item(n.ref, n.props()) for n in nodes]
        + [edge_item(edge_key(e), e.props) for e in edges],
        removed=[
            node_item(ref, _as_read(ref, props, plan.record.undeclared))
            for ref, props in stored.nodes.items()
        ]
        + [edge_item(key, props) for key, props in stored.edges.items()],
    )
    counts = _counts(info.counts, diff)
    if source_digest == old_source:  # the same graph read: nothing is recorded (as in full)
        return Delta(changed, head, info, None, counts, str(info.meta["digest"]), {})
    if diff.empty:
        return None  # only the files' digest changes: a full load records exactly that
    digest = diff_digest(str(info.meta["digest"]), diff)
    meta = {
        **plan.graph_meta,
        "source_digest": source_digest,
        "files": {"digest": standing.files.digest, "graph": digest},
    }
    final = draft.model_copy(update={"version_check": check_versions, "auto_versions": auto})
    summary = RevisionSummary(
        number=head + 1,
        created_at=now(),
        catalog=name,
        author=final.author,
        message=final.message,
        source=final.source,
        counts=counts,
        version_check=final.version_check,
        auto_versions=final.auto_versions,
        nodes=count_changes(diff.nodes),
        edges=count_changes(diff.edges),
    )
    kinds = Counter(c.ref.split(":", 1)[0] for c in diff.nodes)
    return Delta(
        changed,
        head,
        info,
        PlannedRevision(summary, diff),
        counts,
        digest,
        meta,
        auto,
        dict(kinds),
        plan.new_record,
    )


def _updated(
    record: LoadRecord,
    files: CatalogFiles,
    changed: list[str],
    source: CatalogSource,
    nodes: tuple[BaseNode, ...],
) -> LoadRecord:
    """``record`` with the nodes of the files ``changed`` as ``source`` read them."""
    refs = {rel: r for rel, r in record.refs.items() if rel not in changed}
    gone = {r for rel in changed for r in record.refs.get(rel, ())}
    undeclared = set(record.undeclared - gone)
    for node in nodes:
        file = Path(source.origins[node.ref][0]).as_posix()
        refs.setdefault(file, []).append(str(node.ref))
        if isinstance(node, Metric) and not node.version:
            undeclared.add(str(node.ref))
    return LoadRecord(record.fingerprint, dict(files.files), refs, frozenset(undeclared))


def _counts(before: dict[str, int], diff: GraphDiff) -> dict[str, int]:
    """The graph's counts after ``diff`` (as :meth:`CatalogGraph.counts` counts them)."""
    counts = {k.value: before.get(k.value, 0) for k in NodeKind}
    counts["edges"] = before.get("edges", 0)
    for change in diff.nodes:
        kind = change.ref.split(":", 1)[0]
        counts[kind] += {ChangeOp.ADDED: 1, ChangeOp.REMOVED: -1}.get(change.op, 0)
    for edge in diff.edges:
        counts["edges"] += {ChangeOp.ADDED: 1, ChangeOp.REMOVED: -1}.get(edge.op, 0)
    return counts


def _as_read(ref: str, props: Any, undeclared: frozenset[str]) -> dict[str, Any]:
    """A stored node's properties as its file declared them (without an automatic version)."""
    if ref in undeclared:
        return {k: v for k, v in props.items() if k != "version"}
    return dict(props)


def describe(delta: Delta) -> str:
    """ "delta: 1 file, 1 metric changed" (said by ``kpigraph load``)."""
    from core.i18n import _, ngettext

    n = len(delta.changed)
    files = ngettext("%(n)s file", "%(n)s files", n) % {"n": n}
    if delta.planned is None or not delta.kinds:
        return _("delta: {files}, no node changed", files=files)
    metrics = delta.kinds.get(NodeKind.METRIC.value, 0)
    others = sum(delta.kinds.values()) - metrics
    parts = [ngettext("%(n)s metric", "%(n)s metrics", metrics) % {"n": metrics}] if metrics else []
    if others:
        parts.append(ngettext("%(n)s other node", "%(n)s other nodes", others) % {"n": others})
    return _("delta: {files}, {nodes} changed", files=files, nodes=", ".join(parts))
