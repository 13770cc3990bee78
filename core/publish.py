"""Publishing a catalog as a revision: the version rules, automatic versions, and the load.

``kpigraph load`` and an approved change request (governance) both go through
:func:`publish`; the store records the revision in the same transaction as the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.bulk import paused_gc
from core.i18n import _
from graph_schema.diff import (
    diff_snapshots,
    digest_update,
    graph_digest,
    node_item,
    snapshot,
    with_auto_versions,
)
from graph_schema.errors import ConflictError, EmptyStoreError, StoreError, VersionError
from graph_schema.governance import LedgerCommit
from graph_schema.graph import CatalogGraph, stored_text
from graph_schema.models import Metric
from graph_schema.revisions import RevisionDraft
from store.base import GraphStore, ProgressFn, StoreInfo
from store.history import PlannedRevision, now, plan_revision

#: Loads retried after losing a race to another load (only when the caller set no head).
ATTEMPTS = 3


@dataclass(frozen=True)
class PublishResult:
    """What a publish did. ``revision`` is ``None`` when nothing changed (nothing recorded)."""

    info: StoreInfo
    revision: int | None
    head: int
    auto_versions: dict[str, str] = field(default_factory=dict)
    #: nothing was read: the catalog's files are those the stored graph was read from
    files_unchanged: bool = False
    #: written as a delta of the files that changed (:mod:`core.reload`), not whole
    delta: bool = False
    #: how it was loaded, said to the user ("delta: 1 file, 1 metric changed", "full load: …")
    how: str | None = None

    @property
    def changed(self) -> bool:
        return self.revision is not None


def already_loaded(store: GraphStore, files: str) -> PublishResult | None:
    """The store's state when its graph is still the one read from catalog files with the
    digest ``files`` (:func:`loaders.catalog_cache.files_digest`), else ``None``.

    :func:`publish` records ``meta["files"] = {"digest": files, "graph": <graph digest>}``;
    the pair must still hold: a graph changed since (a change request applied, a load from
    elsewhere) has another graph digest, so the files are read again.
    """
    try:
        info = store.info()
    except StoreError:  # empty, or unreadable: the load itself says what to do
        return None
    recorded = info.meta.get("files")
    if not isinstance(recorded, dict) or recorded.get("digest") != files:
        return None
    if recorded.get("graph") != info.meta.get("digest"):
        return None
    head = store.head()
    return PublishResult(info, None, head, files_unchanged=True) if head > 0 else None


def publish(
    store: GraphStore,
    graph: CatalogGraph,
    draft: RevisionDraft | None = None,
    *,
    check_versions: bool = True,
    expect_head: int | None = None,
    progress: ProgressFn | None = None,
    files: str | None = None,
    commit: LedgerCommit | None = None,
) -> PublishResult:
    """Load ``graph`` as a new revision, enforcing the version rules.

    1. An unchanged catalog (same content digest as the loaded one) records nothing.
    2. Metrics without ``version`` get one (``1.0.0``, then bumped per change class).
    3. With ``check_versions``, a metric whose declared version is not bumped as its change
       class requires, or goes backwards, refuses the whole load (:class:`VersionError`,
       one line per metric with the version to write).
    4. The store loads it with ``expect_head``: a load that raced another is refused with
       :class:`ConflictError`; without ``expect_head`` it is re-checked and retried.

    ``files``: the digest of the catalog files ``graph`` was read from, recorded so that the
    next load of the same files can skip reading them (:func:`already_loaded`).

    ``commit``: a change request's ledger write, made in the revision's transaction (an
    apply); :class:`~graph_schema.governance.ChangeRaceError` if the request moved.

    Raises
    ------
    VersionError, ConflictError
        Nothing was changed.
    """
    with paused_gc():
        return _publish(store, graph, draft, check_versions, expect_head, progress, files, commit)


def _publish(
    store: GraphStore,
    graph: CatalogGraph,
    draft: RevisionDraft | None,
    check_versions: bool,
    expect_head: int | None,
    progress: ProgressFn | None,
    files: str | None,
    commit: LedgerCommit | None = None,
) -> PublishResult:
    draft = draft or RevisionDraft()
    # the digest of the graph as read (before automatic versions): an unchanged catalog is
    # recognised by it; the stored graph's own digest ("digest") is updated by deltas
    metric_hashes: dict[str, int] = {}
    # a first load writes each node's stored text: made from the props the digest reads
    texts: list[str] | None = [] if store.head() == 0 else None
    source_digest = graph_digest(graph.nodes, graph.edges, metric_hashes=metric_hashes, texts=texts)
    for attempt in range(ATTEMPTS):
        head = store.head()
        if expect_head is not None and head != expect_head:
            raise ConflictError(
                _(
                    "the graph moved to revision {head}; this change was prepared against "
                    "revision {expect_head} — nothing was changed, read it again and retry",
                    head=head,
                    expect_head=expect_head,
                ),
                {"head": head, "expected": expect_head},
            )
        try:
            info = store.info()
        except EmptyStoreError:
            info = None
        unchanged = (
            info is not None and head > 0 and info.meta.get("source_digest") == source_digest
        )
        if unchanged and commit is None and info is not None:
            return PublishResult(info, None, head)
        stored_snap = store.catalog_data() if info is not None else None
        versioned, auto = with_auto_versions(stored_snap, graph)
        # updated in place (the unversioned metrics' texts freed): for this attempt only, a
        # retry serialises again
        node_texts, texts = texts, None
        digest = _updated_digest(source_digest, graph, versioned, metric_hashes, node_texts)
        meta = {**graph.meta, "digest": digest, "source_digest": source_digest}
        meta.pop("files", None)
        if files is not None:
            meta["files"] = {"digest": files, "graph": digest}
        versioned = CatalogGraph(versioned.name, versioned.nodes, versioned.edges, meta)
        if node_texts is not None:
            versioned.keep_node_texts(node_texts)
        final = draft.model_copy(update={"version_check": check_versions, "auto_versions": auto})
        planned: PlannedRevision | None = None
        problems: list[str] = []  # a first load breaks no version rule
        if stored_snap is not None and head > 0:  # the revision, planned once: the store uses it
            planned = plan_revision(head, stored_snap, versioned, final, now())
            problems = planned.diff.problems if planned is not None else []
        elif stored_snap is not None:  # a graph loaded before revisions were recorded
            problems = diff_snapshots(stored_snap, snapshot(versioned)).problems
        if check_versions and problems:
            raise VersionError(problems)
        try:
            info = store.load(
                versioned,
                progress,
                revision=final,
                expect_head=head,
                planned=planned,
                commit=commit,
            )
        except ConflictError:
            if expect_head is not None or attempt == ATTEMPTS - 1:
                raise
            continue
        revision = info.meta.get("revision")
        return PublishResult(info, revision, revision or head, auto if revision is not None else {})
    raise AssertionError("unreachable")


def _updated_digest(
    digest: str,
    graph: CatalogGraph,
    versioned: CatalogGraph,
    hashes: dict[str, int],
    texts: list[str] | None,
) -> str:
    """The digest of ``versioned`` from that of ``graph``: only the metrics that got an
    automatic version differ (the same objects otherwise); ``hashes``: the item hash of each
    metric of ``graph`` (what :func:`graph_digest` added for it). ``texts`` (the stored text
    of each node of ``graph``, if made) is updated to ``versioned``'s."""
    if versioned is graph:
        return digest
    added, removed, removed_hashes = [], [], []
    for i, (old, new) in enumerate(zip(graph.nodes, versioned.nodes, strict=True)):
        if old is not new:
            known = hashes.get(old.id) if isinstance(old, Metric) else None
            if known is None:
                removed.append(node_item(old.ref, old.props()))
            else:
                removed_hashes.append(known)
            props = new.props()
            added.append(node_item(new.ref, props))
            if texts is not None:
                texts[i] = stored_text(props)
    return digest_update(digest, added=added, removed=removed, removed_hashes=removed_hashes)
