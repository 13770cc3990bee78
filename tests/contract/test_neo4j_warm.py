"""Planning a change's statements before the first change (issue #23, store/neo4j_warm.py):
every statement is valid with the parameters it is sent with, nothing is read into an answer
or written, and a full load and ``serve``'s warm-up do it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.publish import publish
from graph_schema.diff import snapshot
from loaders.catalog import load_catalog
from store import neo4j_warm
from store.neo4j import Neo4jStore
from tests.helpers import DEMO

pytestmark = pytest.mark.neo4j

StoreFactory = Callable[[], Neo4jStore]


def everything(store: Neo4jStore) -> tuple[int, int, list[str]]:
    """(nodes, relationships, label sets with counts) in the whole database."""
    nodes = store.driver.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"]
    rels = store.driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS n").records[0]["n"]
    labels = store.driver.execute_query(
        "MATCH (n) WITH labels(n) AS l, count(*) AS c RETURN l, c"
    ).records
    return nodes, rels, sorted(f"{sorted(r['l'])}:{r['c']}" for r in labels)


def test_plan_sends_every_statement_and_changes_nothing(
    neo4j_store_factory: StoreFactory,
) -> None:
    store = neo4j_store_factory()
    graph = load_catalog(DEMO)
    publish(store, graph)
    before, stored = everything(store), snapshot(store.catalog())
    head = store.head()
    planned = store.plan_changes()
    assert planned.seconds is not None, "a statement failed: the warm-up stopped"
    live = dict.fromkeys(neo4j_warm.LIVE_STRINGS, "")
    reads = len(neo4j_warm.reads(None)) + len(neo4j_warm.reads("x"))
    assert planned.statements == reads + len(neo4j_warm.writes("x", live))
    assert everything(store) == before
    assert snapshot(store.catalog()) == stored
    assert store.head() == head
    # a delta load's set only (what a full load plans): fewer, and as valid
    loaded = store.plan_changes(requests=False)
    assert loaded.seconds is not None
    assert loaded.statements < planned.statements
    assert everything(store) == before


def test_plan_on_an_empty_store_does_nothing(neo4j_store_factory: StoreFactory) -> None:
    store = neo4j_store_factory()
    assert store.plan_changes() == neo4j_warm.Planned(0, None)


def test_warm_plans_in_the_background(neo4j_store_factory: StoreFactory) -> None:
    """``kpigraph serve``'s start-up: the search index and the change statements, in
    threads; closing the store waits for them."""
    store = neo4j_store_factory()
    publish(store, load_catalog(DEMO))
    before = everything(store)
    store.warm()
    assert store.wait_planned(timeout=120)
    assert everything(store) == before


def test_closing_stops_the_planning(neo4j_store_factory: StoreFactory) -> None:
    """A server shutting down does not wait out the warm-up: it stops at the next statement."""
    store = neo4j_store_factory()
    publish(store, load_catalog(DEMO))
    store.warm()
    store.close()  # at once: the planning thread stops before its 60 s join timeout
    assert store.wait_planned(timeout=0)
