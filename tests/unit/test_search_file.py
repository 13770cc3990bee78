"""The search index kept in a file (store.search_file): read back, it answers every query as
the index it was written from; a file that is truncated, damaged, of another generation or
code, or crafted to make a search index outside an array, is ignored (``load()`` is ``None``)."""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph_schema.ids import NodeKind
from loaders.catalog import load_catalog
from store import search_file
from store.base import SearchQuery
from store.search_file import MAGIC, IndexFile
from store.search_index import SearchIndex, SearchIndexBuilder
from tests.helpers import DEMO
from tests.unit.test_search_index import MAYBE, METRIC, WORD

ALL = frozenset(NodeKind)
QUERIES = [
    SearchQuery(text="客单价"),
    SearchQuery(text="率", limit=7, offset=3),
    SearchQuery(department="finance", limit=100),
    SearchQuery(domain="财务", level="L1", limit=100),
    SearchQuery(status="active", text="率", limit=100),
    SearchQuery(text="dms", kinds=ALL, limit=100),
    SearchQuery(text="a", kinds=ALL, limit=500),
    SearchQuery(text="", kinds=ALL, limit=1000),
]


def _file(tmp: Path, gen: str = "g1", **changes: Any) -> IndexFile:
    fields: dict[str, Any] = {
        "store": "embedded /x/g.sqlite",
        "generation": gen,
        "loaded_at": "2026-11-22T10:00:00+00:00",
        "counts": {"Metric": 3},
        "directory": tmp,
    }
    return IndexFile(**{**fields, **changes})


@pytest.fixture(scope="module")
def demo_index() -> SearchIndex:
    return SearchIndexBuilder.of_nodes(load_catalog(DEMO).nodes)


def test_the_demo_index_read_back_answers_as_built(tmp_path: Path, demo_index: SearchIndex) -> None:
    file = _file(tmp_path)
    assert file.save(demo_index)
    loaded = file.load()
    assert loaded is not None and loaded.source == "file" and demo_index.source == "built"
    found = 0
    for query in QUERIES:
        assert loaded.page(query) == demo_index.page(query), query
        found += bool(loaded.page(query)[0])
    assert found == len(QUERIES)
    assert os.listdir(tmp_path) == [file.path.name]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    metrics=st.lists(METRIC, min_size=1, max_size=8),
    others=st.lists(WORD, max_size=3),
    text=st.one_of(st.just(""), WORD),
    domain=MAYBE,
    department=MAYBE,
    offset=st.integers(0, 3),
    limit=st.integers(0, 5),
)
def test_any_index_read_back_answers_as_built(
    tmp_path: Path,
    metrics: list[dict[str, Any]],
    others: list[str],
    text: str,
    domain: str | None,
    department: str | None,
    offset: int,
    limit: int,
) -> None:
    builder = SearchIndexBuilder()
    for i, fields in enumerate(metrics):
        builder.add(NodeKind.METRIC, f"Metric:m{i}", {"id": f"m{i}", **fields})
    for i, name in enumerate(others):  # 4-byte characters in refs and titles too
        builder.add(NodeKind.TABLE, f"Table:t{i}{name}", {"id": f"t{i}{name}", "name": name})
    built = builder.build()
    file = _file(tmp_path, counts={"n": len(metrics)})
    assert file.save(built)
    loaded = file.load()
    assert loaded is not None
    query = SearchQuery(
        text=text,
        kinds=frozenset({NodeKind.METRIC, NodeKind.TABLE}),
        domain=domain,
        department=department,
        offset=offset,
        limit=limit,
    )
    assert loaded.page(query) == built.page(query)


