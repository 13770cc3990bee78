"""A first load written offline (``neo4j-admin database import``, store/neo4j_bulk.py) into an
empty local Neo4j stores exactly what the transactional first load stores (#23):

- the same catalog loaded both ways, on real servers: the same nodes with the same properties
  and labels, the same relationships, the same revision / change / meta records (generation
  ids and clocks aside), the same schema, the same digest, revision and answers — and the same
  again after a one-file delta load on each;
- a load killed while the import runs leaves the store as it was (the server up, nothing
  loaded), and the next load works; so does a load that fails after the import's swap;
- a swap of database directories a kill interrupted is rolled back when the server starts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graph_schema.errors import EmptyStoreError
from neo4j_local import launcher
from neo4j_local.offline_import import JOURNAL, LocalImport, recover
from store import neo4j_bulk
from store.neo4j import Neo4jStore, connect
from tests.conftest import Neo4jConnection, private_neo4j
from tests.contract import delta_catalog as dc
from tests.helpers import ROOT

#: Properties whose values are clocks or generation ids: the same in neither of two loads
#: (``ready`` is ``[gen, head]``, head compared as ``head``; ``_lock`` counts the times the
#: graph record was locked, which depends on how many marks and sweeps ran)
VOLATILE = {
    *("_gen", "gen", "base", "prev", "loaded_at", "created_at", "touched", "started", "at"),
    *("ready", "_lock"),
}
CLOCK = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


@pytest.fixture(scope="module")
def local_server() -> Iterator[tuple[Neo4jConnection, Path]]:
    """A private local Neo4j the offline import may stop and start (its data directory)."""
    data = Path(tempfile.mkdtemp(prefix="kpigraph-neo4j-import-"))
    with private_neo4j(data, heap="512m") as conn:
        yield conn, data


def _offline_store(conn: Neo4jConnection, data: Path, *, clear: bool = True) -> Neo4jStore:
    server = launcher.status(data)
    assert server is not None
    store = Neo4jStore(
        connect(conn.uri, conn.user, conn.password),
        uri=conn.uri,
        offline=LocalImport(data, server.port, heap="512m"),
        import_min=1,
    )
    if clear:
        store.clear()
    return store


def _emptied(store: Neo4jStore) -> Neo4jStore:
    """The shared server's store with nothing at all: ``clear`` keeps the ledger (requests,
    users, the session key) that other tests of the run wrote, which an imported store has not."""
    store.driver.execute_query("MATCH (n) DETACH DELETE n")
    return store


def _catalog(root: Path) -> tuple[Path, dc.Metrics]:
    """The delta tests' catalog, with text a CSV file must carry intact."""
    catalog, metrics = dc.base_catalog(root)
    tricky = '带 "引号", 反斜杠 \\" 与\n换行\r\n  首尾空格  '
    metrics["metrics/group1.yaml"][0]["definition"] = tricky
    metrics["metrics/group2.yaml"][0]["definition"] = ""
    dc.write(catalog, metrics)
    return catalog, metrics


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if hasattr(value, "iso_format"):  # a Neo4j temporal value: a clock
        return "<time>"
    if isinstance(value, str) and CLOCK.match(value):  # a clock in a list (prev_info)
        return "<time>"
    if isinstance(value, str) and value.startswith("{"):  # JSON text (a revision's summary)
        try:
            return _clean(json.loads(value))
        except ValueError:
            return value
    return value


