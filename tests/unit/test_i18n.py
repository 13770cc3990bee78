"""One message catalogue (#24): complete zh and en catalogues, every page in one language, the
language chosen by the catalog, ``?lang=``, ``Accept-Language`` and ``--lang``."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from core import i18n
from graph_schema.rules import DEFAULT_RULES
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import DEMO, ROOT, demo_store, write_catalog
from tests.i18n_text import cjk_left, data_strings, english_left, visible_text, without_data

PO = {
    lang: ROOT / "core" / "locale" / lang / "LC_MESSAGES" / "kpigraph.po" for lang in ("zh", "en")
}
FIELD = re.compile(r"\{(\w+)\}|%\((\w+)\)s")


def _extracted() -> set[str]:
    """Every message id in the code and templates, as pybabel extracts them."""
    method_map = [("viz/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"viz/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    ids: set[str] = set()
    for package in (
        "analysis",
        "api",
        "cli",
        "core",
        "governance",
        "graph_schema",
        "loaders",
        "neo4j_local",
        "values",
        "viz",
    ):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package if package != "viz" else ROOT,
            method_map=method_map if package == "viz" else [("**.py", "python")],
            options_map=options,
            keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
        ):
            if package == "viz" and not _file.startswith("viz/"):
                continue
            ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def test_every_message_is_in_both_catalogues_with_the_same_fields() -> None:
    ids = _extracted()
    assert len(ids) > 250
    for lang, path in PO.items():
        with path.open("rb") as f:
            catalog = read_po(f)
        have = {(m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog if m.id}
        missing = sorted(ids - have.keys())
        assert not missing, f"{lang}: not in {path.name}: {missing[:20]}"
        for key, message in have.items():
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if lang == "zh":
                assert all(strings), f"zh: no translation for {key!r}"
            # a plural's forms may use the fields of either id (click words "{len} were given"
            # in the plural only, and fills both ids' fields)
            # (not ``ids``: the next language's check reads that)
            forms = message.id if isinstance(message.id, tuple) else (message.id,)
            allowed = {f for i in forms for f in FIELD.findall(i)}
            for s in strings:
                if s and len(forms) == 1:
                    assert set(FIELD.findall(s)) == set(FIELD.findall(key)), (lang, key, s)
                elif s:
                    assert set(FIELD.findall(s)) <= allowed, (lang, key, s)


def test_language_choice() -> None:
    assert i18n.negotiate("en-GB,en;q=0.9,zh;q=0.3") == "en"
    assert i18n.negotiate("zh-TW;q=0.5,fr") == "zh"
    with i18n.use("en"):
        assert i18n._("Search") == "Search"
        assert i18n.resolve("zh") == "en"  # a choice beats the catalog's language
    assert i18n.resolve("en") == "en" and i18n.resolve(None) == "zh"


# -- pages ------------------------------------------------------------------------------------

PAGES = [
    "/",
    "/metrics/revenue",
    "/metrics/atp",
    "/search?q=营收",
    "/nodes/Dimension:store",
    "/impact/Metric:visits",
    "/view/graph?focus=Metric:atp",
    "/view/graph?focus=Metric:revenue&mode=tree&depth=2",
    "/explain/revenue?period=2026-06&base=mom&by=store,order_type",
    "/explain/atp?period=2026-06&base=yoy&by=store",
    "/lint",
    "/stats",
    "/changes",
    "/history",
    "/history/1",
    "/compare?a=atp&b=revenue",
    "/compare?a=atp&b=atp",
    "/metrics/atp/discussion",
    "/signin",
    "/inventory",
    "/review",
    "/onboarding",
    "/onboarding/ops",
    "/quiz?department=ops&seed=1",
    "/reports/monthly?month=2026-06",
    "/reports/quarterly?quarter=2026Q2",
    "/metrics/no_such_metric",
]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(store=demo_store())) as c:
        yield c


@pytest.fixture(scope="module")
def demo_data() -> set[str]:
    """The catalog's own words (names, definitions, ids, refs, files), the demo data's members
    and the lint rule ids: everything that is data, not UI, on a page."""
    graph = load_catalog(DEMO)
    values: list[object] = [n.model_dump(mode="json") for n in graph.nodes]
    values += [str(n.ref) for n in graph.nodes] + [graph.meta, [r.id for r in DEFAULT_RULES]]
    values += [n.id.rsplit(".", 1)[-1] for n in graph.nodes if "." in n.id]  # tables, fields
    values += [str(p.relative_to(DEMO)) for p in DEMO.rglob("*.yaml")]
    for path in (DEMO / "data").glob("*.csv"):
        with path.open(encoding="utf-8") as f:
            values += [row for row in csv.reader(f)]
    # the values' own members and periods as the engine names them (store names, regions)
    data = data_strings(values)
    data.update(f"{k}={v}" for k in ("region", "store") for v in list(data))
    return data


@pytest.mark.parametrize("url", PAGES)
def test_english_pages_hold_no_chinese_outside_data(
    client: TestClient, demo_data: set[str], url: str
) -> None:
    i18n.MISSES.clear()
    r = client.get(url, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.status_code in (200, 404), r.text[:500]
    assert '<html lang="en">' in r.text
    left = without_data(visible_text(r.text), demo_data)
    assert cjk_left(left) == []
    assert not i18n.MISSES, sorted(i18n.MISSES)


@pytest.mark.parametrize("url", PAGES)
def test_chinese_pages_hold_no_english_ui_text(
    client: TestClient, demo_data: set[str], url: str
) -> None:
    i18n.MISSES.clear()
    r = client.get(url + ("&" if "?" in url else "?") + "lang=zh")
    assert r.status_code in (200, 404), r.text[:500]
    assert '<html lang="zh-CN">' in r.text
    left = without_data(visible_text(r.text), demo_data)
    assert english_left(left) == []
    assert not i18n.MISSES, sorted(i18n.MISSES)


def test_an_english_catalog_speaks_english_by_default(tmp_path: Path) -> None:
    root = write_catalog(tmp_path / "cat", {"kpigraph.yaml": "name: shop\nlanguage: en\n"})
    store = EmbeddedStore(tmp_path / "en.sqlite")
    store.load(load_catalog(root))
    with TestClient(create_app(store=store)) as c:
        home = c.get("/").text
        assert "Search" in home and "搜索" not in home and '<html lang="en">' in home
        assert "个指标" not in home and "3 metrics" in home
        zh = c.get("/?lang=zh").text  # a reader may still ask for Chinese
        assert "搜索" in zh
        # a chat answer is in the catalog's language, whatever the asking client says
        answer = c.get("/api/ask?q=atp", headers={"Accept-Language": "zh-CN"}).text
        assert "Formula: 客单价 = 营收 / 进厂台次" in answer, answer
        assert "Owner: 运营部 (reviewer: 财务部)" in answer and "负责" not in answer


# -- command line ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "k.sqlite"
    EmbeddedStore(path).load(load_catalog(DEMO))
    return path


def _cli(*args: str, db: Path) -> str:
    from cli import cli

    result = CliRunner().invoke(cli, [*args, "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


# every command in zh and --lang en: tests/unit/test_i18n_commands.py (walks the command tree)


def test_render_says_what_it_wrote_in_the_catalogs_language(db: Path, tmp_path: Path) -> None:
    zh = _cli("render", "atp", "-o", str(tmp_path / "map.html"), "--depth", "1", db=db)
    zh = zh.replace(str(tmp_path), "")
    assert "已写入" in zh and "wrote" not in zh and "nodes" not in zh, zh
    en = _cli("--lang", "en", "render", "atp", "-o", str(tmp_path / "m.html"), db=db)
    en = en.replace(str(tmp_path), "")
    assert en.startswith("wrote ") and cjk_left([en]) == [], en
    hidden = _cli("render", "revenue", "-o", str(tmp_path / "h.html"), "--max-nodes", "1", db=db)
    hidden = hidden.replace(str(tmp_path), "")
    assert "未显示" in hidden and "more" not in hidden, hidden


def test_no_message_hides_inside_an_f_string() -> None:
    """pybabel does not see ``_()`` inside an f-string (before Python 3.12): such a message
    would never reach the catalogue and show in English everywhere."""
    pattern = re.compile(r"""\bf["'][^"'\n]*\{_\(""")
    found = [
        f"{path.relative_to(ROOT)}:{i}"
        for package in ("analysis", "api", "cli", "core", "governance", "graph_schema", "viz")
        for path in (ROOT / package).rglob("*.py")
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_unknown_dimension_is_a_422_with_close_matches(client: TestClient) -> None:
    """#24: ``by=shop`` used to answer 200 with a note; now 422 naming ``store``."""
    r = client.get("/api/metrics/revenue/explain", params={"period": "2026-06", "by": "shop"})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["suggestions"][0] == "store"
    r = client.get("/api/metrics/revenue/explain", params={"period": "2026-07"})
    assert r.status_code == 422 and "2024-07 … 2026-06" in r.json()["error"]["message"]


def test_a_kept_engine_words_its_notes_in_each_requests_language() -> None:
    """The values engine is kept between requests, and so are its notes (why a metric has no
    values): they are kept worded in no language and worded for each request — a request in
    en after one in zh (and back) reads its own language, never the first one's."""
    with TestClient(create_app(store=demo_store())) as c:
        said = {}
        for lang in ("zh", "en", "zh"):
            r = c.get("/api/metrics/nps/values", params={"lang": lang})
            assert r.status_code >= 400, r.text
            said.setdefault(lang, []).append(r.text)
    assert said["zh"][0] == said["zh"][1], said
    assert "其 SQL 被拒绝" in said["zh"][0] and "satisfaction_survey" in said["zh"][0], said
    assert cjk_left([said["en"][0].replace("净推荐值", "")]) == [], said
    assert "its sql is refused" in said["en"][0], said
