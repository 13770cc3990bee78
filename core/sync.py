"""The catalog files and the store, kept one source of truth.

The catalog directory is the source of truth; the store is its governed, published copy. Every
revision records where it came from: a load of files (``source: {"path": …, "git_commit": …}``)
or an applied change request (``source: {"change_request": N, "applied_by": …}``). The newest
revision that came from files is the *base*: what the files said when they were last loaded.

:func:`store_ahead` answers "what does the store have that the files lack" — the changes of the
requests applied since the base, compared three ways (:mod:`graph_schema.merge`) with what the
files say now. ``kpigraph pull`` writes them into the files (:mod:`core.writeback`);
``kpigraph load`` refuses to revert them (:func:`check_load`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.i18n import _
from graph_schema.errors import KpigraphError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.merge import FieldConflict, MetricMerge, ThreeWay, compare_metric, three_way
from graph_schema.revisions import ChangeOp, RevisionSummary
from store.base import GraphStore

PAGE = 200


class StaleFilesError(KpigraphError):
    """A load would revert changes the store got from change requests the files lack."""

    code = "stale_files"


class SyncConflictError(KpigraphError):
    """The files and the store changed the same field to different values."""

    code = "sync_conflict"


def is_file_load(source: dict[str, Any]) -> bool:
    """A revision that came from catalog files (not from a change request)."""
    return bool(source) and "change_request" not in source and "path" in source


@dataclass(frozen=True)
class AppliedRequest:
    """A change request applied to the store after the files' last load."""

    revision: int
    change_request: int
    author: str | None
    reason: str
    #: metric id → (properties before, properties after) in this revision
    metrics: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = field(
        default_factory=dict
    )
    #: metric id → the fields it changed (dotted, as revisions list them)
    fields: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreAhead:
    """What the store has that the files lack (:func:`store_ahead`)."""

    base: int | None
    requests: list[AppliedRequest]
    comparison: ThreeWay
    #: metric id → the revision whose state of it the files hold (a write-back of a request
    #: since the load); a metric not named here is compared with the load's state
    synced: dict[str, int] = field(default_factory=dict)

    @property
    def missing(self) -> list[MetricMerge]:
        """Metrics whose store changes the files lack."""
        return self.comparison.store_ahead

    @property
    def conflicts(self) -> list[FieldConflict]:
        return self.comparison.conflicts

    @property
    def in_sync(self) -> bool:
        return not self.missing and not self.conflicts

    def missing_requests(self) -> list[AppliedRequest]:
        """The requests that changed a metric whose store changes the files lack."""
        ids = {m.id for m in self.missing} | {c.metric for c in self.conflicts}
        return [r for r in self.requests if ids & set(r.metrics)]

    def lines(self) -> list[str]:
        """One line per missing request (#N, metric, fields), then one per conflict."""
        out: list[str] = []
        missing = {m.id: m for m in self.missing}
        for request in self.missing_requests():
            for metric_id in sorted(request.metrics):
                merge = missing.get(metric_id)
                if merge is None:
                    continue
                fields = request.fields.get(metric_id) or merge.store_fields
                out.append(
                    _(
                        "change request #{number} (revision {revision}, {author}): "
                        "Metric:{metric} — {fields}",
                        number=request.change_request,
                        revision=request.revision,
                        author=request.author or _("unknown"),
                        metric=metric_id,
                        fields=_(", ").join(fields),
                    )
                )
        out += [_("conflict: {what}", what=c.describe()) for c in self.conflicts]
        return out


def _revisions(store: GraphStore) -> Iterator[RevisionSummary]:
    """Every revision, newest first."""
    before: int | None = None
    while True:
        page = store.revisions(limit=PAGE, before=before)
        if not page:
            return
        yield from page
        before = page[-1].number
        if before <= 1:
            return


def file_base(store: GraphStore) -> tuple[int | None, list[RevisionSummary]]:
    """The newest revision that came from files, and the change-request revisions after it
    (oldest first). ``(None, [])`` when no revision came from files."""
    if store.head() == 0:
        return None, []
    after: list[RevisionSummary] = []
    for summary in _revisions(store):
        if is_file_load(summary.source):
            return summary.number, list(reversed(after))
        if "change_request" in summary.source:
            after.append(summary)
    return None, []