def raw(store: Neo4jStore) -> dict[str, Any]:
    """Everything the database holds, generation ids and clocks aside: every node (labels,
    properties), every relationship (its ends' ``ref``/``key``, type, properties), the schema."""

    def query(text: str) -> list[dict[str, Any]]:
        return [r.data() for r in store.driver.execute_query(text).records]

    nodes = query("MATCH (n) RETURN labels(n) AS labels, properties(n) AS props")
    rels = query(
        "MATCH (a)-[r]->(b) RETURN coalesce(a.ref, a.key) AS a, type(r) AS type, "
        "properties(r) AS props, coalesce(b.ref, b.key) AS b"
    )
    # the ledger's own indexes and constraints (``gov_*``) are made on its first use, by no load:
    # the shared server has them from other tests of the run, an imported store not yet
    schema = query(
        "SHOW INDEXES YIELD name, type, labelsOrTypes, properties, state "
        "WHERE NOT name STARTS WITH 'gov_' "
        "RETURN name, type, labelsOrTypes, properties, state"
    )
    constraints = query(
        "SHOW CONSTRAINTS YIELD name, type WHERE NOT name STARTS WITH 'gov_' RETURN name, type"
    )

    def key(item: dict[str, Any]) -> str:
        return json.dumps(_clean(item), sort_keys=True, ensure_ascii=False, default=str)

    return {
        "nodes": sorted(key({**n, "labels": sorted(n["labels"])}) for n in nodes),
        "relationships": sorted(key(r) for r in rels),
        "schema": sorted(key(s) for s in schema),
        "constraints": sorted(key(c) for c in constraints),
    }


def same_raw(left: Neo4jStore, right: Neo4jStore) -> None:
    """``raw`` of both equal; else the items only one side holds, side by side."""
    a, b = raw(left), raw(right)
    for part in a:
        only_a = sorted(set(a[part]) - set(b[part]))
        only_b = sorted(set(b[part]) - set(a[part]))
        assert (only_a, only_b) == ([], []), part
        assert a[part] == b[part], part  # as many of each


@pytest.mark.neo4j
def test_offline_first_load_stores_what_transactions_store(
    local_server: tuple[Neo4jConnection, Path],
    neo4j_store_factory: Any,
    tmp_path: Path,
) -> None:
    conn, data = local_server
    catalog, metrics = _catalog(tmp_path)
    by_tx = _emptied(neo4j_store_factory())
    offline = _offline_store(conn, data)
    try:
        told = dc.load(catalog, offline, delta=True)
        pid_after = launcher.status(data)
        assert offline.last_load_path == "import"
        assert "neo4j-admin import" in (told.how or ""), told.how
        assert told.how and told.how.startswith("full load: first load")
        dc.load(catalog, by_tx, delta=True)
        assert by_tx.last_load_path == "transactions"
        assert pid_after is not None

        assert dc.state(offline) == dc.state(by_tx)
        same_raw(offline, by_tx)
        assert len(raw(offline)["nodes"]) > 20  # the comparison compared something

        # what comes after a first load works on it as on the other: a one-file delta
        metrics["metrics/group3.yaml"][0]["definition"] = "改过的口径"
        metrics["metrics/group3.yaml"][0]["formula"] = "m1 + m0"
        dc.write(catalog, metrics)
        assert dc.load(catalog, offline, delta=True).delta
        assert dc.load(catalog, by_tx, delta=True).delta
        assert dc.state(offline) == dc.state(by_tx)
        same_raw(offline, by_tx)
        # a store that is not empty is never imported into: the server was not restarted
        assert offline.last_load_path == "transactions"
        assert launcher.status(data) == pid_after
    finally:
        offline.close()


@pytest.mark.neo4j
def test_second_full_load_is_transactional(
    local_server: tuple[Neo4jConnection, Path], tmp_path: Path
) -> None:
    """A store holding a graph is never replaced by an import: a full reload (``--full``)
    writes in transactions and the server is not restarted."""
    conn, data = local_server
    catalog, metrics = _catalog(tmp_path)
    store = _offline_store(conn, data)
    try:
        dc.load(catalog, store, delta=False)
        assert store.last_load_path == "import"
        before = launcher.status(data)
        metrics["metrics/group4.yaml"][0]["definition"] = "再次完整加载"
        dc.write(catalog, metrics)
        again = dc.load(catalog, store, delta=False)
        assert again.revision == 2
        assert store.last_load_path == "transactions"
        assert "neo4j-admin" not in (again.how or "")
        assert launcher.status(data) == before
    finally:
        store.close()


