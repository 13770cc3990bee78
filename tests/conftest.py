"""Session-wide fixtures: a real Neo4j for the contract suite.

Where Neo4j comes from, in order: ``KPIGRAPH_NEO4J_URI`` (an existing server or Aura); a Docker
engine through testcontainers (``neo4j:5.26-community``); the project's local launcher
(``neo4j_local``, Java + Maven). Under ``CI=true`` a test that needs Neo4j fails when none
can be had; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from graph_schema.graph import CatalogGraph
from loaders.catalog import load_catalog
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.helpers import DEMO

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# 'kpigraph load' keeps a per-file parse cache (loaders/catalog_cache.py): tests keep theirs
# in a temporary directory, not in the user's ~/.cache
os.environ.setdefault("KPIGRAPH_CACHE_DIR", tempfile.mkdtemp(prefix="kpigraph-test-cache-"))
# a full load on Neo4j leaves a process planning the next change's statements for seconds
# (store/neo4j_warm.py): tests that do not test it keep it off, tests/contract/test_neo4j_warm.py
# turns it on
os.environ.setdefault("KPIGRAPH_NEO4J_PLAN", "false")


@dataclass(frozen=True)
class Neo4jConnection:
    uri: str
    user: str
    password: str
    source: str  # "env", "testcontainers" or "local launcher"
    stop: Callable[[], None] | None = None
    start: Callable[[], None] | None = None


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def _unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"Neo4j is required under CI=true but none could be had: {reason}")
    pytest.skip(f"no Neo4j: {reason}")


@pytest.fixture(scope="session")
def neo4j_connection() -> Iterator[Neo4jConnection]:
    uri = os.environ.get("KPIGRAPH_NEO4J_URI")
    if uri:
        yield Neo4jConnection(
            uri,
            os.environ.get("KPIGRAPH_NEO4J_USER", "neo4j"),
            os.environ.get("KPIGRAPH_NEO4J_PASSWORD", "kpigraph"),
            "env",
        )
        return
    if _docker_answers():
        from testcontainers.neo4j import Neo4jContainer

        container = Neo4jContainer("neo4j:5.26-community", password="kpigraph-test")
        container.start()
        try:
            yield Neo4jConnection(
                container.get_connection_url(), "neo4j", "kpigraph-test", "testcontainers"
            )
        finally:
            container.stop()
        return
    with private_neo4j(Path(tempfile.mkdtemp(prefix="kpigraph-neo4j-test-")), heap="1g") as conn:
        yield conn


@contextlib.contextmanager
def private_neo4j(data: Path, **options: Any) -> Iterator[Neo4jConnection]:
    """A Neo4j of the test's own from the local launcher (``options`` go to
    :func:`neo4j_local.launcher.start`), which the test may stop and start again; stopped at
    the end. Fails under CI when it cannot start, else skips."""
    from neo4j_local import launcher

    port = launcher.free_port()
    try:
        server = launcher.start(port=port, data_dir=data, **options)
    except Exception as exc:
        _unavailable(f"local launcher: {exc}")
    try:
        yield Neo4jConnection(
            server.uri,
            "neo4j",
            "kpigraph",
            "local launcher",
            stop=lambda: launcher.stop(data),
            start=lambda: launcher.start(port=port, data_dir=data, **options) and None,
        )
    finally:
        launcher.stop(data)
        shutil.rmtree(data, ignore_errors=True)  # ~0.5 GB of store and logs per server


@pytest.fixture
def neo4j_store_factory(neo4j_connection: Neo4jConnection) -> Iterator[Callable[[], object]]:
    """Empty Neo4j stores (the one database is wiped for each)."""
    from store.neo4j import Neo4jStore, connect

    made: list[Neo4jStore] = []

    def factory() -> Neo4jStore:
        c = neo4j_connection
        store = Neo4jStore(connect(c.uri, c.user, c.password), uri=c.uri)
        store.clear()
        made.append(store)
        return store

    yield factory
    for s in made:
        s.close()


@pytest.fixture
def neo4j_reopen(neo4j_connection: Neo4jConnection) -> Callable[[object], object]:
    """A second handle (new driver) on the same Neo4j database; nothing is wiped."""
    from store.neo4j import Neo4jStore, connect

    def reopen(_store: object) -> Neo4jStore:
        c = neo4j_connection
        return Neo4jStore(connect(c.uri, c.user, c.password), uri=c.uri)

    return reopen


# -- backends: every contract and API test runs against each --------------------------

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


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Speak English in this test, in-process and in the commands it runs (``KPIGRAPH_LANG``):
    for tests that read the loader's English messages on the base test catalog, which says no
    ``language`` (zh). The Chinese messages are tested in tests/unit/test_loader_language.py."""
    from core import i18n

    monkeypatch.setenv("KPIGRAPH_LANG", "en")
    with i18n.use("en"):
        yield
