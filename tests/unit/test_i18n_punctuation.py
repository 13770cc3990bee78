"""A zh line reads as Chinese (#24): full-width brackets and colons beside Chinese words
(``可能的原因（…）：``, not ``可能的原因 (…):``), no space after a full-width colon
(``说明：…``, not ``说明： …``), fields and values in words (``汇总方式 求和``, not
``aggregation sum``), departments by name; and English counts in the singular or plural."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import DEMO

#: an ASCII bracket or colon right after a Chinese word (an id in brackets, ``(n=23)`` and a
#: ``file:line`` aside), or a space after full-width punctuation
ASCII_BESIDE_CJK = re.compile(
    r"[\u4e00-\u9fff] ?\((?![\w.=+−-]+\))|[\u4e00-\u9fff）]:(?!\d)|[：；，（] "
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("punct") / "k.sqlite"
    store = EmbeddedStore(path)
    store.load(load_catalog(DEMO))
    store.close()
    return path


def _run(*args: str, db: Path | None = None, lang: str | None = None) -> str:
    from cli import cli

    argv = [*(["--lang", lang] if lang else []), *args, *(["--db", str(db)] if db else [])]
    result = CliRunner(env={"COLUMNS": "3000"}).invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code in (0, 1), (argv, result.output)
    return result.output


COMMANDS = [
    ("explain", "营收", "--period", "2026-06", "--by", "store"),
    ("show", "营收"),
    ("show", "atp"),
    ("check-values",),
    ("values", "revenue", "--from", "2026-05", "--to", "2026-06"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_zh_lines_are_punctuated_the_chinese_way(db: Path, args: tuple[str, ...]) -> None:
    bad = [x.strip() for x in _run(*args, db=db).splitlines() if ASCII_BESIDE_CJK.search(x)]
    assert bad == [], "\n".join(bad)


def test_help_is_punctuated_the_chinese_way() -> None:
    said = _run("init", "--help")
    assert said.startswith("用法：") and " init [OPTIONS]" in said, said
    assert "选项：" in said and "选项:" not in said, said
    # 目录 is a catalog; a folder on disk is 文件夹
    assert "在文件夹 DIRECTORY 中新建一个指标目录" in said, said
    assert _run("init", "--help", lang="en").startswith("Usage: ")


def test_show_words_every_field(db: Path) -> None:
    said = _run("show", "营收", db=db)
    assert "aggregation" not in said and "汇总方式" in said and "求和" in said, said
    assert "关键指标" in said and re.search(r"指标角色\s+key", said) is None, said
    assert "财务部（finance）" in said, said
    english = _run("show", "营收", db=db, lang="en")
    assert "Aggregation" in english and "Key metric" in english, english


def test_users_list_names_the_department(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "k.sqlite"
    shutil.copy(db, copy)
    _run("users", "add", "ann", "--role", "owner", "--department", "ops", db=copy)
    said = _run("users", "list", db=copy)
    assert "运营部（ops）" in said, said


def test_the_dbt_import_report_counts_in_words(tmp_path: Path) -> None:
    _run("export", "dbt", str(DEMO), "-o", str(tmp_path / "dbt"))
    said = _run("import", "dbt", str(tmp_path / "dbt"), "-o", str(tmp_path / "back"), lang="zh")
    counts = said.splitlines()[1]
    assert "指标：" in counts and re.search(r"[a-z_]{4,}:", counts) is None, said


def test_english_counts_are_singular_or_plural() -> None:
    from core import i18n

    with i18n.use("en"):
        one = i18n.ngettext(
            "lint: %(num)s warning; 'kpigraph lint %(directory)s' shows it",
            "lint: %(num)s warnings; 'kpigraph lint %(directory)s' lists them",
            1,
        ) % {"num": 1, "directory": "c"}
        many = i18n.ngettext("%(key)s: %(num)s metric", "%(key)s: %(num)s metrics", 9) % {
            "key": "filter",
            "num": 9,
        }
    assert one == "lint: 1 warning; 'kpigraph lint c' shows it"
    assert many == "filter: 9 metrics"
    assert not i18n.MISSES or all(m[1] != "lint: %(num)s warning" for m in i18n.MISSES)


def test_show_names_relations_in_words() -> None:
    """``show`` lists neighbours under the relation's name as the map's legend words it
    (公式, 驱动, 负责 …), not its id (INPUT_TO, DRIVES, OWNS)."""
    from cli.render import relation_word
    from core import i18n

    with i18n.use("zh"):
        assert relation_word("OWNS") == "负责" and relation_word("CAUSES") == "因果（+/−）"
    with i18n.use("en"):
        assert relation_word("FEEDS") == "field binding"
    assert relation_word("NOT_A_RELATION") == "NOT_A_RELATION"