def test_another_generation_store_stamp_or_code_is_not_read(
    tmp_path: Path, demo_index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = _file(tmp_path)
    assert file.save(demo_index)
    assert _file(tmp_path, "g2").load() is None
    assert _file(tmp_path, store="embedded /y/g.sqlite").load() is None
    assert _file(tmp_path, loaded_at="2026-11-22T10:00:01+00:00").load() is None
    assert _file(tmp_path, counts={"Metric": 4}).load() is None
    # the same name holding another generation's stamp (a file renamed): refused too
    other = _file(tmp_path, "g3")
    assert other.save(demo_index)
    os.replace(other.path, file.path)
    assert file.load() is None
    # other ranking code: a new fingerprint, so an old file is not used
    assert file.save(demo_index)
    monkeypatch.setattr(search_file, "_fingerprint", lambda: "0" * 16)
    assert file.load() is None


def test_truncated_damaged_or_foreign_files_are_ignored(
    tmp_path: Path, demo_index: SearchIndex, caplog: pytest.LogCaptureFixture
) -> None:
    file = _file(tmp_path)
    assert file.save(demo_index)
    good = file.path.read_bytes()
    size = len(good)
    for cut in (0, 3, len(MAGIC) + 4, 64, size // 2, size - 1):
        file.path.write_bytes(good[:cut])
        assert file.load() is None, cut
    for at in (len(MAGIC) + 1, 40, size // 3, size - 5):  # one byte changed anywhere
        damaged = bytearray(good)
        damaged[at] ^= 0x5A
        file.path.write_bytes(bytes(damaged))
        assert file.load() is None, at
    file.path.write_bytes(good + b"\0" * 8)  # longer than written
    assert file.load() is None
    import pickle

    file.path.write_bytes(pickle.dumps({"kinds": {}}))  # never unpickled
    assert file.load() is None
    file.path.write_bytes(os.urandom(4096))
    assert file.load() is None
    file.path.write_bytes(good)
    assert file.load() is not None
    assert "ignoring the search index file" in caplog.text


def test_a_link_fifo_or_device_in_place_of_the_file_is_refused_without_blocking(
    tmp_path: Path, demo_index: SearchIndex
) -> None:
    file = _file(tmp_path)
    assert file.save(demo_index)
    real = tmp_path / "elsewhere.kpsi"
    os.replace(file.path, real)
    os.symlink(real, file.path)  # a valid index, but through a link: refused
    assert file.load() is None
    file.path.unlink()
    os.symlink("/dev/zero", file.path)  # would never end
    assert file.load() is None
    file.path.unlink()
    os.mkfifo(file.path)  # would block for ever
    assert file.load() is None
    file.path.unlink()
    file.path.mkdir()
    assert file.load() is None


def _rewrite(good: bytes, edit: Any) -> bytes:
    """The file with its header edited by ``edit(header)`` and the payload edited in place by
    the same function's second call, checksum recomputed: what a hostile writer can make."""
    (size,) = struct.unpack_from("<Q", good, len(MAGIC))
    start = len(MAGIC) + 8
    header = json.loads(good[start : start + size])
    payload = bytearray(good[start + size + (-(start + size) % 8) :])
    edit(header, payload)
    header["crc"] = zlib.crc32(payload)
    raw = json.dumps(header, ensure_ascii=False).encode()
    head = MAGIC + struct.pack("<Q", len(raw)) + raw
    return head + bytes(-len(head) % 8) + bytes(payload)


def _array(header: dict[str, Any], name: str) -> list[Any]:
    return next(a for a in header["arrays"] if a[0] == name)


def _i64(header: dict[str, Any], payload: bytearray, name: str, i: int, value: int) -> None:
    _, _, offset, _ = _array(header, name)
    struct.pack_into("<q", payload, offset + 8 * i, value)


HOSTILE = {
    "array past the end": lambda h, p: _array(h, "Metric.order").__setitem__(3, 10**9),
    "array misaligned": lambda h, p: _array(h, "Metric.order").__setitem__(2, 3),
    "a pickle dtype": lambda h, p: _array(h, "Metric.order").__setitem__(1, "|O"),
    "fewer records": lambda h, p: h["kinds"]["Metric"].__setitem__("n", 3),
    "order not a permutation": lambda h, p: _i64(h, p, "Metric.by_order", 1, 0),
    "order out of range": lambda h, p: _i64(h, p, "Metric.by_order", 0, -5),
    "record offsets backwards": lambda h, p: _i64(h, p, "Metric.titles.starts", 2, 1),
    "first record not at 0": lambda h, p: _i64(h, p, "Metric.bodies.starts", 0, 4),
    "character count out of range": lambda h, p: _i64(h, p, "Metric.titles.freq_at", 0, 1 << 40),
    "an unknown kind": lambda h, p: h["kinds"].__setitem__("Nope", h["kinds"]["Metric"]),
    "no such array": lambda h, p: h["arrays"].pop(0),
    "unhashable filter value": lambda h, p: h["kinds"]["Metric"]["filters"].__setitem__(
        "domain", [["x"]]
    ),
    "a title not framed": lambda h, p: p.__setitem__(
        slice(_array(h, "Metric.titles.codes")[2], _array(h, "Metric.titles.codes")[2] + 2),
        b"a\0",
    ),
    "header not an object": lambda h, p: h.clear(),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_crafted_file_with_a_valid_checksum_is_ignored(
    tmp_path: Path, demo_index: SearchIndex, case: str
) -> None:
    file = _file(tmp_path)
    assert file.save(demo_index)
    good = file.path.read_bytes()
    assert _rewrite(good, lambda h, p: None) == good  # the rewriting itself changes nothing
    file.path.write_bytes(_rewrite(good, HOSTILE[case]))
    assert file.load() is None


def test_writing_is_atomic_best_effort_and_keeps_two_generations(
    tmp_path: Path, demo_index: SearchIndex
) -> None:
    files = [_file(tmp_path, f"g{i}") for i in range(5)]
    for i, file in enumerate(files):
        assert file.save(demo_index)
        os.utime(file.path, (1000 + i, 1000 + i))
    assert sorted(os.listdir(tmp_path)) == sorted(f.path.name for f in files[2:])
    other_store = _file(tmp_path, "g0", store="neo4j bolt://h:1 neo4j")
    assert other_store.save(demo_index)
    assert other_store.path.exists() and files[3].path.exists()  # another store's: untouched
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("x")
    assert _file(blocked).save(demo_index) is False  # cannot write: False, no error
    assert _file(blocked).load() is None


def test_the_cache_directory_follows_kpigraph_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPIGRAPH_CACHE_DIR", str(tmp_path))
    assert search_file.cache_directory() == tmp_path / "search"
    file = IndexFile.of("embedded /x", "g1", None, {})
    assert file is not None and file.directory == tmp_path / "search"
    assert IndexFile.of("embedded /x", "", None, {}) is None  # nothing loaded
    monkeypatch.setenv("KPIGRAPH_CACHE_DIR", "off")
    assert IndexFile.of("embedded /x", "g1", None, {}) is None


def test_a_detached_writer_writes_the_file_unless_a_thread_runs(
    tmp_path: Path, demo_index: SearchIndex
) -> None:
    import threading

    file = _file(tmp_path)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert search_file.write_detached(file, lambda: demo_index) is False  # not safe
    finally:
        stop.set()
        other.join()
    assert not file.path.exists()
    if search_file.write_detached(file, lambda: demo_index):  # forked (no other thread here)
        for _ in range(600):  # the writer is detached: wait for its rename (not timed)
            if file.path.exists():
                break
            time.sleep(0.1)
    else:  # pytest runs a thread of its own here: the caller writes in-process
        assert threading.active_count() > 1
        file.save(demo_index)
    loaded = file.load()
    assert loaded is not None and loaded.page(QUERIES[0]) == demo_index.page(QUERIES[0])
