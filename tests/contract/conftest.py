"""Fixtures for the contract suite: every test runs against each backend."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from graph_schema.graph import CatalogGraph
from loaders.catalog import load_catalog
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.helpers import DEMO

BACKENDS = ["embedded", "neo4j"]

_counter = itertools.count()


@pytest.fixture(scope="session")
def demo_graph() -> CatalogGraph:
    return load_catalog(DEMO)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], GraphStore]]:
    """A factory of empty stores of the current backend."""
    made: list[GraphStore] = []

    def factory() -> GraphStore:
        if backend == "embedded":
            store: GraphStore = EmbeddedStore(tmp_path / f"store-{next(_counter)}.sqlite")
        else:
            neo4j_factory = request.getfixturevalue("neo4j_store_factory")
            store = neo4j_factory()
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()


@pytest.fixture
def reopen_store(
    backend: str, request: pytest.FixtureRequest
) -> Iterator[Callable[[GraphStore], GraphStore]]:
    """Open a second, independent handle on the data behind a store (nothing is wiped)."""

    def reopen(store: GraphStore) -> GraphStore:
        if backend == "embedded":
            assert isinstance(store, EmbeddedStore)
            return EmbeddedStore(store.path)
        return request.getfixturevalue("neo4j_reopen")(store)

    yield reopen


@pytest.fixture
def store(make_store: Callable[[], GraphStore], demo_graph: CatalogGraph) -> GraphStore:
    """A store of the current backend holding the after-sales demo."""
    s = make_store()
    s.load(demo_graph)
    return s
