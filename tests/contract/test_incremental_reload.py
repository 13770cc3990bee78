"""Incremental reloads (issue #17): unchanged catalog files come from the per-file cache (not
parsed again), the revision lists exactly what changed, and on the embedded store only the
changed rows are written. A broken edit or a killed reload leaves the graph as it was."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.publish import publish
from graph_schema.diff import graph_digest
from graph_schema.errors import CatalogError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from loaders.catalog import load_catalog, read_catalog
from loaders.catalog_cache import FileCache
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.helpers import DEMO, ROOT, write_catalog


def _read(catalog: Path, cache_root: Path) -> tuple[CatalogGraph, FileCache]:
    cache = FileCache.for_catalog(catalog, cache_root)
    assert cache is not None
    return load_catalog(catalog, cache=cache), cache


def _same(a: CatalogGraph, b: CatalogGraph) -> bool:
    return graph_digest(a.nodes, a.edges) == graph_digest(b.nodes, b.edges)


def _changes(store: GraphStore, number: int) -> set[tuple[str, str]]:
    return {(c.ref, c.op.value) for c in store.revision(number).node_changes}


def test_changed_added_and_removed_files(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    catalog = write_catalog(tmp_path / "cat")
    store = make_store()
    first, cache = _read(catalog, tmp_path / "cache")
    assert cache.hits == 0
    assert publish(store, first).revision == 1

    (catalog / "metrics/visits.yaml").write_text(
        "id: visits\nname: 进厂台次（含返修）\nlevel: L1\nowner: ops\n"
        "fields: [dms.orders.order_id]\n",
        encoding="utf-8",
    )
    (catalog / "metrics/margin.yaml").write_text(
        "id: margin\nname: 毛利\nlevel: L2\nowner: finance\nformula: revenue * 0.3\n",
        encoding="utf-8",
    )
    (catalog / "metrics/atp.yaml").unlink()
    second, cache = _read(catalog, tmp_path / "cache")
    # departments, dimensions, dashboards, sources, revenue: from the cache; visits, margin read
    assert (cache.hits, cache.misses) == (5, 2)
    assert _same(second, load_catalog(catalog))  # the same graph as a read without cache

    result = publish(store, second)
    assert result.revision == 2
    assert _changes(store, 2) == {
        ("Metric:visits", "modified"),
        ("Metric:margin", "added"),
        ("Metric:atp", "removed"),
    }
    edges = {(c.source, c.type, c.target, c.op.value) for c in store.revision(2).edge_changes}
    assert ("Metric:revenue", "INPUT_TO", "Metric:margin", "added") in edges
    assert ("Metric:revenue", "INPUT_TO", "Metric:atp", "removed") in edges
    stored = store.get_nodes([NodeRef.parse("Metric:visits"), NodeRef.parse("Metric:atp")])
    assert [n.name for n in stored.values()] == ["进厂台次（含返修）"]

    # nothing edited: every file from the cache, nothing recorded
    third, cache = _read(catalog, tmp_path / "cache")
    assert cache.misses == 0
    assert publish(store, third).revision is None


def test_renamed_file_changes_nothing_but_its_origin(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    catalog = write_catalog(tmp_path / "cat")
    store = make_store()
    publish(store, _read(catalog, tmp_path / "cache")[0])
    (catalog / "metrics/ops").mkdir()
    (catalog / "metrics/visits.yaml").rename(catalog / "metrics/ops/traffic.yaml")
    cache = FileCache.for_catalog(catalog, tmp_path / "cache")
    source = read_catalog(catalog, cache=cache)
    assert cache is not None and cache.misses == 1  # the moved file is read again
    assert source.origins[NodeRef.parse("Metric:visits")][0] == "metrics/ops/traffic.yaml"
    assert publish(store, source.graph).revision is None  # same graph: nothing recorded


def test_broken_edit_leaves_graph_and_cache(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    catalog = write_catalog(tmp_path / "cat")
    store = make_store()
    graph, _ = _read(catalog, tmp_path / "cache")
    publish(store, graph)
    cache_dir = FileCache.for_catalog(catalog, tmp_path / "cache")
    assert cache_dir is not None
    before = sorted(p.name for p in cache_dir.directory.iterdir())
    (catalog / "metrics/atp.yaml").write_text(
        "id: atp\nname: 客单价\nlevel: L1\nowner: ops\nformula: revenue / vistis\n",
        encoding="utf-8",
    )
    (catalog / "metrics/new.yaml").write_text("id: fine\nname: 新指标\n", encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        _read(catalog, tmp_path / "cache")
    assert "metrics/atp.yaml:5" in str(caught.value)
    assert "vistis" in str(caught.value)
    assert sorted(p.name for p in cache_dir.directory.iterdir()) == before
    assert store.head() == 1
    assert _same(store.catalog(), store.catalog(at=1))
    assert store.get_nodes([NodeRef.parse("Metric:fine")]) == {}


def test_damaged_cache_entry_is_read_again(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "cat")
    graph, cache = _read(catalog, tmp_path / "cache")
    for entry in cache.directory.iterdir():
        entry.write_bytes(b"not a pickle")
    again, cache = _read(catalog, tmp_path / "cache")
    assert cache.hits == 0
    assert _same(graph, again)


def test_embedded_reload_writes_only_changed_rows(tmp_path: Path) -> None:
    """Row counts are the embedded store's (Neo4j writes a new generation per load)."""
    catalog = tmp_path / "demo"
    shutil.copytree(DEMO, catalog)
    store = EmbeddedStore(tmp_path / "store.sqlite")
    graph, _ = _read(catalog, tmp_path / "cache")
    publish(store, graph)
    path = catalog / "metrics/customer/nps.yaml"
    text = path.read_text(encoding="utf-8")
    assert "name_en: Net Promoter Score\n" in text
    path.write_text(text.replace("Net Promoter Score\n", "Net Promoter Score (NPS)\n", 1), "utf-8")
    edited, cache = _read(catalog, tmp_path / "cache")
    assert cache.misses == 1
    conn = store._connection()
    before = conn.total_changes
    assert publish(store, edited, check_versions=False).revision == 2
    written = conn.total_changes - before
    rows = len(graph.nodes) + len(graph.edges)
    # one node row + the meta rows + the revision and its change rows; a full rewrite is
    # twice the rows (delete + insert)
    assert written < 20, written
    assert rows > 200
    assert _changes(store, 2) == {("Metric:nps", "modified")}


