"""The loader's file:line errors speak the catalog's language (#24): a Chinese catalog with a
broken reference, a duplicate id, a cycle or broken YAML is told so in Chinese, an English one
in English — by the loader itself, by ``kpigraph validate`` and ``kpigraph load``, and
``--lang`` overrides the catalog's."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph_schema.errors import CatalogError
from loaders.catalog import load_catalog
from tests.helpers import write_catalog
from tests.unit.test_cli import run

#: each slip, and the words its message has in (zh, en), after ``file:line:``
SLIPS: dict[str, tuple[dict[str, str | None], str, tuple[str, str]]] = {
    "reference": (
        {"metrics/atp.yaml": "id: atp\nname: 客单价\nowner: opps\nformula: revenue / visits\n"},
        "metrics/atp.yaml:3:",
        (
            "owner 引用了不存在的部门 'opps' — 是否想写 'ops'？",
            "owner refers to unknown department",
        ),
    ),
    "duplicate": (
        {"metrics/other/atp_copy.yaml": "id: atp\nname: 另一个客单价\n"},
        "metrics/other/atp_copy.yaml:1:",
        ("指标 id 'atp' 重复（首次定义于 metrics/atp.yaml:1）", "duplicate metric id 'atp'"),
    ),
    "cycle": (
        {"metrics/revenue.yaml": "id: revenue\nname: 营收\nformula: atp * visits\n"},
        ".yaml:",
        ("公式循环：", "formula cycle:"),
    ),
    "yaml": (
        {"metrics/bad.yaml": "id: bad\nname: 坏\n  definition: 缩进错了\n"},
        "metrics/bad.yaml:3:",
        ("YAML 格式错误：", "broken YAML:"),
    ),
    "unknown key": (
        {"metrics/atp.yaml": "id: atp\nname: 客单价\nformla: revenue / visits\n"},
        "metrics/atp.yaml:3:",
        ("未知的键 'formla' — 是否想写 'formula'", "unknown key 'formla'"),
    ),
}


def _catalog(root: Path, lang: str, files: dict[str, str | None]) -> Path:
    manifest = f"name: 语言测试\nlanguage: {lang}\n"
    return write_catalog(root, {"kpigraph.yaml": manifest, **files})


def _issues(root: Path) -> list[str]:
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    return [str(i) for i in err.value.issues]


@pytest.mark.parametrize("slip", list(SLIPS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_loader_errors_speak_the_catalogs_language(tmp_path: Path, slip: str, lang: str) -> None:
    files, where, words = SLIPS[slip]
    root = _catalog(tmp_path, lang, files)
    issues = _issues(root)
    wanted = words[0] if lang == "zh" else words[1]
    assert any(where in i and wanted in i for i in issues), issues
    if lang == "en":  # not a word of Chinese outside the catalog's own text
        other = words[0].split("'")[0].split("：")[0]
        assert not any(other in i for i in issues), issues


def test_validate_and_load_speak_the_files_language_and_lang_overrides(tmp_path: Path) -> None:
    files, where, (zh, en) = SLIPS["reference"]
    zh_dir = _catalog(tmp_path / "zh", "zh", files)
    en_dir = _catalog(tmp_path / "en", "en", files)
    db = tmp_path / "x.sqlite"
    for args, wanted, unwanted in (
        (["validate", str(zh_dir)], zh, en),
        (["validate", str(en_dir)], en, zh),
        (["load", str(zh_dir)], zh, en),
        (["--lang", "en", "validate", str(zh_dir)], en, zh),
        (["--lang", "zh", "validate", str(en_dir)], zh, en),
    ):
        proc = run(*args, db=db, check=False)
        assert proc.returncode == 1, (args, proc.stderr)
        assert where in proc.stderr and wanted in proc.stderr, (args, proc.stderr)
        assert unwanted not in proc.stderr, (args, proc.stderr)
    assert "目录中有 1 个问题" in run("load", str(zh_dir), db=db, check=False).stderr


def test_formula_syntax_in_words(tmp_path: Path) -> None:
    files = {"metrics/atp.yaml": "id: atp\nname: 客单价\nformula: revenue / (visits\n"}
    zh = _issues(_catalog(tmp_path / "zh", "zh", files))
    en = _issues(_catalog(tmp_path / "en", "en", files))
    assert any("formula 语法错误" in i and "缺少 ')'" in i for i in zh), zh
    assert any("formula syntax error: missing ')' at column 18" in i for i in en), en