def applied_requests(store: GraphStore, summaries: list[RevisionSummary]) -> list[AppliedRequest]:
    out: list[AppliedRequest] = []
    for summary in summaries:
        revision = store.revision(summary.number)
        metrics: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {}
        fields: dict[str, list[str]] = {}
        for change in revision.node_changes:
            ref = NodeRef.parse(change.ref)
            if ref.kind is not NodeKind.METRIC:
                continue
            metrics[ref.id] = (change.old, change.new)
            if change.op is ChangeOp.MODIFIED:
                fields[ref.id] = [f.field for f in change.fields]
            else:
                fields[ref.id] = [f"(metric {change.op.value})"]
        number = summary.source.get("change_request")
        message = summary.message or ""
        prefix = f"change request #{number}: "
        out.append(
            AppliedRequest(
                revision=summary.number,
                change_request=int(number) if isinstance(number, int | str) else 0,
                author=summary.author,
                reason=message[len(prefix) :] if message.startswith(prefix) else message,
                metrics=metrics,
                fields=fields,
            )
        )
    return out


def store_ahead(store: GraphStore, files: CatalogGraph) -> StoreAhead:
    """What the store has that the files (the graph ``files`` read from the catalog) lack: the
    three-way comparison, over the metrics the requests since the files' last load changed,
    of the base (the store as of that load), the files and the store now."""
    base, summaries = file_base(store)
    if base is None or not summaries:
        return StoreAhead(base, [], ThreeWay({}))
    requests = applied_requests(store, summaries)
    ids = sorted({m for r in requests for m in r.metrics})
    refs = [NodeRef(NodeKind.METRIC, i) for i in ids]
    now = store.get_nodes(refs)
    in_files = {n.id: n.props() for n in files.nodes if n.kind is NodeKind.METRIC and n.id in ids}
    base_props: dict[str, dict[str, Any] | None] = {}
    for ref in refs:
        node = store.node_at(ref, base)
        base_props[ref.id] = node.props() if node is not None else None
    synced: dict[str, int] = {}
    for request in reversed(requests):  # newest first: the files' last write-back of each
        for metric_id, (_old, new) in request.metrics.items():
            if metric_id in synced or metric_id not in base_props:
                continue
            if _same(metric_id, new, in_files.get(metric_id)):
                synced[metric_id] = request.revision
                base_props[metric_id] = new
    store_props = {ref.id: node.props() for ref, node in now.items()}
    bases = {k: v for k, v in base_props.items() if v is not None}
    return StoreAhead(base, requests, three_way(bases, in_files, store_props), synced)


def _same(metric_id: str, state: dict[str, Any] | None, files: dict[str, Any] | None) -> bool:
    """The files hold ``state`` of the metric (as a write-back of it leaves them)."""
    if state is None or files is None:
        return state is None and files is None
    merge = compare_metric(metric_id, state, files, state)
    return not (merge.to_files or merge.to_load or merge.conflicts)


def check_load(store: GraphStore, files: CatalogGraph, *, force_files: bool = False) -> StoreAhead:
    """Refuse a load of ``files`` that would revert changes of applied change requests.

    Raises
    ------
    StaleFilesError
        The files lack changes of requests applied since their last load (or change the same
        fields otherwise): each request is listed with its metric and fields. Not raised with
        ``force_files`` (the caller records ``"force_files": true`` in the revision).
    """
    ahead = store_ahead(store, files)
    if ahead.in_sync or force_files:
        return ahead
    where = files.meta.get("source") or _("the catalog directory")
    listing = "".join(f"\n  {line}" for line in ahead.lines())
    what = (
        _(
            "the catalog files lack changes the store got from change requests since their "
            "last load (revision {revision}); loading them would revert approved changes:",
            revision=ahead.base,
        )
        if ahead.missing
        else _(
            "the catalog files conflict with changes the store got from change requests since "
            "their last load (revision {revision}); loading them would revert approved changes:",
            revision=ahead.base,
        )
    )
    advice = _(
        "run 'kpigraph pull {where}' to write them into the files (then load), or load with "
        "--force-files to overwrite them with the files",
        where=where,
    )
    raise StaleFilesError(
        f"{what}{listing}\n{advice}",
        {
            "requests": ahead.lines(),
            "base_revision": ahead.base,
            "conflicts": [c.describe() for c in ahead.conflicts],
        },
    )
