"""The seam between analysis and storage: the :class:`GraphStore` protocol and its value types.

Both backends (``embedded`` and ``neo4j``) implement it and pass one contract suite
(``tests/contract``), returning identical answers, ordering included.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from graph_schema.diff import Snapshot
from graph_schema.errors import BackendUnavailableError
from graph_schema.governance import LedgerCommit
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from graph_schema.revisions import NodeHistoryEntry, Revision, RevisionDraft, RevisionSummary

if TYPE_CHECKING:
    from store.history import PlannedRevision

#: ``progress(done, total)`` is called while loading.
ProgressFn = Callable[[int, int], None]

#: Level order used for ranking (L0 first); nodes without a level come last.
LEVEL_ORDER = {"L0": 0, "L1": 1, "L2": 2, "L3": 3}
NO_LEVEL = 9


class Walk(StrEnum):
    """Which way a traversal follows edges."""

    FORWARD = "forward"  # along edges: downstream
    BACKWARD = "backward"  # against edges: upstream
    UNDIRECTED = "undirected"  # either way: how two nodes connect


H = TypeVar("H", bound=Hashable)


def hop_depths(
    root: H, neighbours: Callable[[H], Iterable[H]], max_depth: int | None
) -> dict[H, int]:
    """Breadth-first search from ``root``: the shortest hop count of every node reached
    through ``neighbours`` (within ``max_depth`` hops when given), ``root`` itself left out,
    in the order the nodes are first reached. What :meth:`GraphReader.traverse` answers, for
    the backends that walk an in-memory graph.

    Examples
    --------
    >>> hop_depths("a", {"a": ["b"], "b": ["c", "a"], "c": []}.__getitem__, None)
    {'b': 1, 'c': 2}
    >>> hop_depths("a", {"a": ["b"], "b": ["c"], "c": []}.__getitem__, 1)
    {'b': 1}
    """
    depth = {root: 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        d = depth[node]
        if max_depth is not None and d >= max_depth:
            continue
        for other in neighbours(node):
            if other not in depth:
                depth[other] = d + 1
                queue.append(other)
    del depth[root]
    return depth


@dataclass(frozen=True)
class SearchQuery:
    """A search over node names, ids, abbreviations and definitions.

    ``text`` empty or ``None`` lists everything that passes the filters. Filters apply to
    metrics: ``domain``, ``level``, ``status``, ``priority``, ``role``, ``horizon`` match
    exactly; ``department`` matches the owner or the reviewer.
    """

    text: str | None = None
    kinds: frozenset[NodeKind] = frozenset({NodeKind.METRIC})
    domain: str | None = None
    level: str | None = None
    status: str | None = None
    department: str | None = None
    priority: str | None = None
    role: str | None = None
    horizon: str | None = None
    limit: int = 20
    offset: int = 0

    @property
    def filtered(self) -> bool:
        """Whether any metric filter is set."""
        return any(
            (
                self.domain,
                self.level,
                self.status,
                self.department,
                self.priority,
                self.role,
                self.horizon,
            )
        )


@dataclass(frozen=True)
class SearchPage:
    total: int
    items: list[BaseNode]


@dataclass(frozen=True, slots=True)
class NodeLabel:
    """What a list of many nodes shows of each: its name and, for metrics, its level."""

    name: str
    level: str | None = None


@dataclass(frozen=True)
class StoreInfo:
    """What is loaded: backend kind, catalog name, when, and counts by kind."""

    backend: str
    catalog: str | None
    loaded_at: str | None
    counts: dict[str, int] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


class GraphReplacedError(BackendUnavailableError):
    """A read pinned to one generation found that generation replaced by a newer load (and
    perhaps already being swept) before it finished. Nothing mixed was answered; the whole
    request, retried, reads the new generation (the API does that by itself)."""

    code = "graph_replaced"

    def __init__(self, where: str, generation: str) -> None:
        super().__init__(
            f"the graph in {where} was replaced by a newer load while this answer was being "
            "read; ask again",
            {"where": where, "generation": generation, "retryable": True},
        )


@runtime_checkable
class GraphReader(Protocol):
    """The read half of the seam, pinned to one published *generation* of the graph.

    Every answer built from one reader comes from one load: a load published meanwhile is
    not seen (embedded: the reader holds the in-memory graph it started with), or the read
    fails with :class:`GraphReplacedError` (Neo4j: the old generation may be swept) and is
    retried whole — never a mix of two loads. Get one with :meth:`GraphStore.snapshot`, once
    per request or command.
    """

    backend: str

    @property
    def generation(self) -> str:
        """Id of the published load this reader reads ("" when nothing is loaded)."""

    def info(self) -> StoreInfo:
        """What is loaded (raises ``EmptyStoreError`` when nothing is)."""

    def get_nodes(self, refs: Iterable[NodeRef]) -> dict[NodeRef, BaseNode]:
        """The nodes that exist among ``refs``; missing refs are absent from the result."""

    def labels(self, refs: Iterable[NodeRef]) -> dict[NodeRef, NodeLabel]:
        """Name and level of the nodes that exist among ``refs``, without building whole
        nodes: what lineage answers and impact reports of thousands of nodes need."""

    def search(self, query: SearchQuery) -> SearchPage:
        """Ranked search; see :func:`store.ranking.match_rank` for the ranking rule.
        Raises ``EmptyStoreError`` when nothing is loaded (not "0 matches")."""

    def edges_of(
        self, refs: Iterable[NodeRef], walk: Walk, relations: Iterable[Relation]
    ) -> list[Edge]:
        """Edges of the given types leaving (FORWARD), entering (BACKWARD) or touching
        (UNDIRECTED) any of ``refs``; sorted by (source, target, type)."""

    def edges_among(self, refs: Iterable[NodeRef], relations: Iterable[Relation]) -> list[Edge]:
        """Edges of the given types with both ends in ``refs``; sorted."""

    def traverse(
        self,
        root: NodeRef,
        walk: Walk,
        relations: Iterable[Relation],
        max_depth: int | None,
    ) -> dict[NodeRef, int]:
        """Nodes reachable from ``root`` (root excluded) with their shortest hop distance.

        ``max_depth=None`` means unbounded. Terminates on cycles.
        """

    def metrics_keyed(self, keys: Collection[str]) -> list[Metric]:
        """The metrics indexed by one of ``keys``
        (:func:`graph_schema.rules.conflict.stored_keys`: what the conflict lint rules group
        metrics by), sorted by ref: a keyed lookup kept up to date by every load and delta,
        not a read of every metric (issue #23)."""


def keyed(metrics: Iterable[BaseNode], keys: Collection[str]) -> list[Metric]:
    """Those of ``metrics`` indexed by one of ``keys``, sorted by ref (what
    :meth:`GraphReader.metrics_keyed` answers, found by reading them all: the fallback of a
    store without the index)."""
    from graph_schema.rules.conflict import stored_keys

    wanted = set(keys)
    found = [m for m in metrics if isinstance(m, Metric) and not wanted.isdisjoint(stored_keys(m))]
    return sorted(found, key=lambda m: str(m.ref))


@runtime_checkable
class GraphStore(GraphReader, Protocol):
    """Storage and native traversal of one catalog graph.

    Its own read methods each read the generation published at the time of the call; an
    answer that needs several reads takes one :meth:`snapshot` and reads through it.
    """

    def snapshot(self) -> GraphReader:
        """A reader pinned to the generation published now (cheap: no graph is copied)."""

    def load(
        self,
        graph: CatalogGraph,
        progress: ProgressFn | None = None,
        *,
        revision: RevisionDraft | None = None,
        expect_head: int | None = None,
        planned: PlannedRevision | None = None,
        commit: LedgerCommit | None = None,
    ) -> StoreInfo:
        """Replace the stored graph with ``graph``, atomically: all of it lands or none, and
        with it a revision recording every node and edge change (``revision`` says who, why,
        from where). A graph equal to the stored one writes nothing. The returned info's
        ``meta["revision"]`` is the number recorded (``None``: nothing changed). With
        ``expect_head``, raises ``ConflictError`` (changing nothing) if the head moved.
        ``planned``: the revision the caller planned against the stored graph; used when the
        head is still the one it was planned on (the graph is then not diffed again).
        ``commit``: a change request's ledger write (an apply), made compare-and-set in the
        same transaction as the revision; if the request moved meanwhile, raises
        ``ChangeRaceError`` and nothing is written."""

    def apply(
        self,
        planned: PlannedRevision,
        *,
        expect_head: int,
        counts: dict[str, int],
        digest: str,
        commit: LedgerCommit | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> StoreInfo:
        """Write a delta — the revision ``planned``, whose diff holds every node and edge it
        changes with their stored properties before and after — in one transaction, with the
        request's ledger write ``commit``; ``counts`` and ``digest`` are the graph's after it.
        Costs what the diff holds, not the graph. Raises ``ConflictError`` (nothing written)
        if the head is not ``expect_head``, ``ChangeRaceError`` if the request moved. Readers
        see the graph before or after, never a mix.

        ``meta``: the catalog's settings after the delta (a load of files: the files' graph
        meta with its digests); default: the stored ones with ``digest`` updated and
        ``source_digest`` dropped (a change request: no longer the graph of any files)."""

    def stored_rows(self, refs: Iterable[NodeRef]) -> Snapshot:
        """The stored properties of the nodes ``refs`` (those that exist) and of every edge
        that touches one of them, as plain data — read without reading the rest of the graph
        (a load of a few changed files compares them with what it read)."""

    # -- history (issue #13): kept in the same store, written in the load's transaction --------

    def head(self) -> int:
        """The latest revision number; 0 when none is recorded."""

    def revisions(
        self, ref: NodeRef | None = None, limit: int = 50, before: int | None = None
    ) -> list[RevisionSummary]:
        """Newest first (numbers below ``before``); with ``ref``, those that changed it."""

    def revision(self, number: int) -> Revision:
        """One revision and its changes (``RevisionNotFoundError`` if there is none)."""

    def node_history(self, ref: NodeRef) -> list[NodeHistoryEntry]:
        """Every revision that changed ``ref`` (removed nodes included), oldest first."""

    def node_at(self, ref: NodeRef, number: int) -> BaseNode | None:
        """``ref`` as it was after revision ``number`` (``None``: it did not exist)."""

    def catalog(self, at: int | None = None) -> CatalogGraph:
        """The stored catalog as a graph, or as it was after revision ``at``."""

    def catalog_data(self) -> Snapshot:
        """The stored catalog as plain data (properties by ref and edge key): what version
        checks compare, without building models."""

    def ping(self) -> None:
        """Raise ``BackendUnavailableError`` when the backend does not answer."""

    def close(self) -> None:
        """Release connections."""


def nodes_sorted(nodes: Iterable[BaseNode]) -> list[BaseNode]:
    return sorted(nodes, key=lambda n: str(n.ref))


def sort_edges(edges: Iterable[Edge]) -> list[Edge]:
    return sorted(edges, key=Edge.sort_key)
