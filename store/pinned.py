"""A store whose reads all come from one snapshot: what one request or one command sees.

:class:`PinnedStore` wraps a :class:`~store.base.GraphStore`: its read methods go through one
:meth:`~store.base.GraphStore.snapshot` (taken lazily, so wrapping does no I/O), so an answer
that needs many reads is one published graph; a :meth:`PinnedStore.load` through it starts a
new snapshot afterwards (a command reads its own load); anything else (history, ledger, ping,
close...) is the wrapped store's own.

Examples
--------
>>> from tests.helpers import demo_store
>>> pinned = PinnedStore(demo_store())
>>> pinned.generation == pinned.snapshot().generation == demo_store().generation
True
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import BaseNode, Edge, Metric
from graph_schema.relations import Relation
from store.base import (
    GraphReader,
    GraphStore,
    NodeLabel,
    ProgressFn,
    SearchPage,
    SearchQuery,
    StoreInfo,
    Walk,
)


class PinnedStore:
    """The store as one request or command sees it (see the module docstring)."""

    def __init__(self, store: GraphStore, reader: GraphReader | None = None) -> None:
        self._store = store
        self._reader = reader if reader is not None else store.snapshot()
        self.backend = store.backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def store(self) -> GraphStore:
        """The wrapped store."""
        return self._store

    def snapshot(self) -> GraphReader:
        return self._reader

    def load(
        self, graph: CatalogGraph, progress: ProgressFn | None = None, **kwargs: Any
    ) -> StoreInfo:
        info = self._store.load(graph, progress, **kwargs)
        self._reader = self._store.snapshot()  # read what was just loaded
        return info

    def apply(self, planned: Any, **kwargs: Any) -> StoreInfo:
        info = self._store.apply(planned, **kwargs)
        self._reader = self._store.snapshot()  # read what was just written
        return info

    @property
    def generation(self) -> str:
        return self._reader.generation

    def info(self) -> StoreInfo:
        return self._reader.info()

    def get_nodes(self, refs: Iterable[NodeRef]) -> dict[NodeRef, BaseNode]:
        return self._reader.get_nodes(refs)

    def labels(self, refs: Iterable[NodeRef]) -> dict[NodeRef, NodeLabel]:
        return self._reader.labels(refs)

    def search(self, query: SearchQuery) -> SearchPage:
        return self._reader.search(query)

    def edges_of(
        self, refs: Iterable[NodeRef], walk: Walk, relations: Iterable[Relation]
    ) -> list[Edge]:
        return self._reader.edges_of(refs, walk, relations)

    def edges_among(self, refs: Iterable[NodeRef], relations: Iterable[Relation]) -> list[Edge]:
        return self._reader.edges_among(refs, relations)

    def metrics_keyed(self, keys: Collection[str]) -> list[Metric]:
        return self._reader.metrics_keyed(keys)

    def traverse(
        self,
        root: NodeRef,
        walk: Walk,
        relations: Iterable[Relation],
        max_depth: int | None,
    ) -> dict[NodeRef, int]:
        return self._reader.traverse(root, walk, relations, max_depth)
