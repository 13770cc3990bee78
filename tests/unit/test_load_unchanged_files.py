"""``kpigraph load`` of the very files the stored graph was read from reads nothing (issue
#17): it compares a digest of the catalog's files with the one the load that produced the
stored graph recorded. Anything else — an edited file, a file added, the stored graph
changed since by another publish — reads and publishes as usual."""

from __future__ import annotations

import json
from pathlib import Path

from core.publish import already_loaded, publish
from graph_schema.diff import graph_digest
from loaders.catalog import load_catalog
from loaders.catalog_cache import files_digest
from store.embedded import EmbeddedStore
from tests.helpers import write_catalog
from tests.unit.test_cli import run

ATP = (
    "id: atp\nname: 客单价\nabbr: ATP\nlevel: L1\nowner: ops\nreviewer: finance\n"
    "formula: revenue / visits\nversion: {version}\n"
)


def _load(cat: Path, db: Path, *extra: str) -> dict[str, object]:
    out = run("load", str(cat), "--json", *extra, db=db)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_the_same_files_are_not_read_again(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    cat = write_catalog(tmp_path / "cat", {"metrics/atp.yaml": ATP.format(version="1.0.0")})
    assert _load(cat, db)["revision"] == 1
    again = _load(cat, db)
    assert again["revision"] is None and again["files_unchanged"] is True and again["head"] == 1
    # rewritten with the same bytes: the same digest (content, not modification times)
    atp = cat / "metrics/atp.yaml"
    atp.write_bytes(atp.read_bytes())
    assert _load(cat, db)["files_unchanged"] is True


def test_an_edit_or_a_new_file_is_read(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    cat = write_catalog(tmp_path / "cat", {"metrics/atp.yaml": ATP.format(version="1.0.0")})
    _load(cat, db)
    (cat / "metrics/atp.yaml").write_text(
        ATP.format(version="1.1.0").replace("客单价", "客单价（门店）"), encoding="utf-8"
    )
    edited = _load(cat, db)
    assert edited["revision"] == 2 and edited["files_unchanged"] is False
    # a file the loader does not read as a metric still counts: read again, nothing changes
    (cat / "NOTES.txt").write_text("not part of the graph\n", encoding="utf-8")
    out = run("load", str(cat), "--json", db=db, check=False)
    assert out.returncode in (0, 1)  # unexpected files may be refused; never "unchanged"
    if out.returncode == 0:
        data = json.loads(out.stdout)
        assert data["files_unchanged"] is False and data["revision"] is None


def test_a_graph_changed_since_by_another_publish_is_read_again(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    cat = write_catalog(tmp_path / "cat", {"metrics/atp.yaml": ATP.format(version="1.0.0")})
    _load(cat, db)
    store = EmbeddedStore(db)
    digest = files_digest(cat)
    assert already_loaded(store, digest) is not None
    # e.g. an approved change request: another graph, published with the stored meta
    other = write_catalog(tmp_path / "other", {"metrics/atp.yaml": ATP.format(version="2.0.0")})
    graph = load_catalog(other)
    stored_meta = store.info().meta
    graph = type(graph)(graph.name, graph.nodes, graph.edges, {**graph.meta, **stored_meta})
    assert publish(store, graph).revision == 2
    stored = store.catalog()  # the digest kept is the stored graph's (automatic versions in)
    assert store.info().meta.get("digest") == graph_digest(stored.nodes, stored.edges)
    assert already_loaded(store, digest) is None  # the recorded pair no longer holds
    store.close()
    back = _load(cat, db, "--no-version-check")  # 2.0.0 → 1.0.0 goes backwards
    assert back["files_unchanged"] is False and back["revision"] == 3


def test_the_cache_is_complete_when_load_returns(tmp_path: Path) -> None:
    """The per-file cache is written by a forked child while the load goes on; the load
    process waits for it before exiting, so the next load finds every entry."""
    from loaders.catalog_cache import FileCache

    db = tmp_path / "s.sqlite"
    cat = write_catalog(tmp_path / "cat", {"metrics/atp.yaml": ATP.format(version="1.0.0")})
    _load(cat, db)
    cache = FileCache.for_catalog(cat)
    assert cache is not None
    entries = sorted(p.suffix for p in cache.directory.iterdir())
    yaml_files = [p for p in cat.rglob("*.yaml") if p.name != "kpigraph.yaml"]
    assert entries.count(".pickle") == len(yaml_files) and ".tmp" not in entries
