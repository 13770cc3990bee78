"""Large catalogs are parsed ahead by worker processes (loaders/prefetch.py, issue #17): the
graph and every reported problem are the same as when the reading process parses alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import loaders.prefetch as prefetch
from graph_schema.diff import graph_digest
from graph_schema.errors import CatalogError
from loaders.catalog import read_catalog
from loaders.catalog_cache import FileCache
from tests.helpers import DEMO


def _read(catalog: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool) -> object:
    monkeypatch.setattr(prefetch, "MIN_BYTES", 0)
    monkeypatch.setattr(prefetch, "workers", lambda: 2 if parallel else 0)
    used: list[bool] = []
    take = prefetch.Prefetch.take

    def spy(self: prefetch.Prefetch, path: Path) -> object:
        used.append(self.active)
        return take(self, path)

    monkeypatch.setattr(prefetch.Prefetch, "take", spy)
    try:
        return _outcome(catalog)
    finally:
        assert used and all(used) is parallel  # the path under test was taken


def _outcome(catalog: Path) -> object:
    try:
        source = read_catalog(catalog)
    except CatalogError as exc:
        return [(i.file, i.line, i.message) for i in exc.issues]
    return graph_digest(source.graph.nodes, source.graph.edges)


def test_same_graph_with_and_without_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _read(DEMO, monkeypatch, True) == _read(DEMO, monkeypatch, False)


def test_a_broken_file_is_reported_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat = tmp_path / "cat"
    shutil.copytree(DEMO, cat)
    (cat / "metrics" / "broken.yaml").write_text("id: broken\nname: [坏\n", encoding="utf-8")
    (cat / "metrics" / "binary.yaml").write_bytes(b"id: x\x00\n")
    (cat / "metrics" / "gbk.yaml").write_bytes("id: gbk\nname: 营收\n".encode("gbk"))
    parallel = _read(cat, monkeypatch, True)
    assert isinstance(parallel, list) and any("broken.yaml" in f for f, _, _ in parallel)
    assert parallel == _read(cat, monkeypatch, False)


def _broken_sources_and_metric(cat: Path) -> tuple[int, int]:
    """A field with an unknown key in sources.yaml and a metric with a bad level in a metric
    file of its own; their lines."""
    src = cat / "sources.yaml"
    text = src.read_text(encoding="utf-8")
    good = '{id: labor_hours, name: 工时数, type: "decimal(8,2)"}'
    assert good in text
    src.write_text(text.replace(good, "{id: labor_hours, name: 工时数, typo: x}"), "utf-8")
    field_line = text[: text.index(good)].count("\n") + 1
    (cat / "metrics" / "bad.yaml").write_text("id: bad_metric\nname: 坏\nlevel: L9\n", "utf-8")
    return field_line, 3


def test_problems_found_in_a_worker_name_their_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers read and validate whole files (loaders/file_entries.py); a file with a problem
    is read again by the reading process, which reports it as it always did."""
    cat = tmp_path / "cat"
    shutil.copytree(DEMO, cat)
    field_line, metric_line = _broken_sources_and_metric(cat)
    parallel = _read(cat, monkeypatch, True)
    assert isinstance(parallel, list)
    where = {(f, line) for f, line, _ in parallel}
    assert ("sources.yaml", field_line) in where
    assert ("metrics/bad.yaml", metric_line) in where
    assert any("typo" in m for f, _, m in parallel if f == "sources.yaml")
    assert parallel == _read(cat, monkeypatch, False)


def test_entries_read_by_workers_are_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry a worker read is written to the per-file cache as the worker pickled it; the
    next read takes every file from the cache and gets the same graph."""
    monkeypatch.setattr(prefetch, "MIN_BYTES", 0)
    monkeypatch.setattr(prefetch, "workers", lambda: 2)
    put = FileCache.put
    pickled: list[bool] = []

    def spy(self: FileCache, key: str, entry: object, *, pickled_as: bytes | None = None) -> None:
        pickled.append(pickled_as is not None)
        put(self, key, entry, pickled=pickled_as)  # type: ignore[arg-type]

    monkeypatch.setattr(
        FileCache, "put", lambda s, k, e, pickled=None: spy(s, k, e, pickled_as=pickled)
    )
    cache = FileCache(tmp_path / "cache")
    first = read_catalog(DEMO, cache=cache)
    assert cache.hits == 0
    metric_files = len(list((DEMO / "metrics").rglob("*.yaml")))
    assert sum(pickled) == metric_files + 1  # the metric files and sources.yaml: by workers
    again = FileCache(tmp_path / "cache")
    second = read_catalog(DEMO, cache=again)
    assert again.hits > 0 and again.misses == 0
    digest = graph_digest(first.graph.nodes, first.graph.edges)
    assert graph_digest(second.graph.nodes, second.graph.edges) == digest
    monkeypatch.setattr(prefetch, "workers", lambda: 0)
    alone = read_catalog(DEMO)  # no workers, no cache
    assert graph_digest(alone.graph.nodes, alone.graph.edges) == digest
    assert first.origins == alone.origins
    assert {r: (m.line, m.key_lines) for r, m in first.raw.items()} == {
        r: (m.line, m.key_lines) for r, m in alone.raw.items()
    }