@pytest.mark.neo4j
def test_failure_after_the_swap_leaves_nothing_loaded_and_the_next_load_works(
    local_server: tuple[Neo4jConnection, Path],
    neo4j_store_factory: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn, data = local_server
    catalog, _ = _catalog(tmp_path)
    store = _offline_store(conn, data)
    real = neo4j_bulk.Neo4jSession.restarted

    def broken(self: Any) -> None:
        real(self)
        raise OSError("killed right after the swap (simulated)")

    monkeypatch.setattr(neo4j_bulk.Neo4jSession, "restarted", broken)
    try:
        with pytest.raises(Exception, match="simulated"):
            dc.load(catalog, store, delta=True)
        monkeypatch.undo()
        with pytest.raises(EmptyStoreError):  # readers see no graph: as before the load
            store.info()
        store.close()
        store = _offline_store(conn, data, clear=False)
        dc.load(catalog, store, delta=True)
        assert store.last_load_path == "import"
        reference = _emptied(neo4j_store_factory())
        dc.load(catalog, reference, delta=True)
        assert dc.state(store) == dc.state(reference)
        same_raw(store, reference)
    finally:
        store.close()


@pytest.mark.neo4j
def test_killed_import_leaves_the_store_as_it_was(
    local_server: tuple[Neo4jConnection, Path], tmp_path: Path
) -> None:
    conn, data = local_server
    catalog, _ = _catalog(tmp_path)
    store = _offline_store(conn, data)  # empty
    store.close()
    server = launcher.status(data)
    assert server is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIGRAPH_")}
    env |= {
        "KPIGRAPH_CACHE_DIR": os.environ.get("KPIGRAPH_CACHE_DIR", str(tmp_path / "cache")),
        "KPIGRAPH_LANG": "en",
        "KPIGRAPH_BACKEND": "neo4j",
        "KPIGRAPH_NEO4J_URI": conn.uri,
        "KPIGRAPH_NEO4J_DATA": str(data),
        "KPIGRAPH_NEO4J_IMPORT_MIN": "1",
    }
    load = [sys.executable, "-m", "cli", "load", str(catalog), "--json"]
    child = subprocess.Popen(load, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    import psutil

    deadline = time.monotonic() + 300
    tool = None
    while tool is None and time.monotonic() < deadline and child.poll() is None:
        for proc in psutil.Process(child.pid).children(recursive=True):
            try:
                if "org.neo4j.cli.AdminTool" in " ".join(proc.cmdline()):
                    tool = proc
            except psutil.Error:  # a worker that ended meanwhile
                continue
        time.sleep(0.05)
    assert tool is not None, "the import tool never ran"
    child.send_signal(signal.SIGKILL)
    child.wait()
    tool.wait(120)  # a tool left running by the killed load ends by itself
    assert launcher.status(data) == server  # the server was never stopped
    store = _offline_store(conn, data, clear=False)
    try:
        with pytest.raises(EmptyStoreError):
            store.info()
        assert neo4j_bulk.is_empty(store.conn)
        store.close()  # its bookmarks are of the database the import replaces (see README)
        done = subprocess.run(load, env=env, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        told = json.loads(done.stdout)
        assert "neo4j-admin import" in told["how"]
        store = _offline_store(conn, data, clear=False)
        assert store.info().counts == told["counts"]
        assert store.head() == 1
        assert not (data / JOURNAL).exists() and not (data / "import" / "home").exists()
    finally:
        store.close()


def test_a_swap_cut_short_is_rolled_back(tmp_path: Path) -> None:
    """A kill between the renames of database directories: the next start puts the database
    that was there back (a swap that had moved everything is kept)."""
    data = tmp_path
    for sub in ("databases", "transactions"):
        (data / "import" / "old" / sub).mkdir(parents=True)
        (data / "import" / "old" / sub / "before").write_text(sub)
    live = data / "db" / "data" / "databases" / "neo4j"
    live.mkdir(parents=True)
    (live / "half-moved").write_text("x")
    (data / JOURNAL).write_text(json.dumps({"state": "moving"}))
    recover(data)
    assert (live / "before").read_text() == "databases"
    assert not (live / "half-moved").exists()
    assert (data / "db" / "data" / "transactions" / "neo4j" / "before").is_file()
    assert not (data / JOURNAL).exists() and not (data / "import" / "old").exists()

    (data / "import" / "old" / "databases").mkdir(parents=True)
    (data / JOURNAL).write_text(json.dumps({"state": "moved"}))
    recover(data)
    assert (live / "before").is_file()  # kept
    assert not (data / "import" / "old").exists()
