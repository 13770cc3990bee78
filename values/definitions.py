"""Where the values engine looks up metric definitions: a loaded catalog or a graph store.

The engine needs a metric's ``formula``, ``sql`` and ``aggregation`` and which dimension ids
exist; it never walks the graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Dimension, Metric, System, Table
from graph_schema.relations import Relation
from store.base import GraphStore


class Definitions(Protocol):
    """Metric definitions and dimension ids, looked up by id."""

    def metrics(self, ids: Iterable[str]) -> dict[str, Metric]: ...

    def dimension_ids(self, ids: Iterable[str]) -> set[str]: ...

    def all_metric_ids(self) -> list[str]: ...


class GraphDefinitions:
    """Definitions from a loaded :class:`CatalogGraph`."""

    def __init__(self, graph: CatalogGraph) -> None:
        self._metrics = {n.id: n for n in graph.nodes if isinstance(n, Metric)}
        self._dims = {n.id for n in graph.nodes if n.kind is NodeKind.DIMENSION}
        self._dim_nodes = {n.id: n for n in graph.nodes if isinstance(n, Dimension)}
        self._systems = {n.id: n for n in graph.nodes if isinstance(n, System)}
        self._tables: dict[str, set[str]] = {}
        for n in graph.nodes:
            if isinstance(n, Table):
                self._tables.setdefault(n.system, set()).add(n.id.rsplit(".", 1)[-1])

    def metrics(self, ids: Iterable[str]) -> dict[str, Metric]:
        return {i: self._metrics[i] for i in ids if i in self._metrics}

    def dimension_ids(self, ids: Iterable[str]) -> set[str]:
        return {i for i in ids if i in self._dims}

    def all_metric_ids(self) -> list[str]:
        return sorted(self._metrics)

    def dimensions(self, ids: Iterable[str]) -> dict[str, Dimension]:
        """Dimensions by id (their ``levels`` and ``mapping``)."""
        return {i: self._dim_nodes[i] for i in ids if i in self._dim_nodes}

    def systems(self, ids: Iterable[str]) -> dict[str, System]:
        """Systems by id (their ``dialect`` and ``connection``)."""
        return {i: self._systems[i] for i in ids if i in self._systems}

    def tables_of(self, system_id: str) -> set[str]:
        """The table names a system declares (what its metrics' SQL may read)."""
        return set(self._tables.get(system_id, set()))


class StoreDefinitions:
    """Definitions read from a graph store (either backend), cached per engine."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self._cache: dict[str, Metric | None] = {}

    def use(self, store: GraphStore) -> None:
        """Read through ``store`` from now on (a later request's handle on the same load)."""
        self._store = store

    def metrics(self, ids: Iterable[str]) -> dict[str, Metric]:
        wanted = [i for i in dict.fromkeys(ids) if i not in self._cache]
        if wanted:
            found = self._store.get_nodes(NodeRef(NodeKind.METRIC, i) for i in wanted)
            for i in wanted:
                node = found.get(NodeRef(NodeKind.METRIC, i))
                self._cache[i] = node if isinstance(node, Metric) else None
        return {i: m for i in ids if (m := self._cache.get(i)) is not None}

    def dimension_ids(self, ids: Iterable[str]) -> set[str]:
        found = self._store.get_nodes(NodeRef(NodeKind.DIMENSION, i) for i in ids)
        return {ref.id for ref in found}

    def dimensions(self, ids: Iterable[str]) -> dict[str, Dimension]:
        found = self._store.get_nodes(NodeRef(NodeKind.DIMENSION, i) for i in ids)
        return {ref.id: n for ref, n in found.items() if isinstance(n, Dimension)}

    def systems(self, ids: Iterable[str]) -> dict[str, System]:
        found = self._store.get_nodes(NodeRef(NodeKind.SYSTEM, i) for i in ids)
        return {ref.id: n for ref, n in found.items() if isinstance(n, System)}

    def tables_of(self, system_id: str) -> set[str]:
        from store.base import Walk

        ref = NodeRef(NodeKind.SYSTEM, system_id)
        edges = self._store.edges_of([ref], Walk.FORWARD, [Relation.HAS_TABLE])
        return {e.target.id.rsplit(".", 1)[-1] for e in edges if e.source == ref}

    def all_metric_ids(self) -> list[str]:
        from store.base import SearchQuery

        out: list[str] = []
        offset = 0
        while True:
            page = self._store.search(SearchQuery(limit=500, offset=offset))
            out += [n.id for n in page.items]
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return sorted(out)