def test_killed_reload_changes_nothing(
    backend: str,
    make_store: Callable[[], GraphStore],
    reopen_store: Callable[[GraphStore], GraphStore],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    catalog = write_catalog(tmp_path / "cat")
    store = make_store()
    graph, _ = _read(catalog, tmp_path / "cache")
    publish(store, graph)
    (catalog / "metrics/visits.yaml").write_text(
        "id: visits\nname: 台次\nlevel: L1\nowner: ops\nfields: [dms.orders.order_id]\n",
        encoding="utf-8",
    )
    if backend == "embedded":
        args = ["embedded", str(store.path)]  # type: ignore[attr-defined]
    else:
        conn = request.getfixturevalue("neo4j_connection")
        args = ["neo4j", conn.uri, conn.user, conn.password]
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.contract.reload_child",
            str(catalog),
            str(tmp_path / "cache"),
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line == "writing", child.stderr.read() if child.stderr else line
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    fresh = reopen_store(store)
    try:
        assert fresh.head() == 1
        assert _same(fresh.catalog(), store.catalog(at=1))
        visits = fresh.get_nodes([NodeRef.parse("Metric:visits")])
        assert [n.name for n in visits.values()] == ["进厂台次"]
    finally:
        if fresh is not store:
            fresh.close()
    # the next reload records the edit
    again, _ = _read(catalog, tmp_path / "cache")
    assert publish(store, again).revision == 2
    assert _changes(store, 2) == {("Metric:visits", "modified")}
