"""The values cache's columnar copies (``.kpigraph-cache/rows/*.parquet``) live in the catalog
directory, which may come from a hostile git tree: a copy that is a symbolic link out of the
catalog is never read — its rows would otherwise show as a metric's values."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders.catalog import load_catalog
from tests.warehouse.conftest import Warehouse, connected_catalog, duckdb_demo
from values.cache import ValuesCache, query_hash, refresh_engine
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine

__all__ = ["duckdb_demo"]  # a fixture used below


def test_a_copy_linked_out_of_the_catalog_is_not_read(
    tmp_path: Path, duckdb_demo: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPIGRAPH_CONN_DMS", duckdb_demo.url)
    root = connected_catalog(tmp_path / "catalog")
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    refresh_engine(engine, ["revenue"])
    metric = engine.metric("revenue")
    found = engine.remote.metric_sql(metric)
    assert found is not None
    qhash = query_hash(found[0], metric)
    engine.close()
    cache = ValuesCache(root)
    honest = cache.read("revenue", qhash)
    assert honest is not None and honest.copy is not None
    outside = tmp_path / "outside.parquet"  # someone else's numbers, outside the catalog
    pq.write_table(
        pa.table({"period": ["2026-06"], "members": ['{"store": "X"}'], "value": [1e9]}), outside
    )
    honest.copy.unlink()
    os.symlink(outside, honest.copy)
    read = cache.read("revenue", qhash)
    assert read is not None and read.copy is None  # SQLite's rows, not the linked file's
    assert 1e9 not in read.values and len(read.periods) > 1


def test_a_cache_folder_linked_out_of_the_catalog_is_neither_written_nor_read(
    tmp_path: Path, duckdb_demo: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``.kpigraph-cache → /somewhere/else`` committed to a catalog's git tree: a refresh would
    write the cache (and its copies) there, and a read would take another cache's numbers."""
    from values.errors import ValuesFileError

    monkeypatch.setenv("KPIGRAPH_CONN_DMS", duckdb_demo.url)
    root = connected_catalog(tmp_path / "catalog")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, root / ".kpigraph-cache")
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    with pytest.raises(ValuesFileError) as refused:
        refresh_engine(engine, ["revenue"])
    assert ".kpigraph-cache" in str(refused.value.issues[0].file)
    assert list(elsewhere.iterdir()) == []  # nothing written there
    # a cache planted there is not read either: the engine asks the warehouse
    (root / ".kpigraph-cache").unlink()
    honest_root = connected_catalog(tmp_path / "honest")
    honest = ValuesEngine(honest_root, GraphDefinitions(load_catalog(honest_root)))
    refresh_engine(honest, ["revenue"])
    honest.close()
    os.symlink(honest_root / ".kpigraph-cache", root / ".kpigraph-cache")
    engine.close()
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    engine.frame("revenue", kind="observed")
    assert "revenue" not in engine.fetched  # not from the linked cache
    engine.close()
