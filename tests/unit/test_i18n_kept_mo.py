"""The message catalogues are compiled from their ``.po`` once and the ``.mo`` kept in the
per-user cache directory (core/i18n.py, issue #23: parsing the ``.po`` and importing Babel's
message machinery cost every command ~0.05 s): a later process reads the kept file; a damaged
one is compiled again; with caching off every process compiles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core import i18n
from tests.helpers import ROOT


def _fresh(lang: str) -> i18n.Translations:
    return i18n.translations.__wrapped__(lang)  # type: ignore[attr-defined]


def test_compiled_once_then_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPIGRAPH_CACHE_DIR", str(tmp_path))
    first = _fresh("zh")
    kept = list((tmp_path / "i18n").glob("kpigraph-zh-*.mo"))
    assert len(kept) == 1 and first.gettext("Search") == "搜索"
    # a later process reads the kept file: no .po parsed, no Babel message machinery
    code = (
        "import sys; from core import i18n; t = i18n.translations('zh'); "
        "assert t.gettext('Search') == '搜索', t.gettext('Search'); "
        "assert 'babel.messages' not in sys.modules and 'babel.dates' not in sys.modules"
    )
    env = {"KPIGRAPH_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    assert list((tmp_path / "i18n").glob("kpigraph-zh-*.mo")) == kept


def test_a_damaged_kept_file_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPIGRAPH_CACHE_DIR", str(tmp_path))
    _fresh("en")
    (kept,) = (tmp_path / "i18n").glob("kpigraph-en-*.mo")
    good = kept.read_bytes()
    kept.write_bytes(good[:100])  # truncated
    again = _fresh("en")
    assert again.ngettext("%(n)s file", "%(n)s files", 2) == "%(n)s files"
    assert kept.read_bytes() == good
    # the same messages as compiling from the .po with caching off
    monkeypatch.setenv("KPIGRAPH_CACHE_DIR", "off")
    assert _fresh("en")._catalog == again._catalog
    assert _fresh("zh")._catalog == i18n.Translations(_zh_kept(tmp_path, monkeypatch))._catalog


def _zh_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("KPIGRAPH_CACHE_DIR", str(tmp_path))
    _fresh("zh")
    (kept,) = (tmp_path / "i18n").glob("kpigraph-zh-*.mo")
    return kept.read_bytes()
