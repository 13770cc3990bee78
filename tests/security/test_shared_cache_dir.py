"""What kpigraph keeps in its cache directory is trusted as its own work: the catalog cache's
entries and load records are pickles (reading one runs code), the compiled message catalogues
give the format strings ``_()`` fills in (``{x.__init__.__globals__[…]}`` reads a process's
globals), the search index answers searches. With a shared ``KPIGRAPH_CACHE_DIR`` (a team's
``/srv/cache``, ``/tmp/kpigraph``) another user can make the per-catalog folder in advance — its
name is a hash of the catalog's path — and fill it: nothing is read from, or written to, a
folder that is not this user's own and closed to others (nor through a link)."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

from core import i18n
from core.reload import RECORD_FORMAT
from loaders.catalog import load_catalog
from loaders.catalog_cache import FileCache, FileEntry, catalog_files
from store.search_file import IndexFile
from store.search_index import SearchIndexBuilder
from tests.helpers import CATALOGS, CliLoad


class _Runs:
    """Unpickled, it creates ``marker`` (what a hostile entry would do, less politely)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.touch, (self.marker,))


def _shared(tmp_path: Path) -> tuple[Path, Path]:
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOGS / "retail", catalog)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    return catalog, shared


def _folder(catalog: Path, shared: Path) -> Path:
    cache = FileCache.for_catalog(catalog, shared)
    assert cache is not None
    return cache.directory


def _plant_entries(folder: Path, catalog: Path, marker: Path) -> None:
    keys = FileCache(folder)
    for path in sorted(catalog.rglob("*.yaml")):
        key = keys.key(path.relative_to(catalog).as_posix(), path.read_bytes())
        (folder / f"{key}.pickle").write_bytes(pickle.dumps(_Runs(marker)))


def test_entries_planted_in_a_folder_others_may_write_are_not_unpickled(
    tmp_path: Path, cli_load: CliLoad
) -> None:
    catalog, shared = _shared(tmp_path)
    folder = _folder(catalog, shared)  # as the other user computes it
    folder.mkdir()
    os.chmod(folder, 0o777)
    marker = tmp_path / "ran"
    _plant_entries(folder, catalog, marker)
    done = cli_load(catalog, shared, tmp_path / "g.sqlite")
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    # and nothing of this catalog was written where the other user reads
    assert all(p.read_bytes() == pickle.dumps(_Runs(marker)) for p in folder.iterdir())


def test_a_load_record_planted_there_is_not_unpickled(tmp_path: Path, cli_load: CliLoad) -> None:
    """The record is read by the next load of a one-file edit (the delta path)."""
    catalog, shared = _shared(tmp_path)
    folder = _folder(catalog, shared)
    folder.mkdir()
    os.chmod(folder, 0o777)
    db = tmp_path / "g.sqlite"
    assert cli_load(catalog, shared, db).returncode == 0
    marker = tmp_path / "ran"
    digest = catalog_files(catalog).digest  # what the store's marker names
    (folder / f"{digest}-{RECORD_FORMAT}.record").write_bytes(pickle.dumps(_Runs(marker)))
    sales = catalog / "metrics" / "sales.yaml"
    sales.write_text(sales.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    done = cli_load(catalog, shared, db)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


def test_a_folder_linked_elsewhere_is_not_read(tmp_path: Path, cli_load: CliLoad) -> None:
    """The per-catalog folder replaced by a link to a folder of entries: not followed."""
    catalog, shared = _shared(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    marker = tmp_path / "ran"
    _plant_entries(elsewhere, catalog, marker)
    os.symlink(elsewhere, _folder(catalog, shared))
    assert cli_load(catalog, shared, tmp_path / "g.sqlite").returncode == 0
    assert not marker.exists()


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_another_users_closed_folder_is_not_read(tmp_path: Path) -> None:
    """Made by another user (closed to others but not to its owner): not this user's own."""
    catalog, shared = _shared(tmp_path)
    folder = _folder(catalog, shared)
    folder.mkdir(mode=0o700)
    marker = tmp_path / "ran"
    _plant_entries(folder, catalog, marker)
    for path in [folder, *folder.iterdir()]:
        os.chown(path, 65534, 65534)
    os.chmod(tmp_path, 0o755)
    cache = FileCache(folder)
    key = next(iter(cache.keys.values()), None) or next(folder.iterdir()).stem
    assert cache.get(key) is None and not marker.exists()


def test_a_folder_of_ones_own_is_still_used(tmp_path: Path) -> None:
    """The checks do not turn the cache off for its owner."""
    cache = FileCache(tmp_path / "own")
    cache.put("k", FileEntry([], []))
    cache.commit()
    assert isinstance(FileCache(tmp_path / "own").get("k"), FileEntry)


def test_a_planted_message_catalogue_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    (shared / "i18n").mkdir(parents=True)
    os.chmod(shared / "i18n", 0o777)
    monkeypatch.setenv("KPIGRAPH_CACHE_DIR", str(shared))
    kept = i18n._kept_mo("zh", (i18n.LOCALE_DIR / "zh/LC_MESSAGES/kpigraph.po").read_bytes())
    assert kept is not None
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    hostile = Catalog(locale="zh_Hans_CN", domain="kpigraph")
    hostile.add("Search", "{0.__class__}")
    with kept.open("wb") as fh:
        write_mo(fh, hostile)
    planted = kept.read_bytes()
    fresh = i18n.translations.__wrapped__("zh")
    assert fresh.gettext("Search") == "搜索"
    assert kept.read_bytes() == planted  # nor written over in someone else's folder


def test_a_planted_search_index_is_not_read(tmp_path: Path) -> None:
    index = SearchIndexBuilder.of_nodes(load_catalog(CATALOGS / "retail").nodes)
    own = IndexFile("embedded /x/g.sqlite", "g1", "t", {"Metric": 1}, tmp_path / "own")
    assert own.save(index) and own.load() is not None
    open_ = tmp_path / "open"
    open_.mkdir()
    os.chmod(open_, 0o777)
    planted = IndexFile("embedded /x/g.sqlite", "g1", "t", {"Metric": 1}, open_)
    shutil.copy(own.path, planted.path)
    assert planted.load() is None
    assert not planted.save(index)
