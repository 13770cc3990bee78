"""What a one-file delta reads and writes of the per-file cache and the load record (#23):

- a cache entry keeps its nodes in pickled chunks: a delta's lint unpickles the chunk holding
  the node it asks for (``FileCache.get(lazy=True)`` + ``FileEntry.find``), a whole read every
  chunk; a damaged chunk is a miss (whole read) or an error the lint turns into a whole lint;
- the entry of a file read item by item pickles its changed chunks and writes the others as
  they were read — and reads back as the nodes it holds;
- the load record is written per file: a delta's record writes the untouched files' parts as
  they were read, and reads back as the record a whole write gives.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.reload import LoadRecord
from loaders.catalog_cache import CHUNK, FileCache, FileEntry
from loaders.partial import MetricFacts


@dataclass(frozen=True)
class Node:
    """A stand-in for a catalog node: what an entry needs of one is its ``ref``."""

    id: str
    text: str = ""

    @property
    def ref(self) -> str:
        return f"Metric:{self.id}"


def _nodes(n: int, tag: str = "") -> list[tuple[Node, int | None, dict[str, str]]]:
    return [(Node(f"m{i}", tag), 2 + i * 3, {"id": f"m{i}"}) for i in range(n)]


def test_an_entry_reads_back_whole_and_node_by_node(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    nodes = _nodes(CHUNK * 3 + 5)
    cache.put("k", FileEntry(nodes, [("a", "b")], "text"))
    cache.commit()
    whole = FileCache(tmp_path / "c").get("k")
    assert whole is not None and whole.nodes == nodes and whole.edges == [("a", "b")]
    lazy = FileCache(tmp_path / "c").get("k", lazy=True)
    assert lazy is not None
    assert lazy.find("Metric:m70") == nodes[70] and lazy.find("Metric:nope") is None
    assert sorted(lazy._unpickled) == [70 // CHUNK]  # only the chunk holding m70
    assert lazy.nodes == nodes


def test_a_damaged_chunk_is_a_miss_or_an_error_never_a_node(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    nodes = _nodes(CHUNK * 2)
    cache.put("k", FileEntry(nodes, [], "text"))
    cache.commit()
    path = tmp_path / "c" / "k.pickle"
    data = path.read_bytes()
    chunk = pickle.loads(data)._chunks[1]
    assert data.count(chunk) == 1
    # the outer pickle whole, the second chunk's bytes not a pickle any more
    path.write_bytes(data.replace(chunk, b"\0" * len(chunk)))
    assert FileCache(tmp_path / "c").get("k") is None  # a whole read: a miss, read the file
    lazy = FileCache(tmp_path / "c").get("k", lazy=True)
    assert lazy is not None and lazy.find("Metric:m0") == nodes[0]
    with pytest.raises(pickle.UnpicklingError):
        lazy.find(f"Metric:m{CHUNK + 1}")


def test_an_item_read_entry_writes_its_unchanged_chunks_as_they_were(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    old_nodes = _nodes(CHUNK * 3)
    cache.put("old", FileEntry(old_nodes, [], "text"))
    cache.commit()
    older = FileCache(tmp_path / "c").get("old")
    assert older is not None
    kept = list(older.nodes)  # the very objects read, as a delta keeps an unchanged item
    kept[CHUNK + 1] = (Node(f"m{CHUNK + 1}", "edited"), kept[CHUNK + 1][1], {"id": "x"})
    new = FileEntry(kept, [], "text2")
    new.reuse_chunks(older)
    state = new.__getstate__()
    read = older._chunks  # the bytes the entry was read from
    assert state["chunks"][0] is read[0] and state["chunks"][2] is read[2]  # written as read
    assert state["chunks"][1] != read[1]  # the edited chunk pickled anew
    # a node moved by a line is not "the same": its chunk is pickled anew
    moved = list(older.nodes)
    node, line, raw = moved[0]
    moved[0] = (node, (line or 0) + 1, raw)
    shifted = FileEntry(moved, [], "text3")
    shifted.reuse_chunks(older)
    assert shifted.__getstate__()["chunks"][0] != read[0]
    cache = FileCache(tmp_path / "c")
    cache.put("new", new)
    cache.commit()
    back = FileCache(tmp_path / "c").get("new")
    assert back is not None and back.nodes == kept and back.text == "text2"


def _facts(file: str, *ids: str) -> dict[str, MetricFacts]:
    return {i: (file, (), (), (i,), None, "L1", "d", None) for i in ids}


def test_a_record_written_per_file_reads_back_as_written_whole() -> None:
    facts = _facts("metrics/a.yaml", "a1", "a2") | _facts("metrics/b.yaml", "b1")
    refs = {
        "metrics/a.yaml": ["Metric:a1", "Metric:a2"],
        "metrics/b.yaml": ["Metric:b1"],
        "systems.yaml": ["System:s"],
    }
    record = LoadRecord("fp", {"metrics/a.yaml": "h"}, refs, frozenset({"Metric:a1"}), {}, facts)
    back = pickle.loads(pickle.dumps(record))
    assert back == record
    # a delta edits b.yaml: a new record from the old one, b's part written anew
    facts2 = dict(back.facts) | _facts("metrics/b.yaml", "b1", "b2")
    refs2 = {k: v for k, v in back.refs.items() if k != "metrics/b.yaml"}
    refs2["metrics/b.yaml"] = ["Metric:b1", "Metric:b2"]
    delta = LoadRecord("fp", {}, refs2, frozenset(), {}, facts2)
    delta.reuse_parts(back, ["metrics/b.yaml"])
    assert pickle.loads(pickle.dumps(delta)) == LoadRecord("fp", {}, refs2, frozenset(), {}, facts2)
    # a file the delta removed is not written from the old record
    gone = {k: v for k, v in facts2.items() if v[0] != "metrics/a.yaml"}
    refs3 = {k: v for k, v in refs2.items() if k != "metrics/a.yaml"}
    removed = LoadRecord("fp", {}, refs3, frozenset(), {}, gone)
    removed.reuse_parts(pickle.loads(pickle.dumps(delta)), ["metrics/a.yaml"])
    again = pickle.loads(pickle.dumps(removed))
    assert again.facts == gone and again.refs == refs3


def test_the_record_keeps_the_meta_a_delta_would_read_from_kpigraph_yaml() -> None:
    from core.reload import record_of
    from loaders.catalog import read_catalog
    from loaders.catalog_cache import catalog_files
    from loaders.catalog_read import catalog_meta
    from tests.helpers import DEMO

    source = read_catalog(DEMO)
    record = record_of(source, catalog_files(DEMO), None)
    assert record.meta is not None and "summary" not in record.meta
    assert record.meta == catalog_meta(DEMO)
    assert pickle.loads(pickle.dumps(record)).meta == record.meta
