"""An approved change as a *delta*: the one metric it changes and that metric's own edges,
validated against the published graph through the store's seam and written by
:meth:`store.base.GraphStore.apply` — the cost of an apply is the change, not the catalog
(issue #23).

What is read: the metric, the edges its definition produces (owner/reviewer, fields, formula
and drivers inputs, causes, parent, dashboards, dimensions), and what
:func:`loaders.metric_check.check_metric` reads to validate it (the unit ``propose`` uses too):
the nodes it refers to and — only when the new definition adds formula inputs or a parent —
one traversal for cycles. What is
written: that metric's row, the edge rows that changed, the revision of exactly those changes
and the request's "applied", in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph_schema.diff import Snapshot, diff_digest, diff_snapshots, edge_key
from graph_schema.errors import CatalogError, CatalogIssue
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Edge, Metric
from graph_schema.relations import Relation
from graph_schema.revisions import RevisionDraft, RevisionSummary, count_changes
from loaders.metric_check import check_metric
from loaders.validate import plain_mapping
from store.base import GraphReader, Walk
from store.history import PlannedRevision

#: Edges a metric's definition produces, by the end the metric is at.
INTO_METRIC = frozenset(
    {Relation.INPUT_TO, Relation.DRIVES, Relation.FEEDS, Relation.OWNS, Relation.REVIEWS}
)
FROM_METRIC = frozenset(
    {Relation.CAUSES, Relation.ROLLS_UP_TO, Relation.SHOWN_ON, Relation.SLICED_BY}
)


@dataclass(frozen=True)
class Delta:
    """What applying one definition writes: the revision (its diff holds only the metric and
    its own edges), the graph's counts and digest after it."""

    planned: PlannedRevision
    counts: dict[str, int]
    digest: str
    node: Metric


def own_edges(reader: GraphReader, ref: NodeRef) -> list[Edge]:
    """The stored edges that ``ref``'s definition produced."""
    rels = sorted(INTO_METRIC | FROM_METRIC)
    return [
        e
        for e in reader.edges_of([ref], Walk.UNDIRECTED, rels)
        if (e.target == ref and e.type in INTO_METRIC)
        or (e.source == ref and e.type in FROM_METRIC)
    ]


def metric_delta(
    reader: GraphReader,
    ref: NodeRef,
    props: dict[str, Any],
    *,
    head: int,
    draft: RevisionDraft,
    created_at: str,
    where: str = "definition",
) -> Delta:
    """The delta that puts the metric ``props`` (its whole new definition) in place of
    ``ref`` in the graph ``reader`` reads (revision ``head``).

    Raises
    ------
    CatalogError
        The definition does not validate (unknown references with suggestions, a cycle:
        the errors a whole-graph check gives).
    """
    checked = check_metric(reader, plain_mapping(props), ref, where=where)
    node = checked.node
    if node.ref != ref:  # submit checks it; a ledger edited by hand is not trusted either
        raise CatalogError(
            [CatalogIssue(where, None, f"id: {node.id!r} is not {ref.id!r}", field="id")]
        )
    _check_sql(reader, node, where)
    new_edges = checked.edges
    info = reader.info()
    current = reader.get_nodes([ref]).get(ref)
    old = Snapshot(
        nodes={str(ref): current.props()} if current is not None else {},
        edges={edge_key(e): e.props for e in own_edges(reader, ref)} if current else {},
    )
    new = Snapshot(nodes={str(ref): node.props()}, edges={edge_key(e): e.props for e in new_edges})
    diff = diff_snapshots(old, new)
    counts = dict(info.counts)
    if current is None:
        counts[NodeKind.METRIC.value] = counts.get(NodeKind.METRIC.value, 0) + 1
    edge_counts = count_changes(diff.edges)
    counts["edges"] = counts.get("edges", 0) + edge_counts.added - edge_counts.removed
    summary = RevisionSummary(
        number=head + 1,
        created_at=created_at,
        catalog=info.catalog or "",
        author=draft.author,
        message=draft.message,
        source=draft.source,
        counts=counts,
        version_check=draft.version_check,
        auto_versions=draft.auto_versions,
        nodes=count_changes(diff.nodes),
        edges=edge_counts,
    )
    digest = diff_digest(str(info.meta.get("digest") or "0"), diff)
    return Delta(PlannedRevision(summary, diff), counts, digest, node)


def _check_sql(reader: GraphReader, node: Metric, where: str) -> None:
    """The SQL sandbox again at apply (issue #21): a request stored before the check existed,
    or a ledger written by hand, never brings unsafe SQL into the graph. Table names are the
    lint's and the engine's to check, and parsing was checked at submit in the system's
    dialect; functions, statements and characters are refused here."""
    if not node.sql:
        return
    from graph_schema.models import System
    from graph_schema.sql_safety import UnsafeSQLError, check_metric_sql

    dialect = None
    systems = [NodeRef(NodeKind.SYSTEM, f.split(".", 1)[0]) for f in node.fields[:1]]
    for system in reader.get_nodes(systems).values():
        dialect = system.dialect if isinstance(system, System) else None
    dialect = dialect or reader.info().meta.get("dialect")
    try:
        check_metric_sql(node.sql, tables=None, dialect=dialect)
    except UnsafeSQLError as exc:
        if exc.kind == "unsafe":
            raise CatalogError(
                [CatalogIssue(where, None, f"sql: {exc.message}", field="sql")]
            ) from exc
    except ValueError:  # a dialect sqlglot does not know: submit's lint reported it
        pass
