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
