"""Errors speak the language in use (#24): the warehouse engines', git sources', node ids',
hierarchy mappings' and ``kpigraph neo4j``'s words are catalogued, and an error an engine keeps
for later requests is worded in the language of the request that reads it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from core import i18n
from graph_schema.errors import KpigraphError
from graph_schema.hierarchy import HierarchyError, read_mapping
from graph_schema.ids import NodeKind, NodeRef
from loaders.git_source import catalog_entries, load_git_catalog, parse_git_spec
from values.engines import open_engine
from values.engines.connections import SecretUrl
from values.errors import EngineConnectionError, ValuesFileError
from values.files import load_query

#: an English word of a sentence (3+ letters), outside quotes, paths, URLs and commands
WORD = re.compile(r"(?<![\w/.'-])[a-z]{3,}(?![\w/.'-])")
#: names of things (folders, tools, the dimension of the test data)
NAMES = {"git", "pyspark", "pip", "install", "data", "kpigraph", "local", "store", "region"}


def _english_words(text: str) -> list[str]:
    text = re.sub(r"'[^']*'|\S+://\S*|git:\S+|KPIGRAPH_\w+=\S+|\S+\.(yaml|csv)\b", " ", text)
    return [w for w in WORD.findall(text) if w not in NAMES]


def _zh(text: str) -> None:
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert _english_words(text) == [], text


def _said(make: object) -> dict[str, str]:
    """The message of the error ``make()`` raises, read in zh and in en."""
    out = {}
    for lang in ("zh", "en"):
        with i18n.use(lang):
            with pytest.raises(KpigraphError) as caught:
                make()  # type: ignore[operator]
            out[lang] = caught.value.message
    return out


def test_a_kept_values_file_error_is_worded_for_each_reader() -> None:
    """A metric's SQL whose rows are not tidy values: the engine keeps the error (its
    ``notes``) and later requests read it in their own language, not the first one's."""
    con = duckdb.connect()
    # raised while a zh request runs …
    with i18n.use("zh"), pytest.raises(ValuesFileError) as caught:
        load_query(
            con,
            "SELECT '2026-06' AS period, 'x' AS shop, 1 AS value",
            "m",
            "t",
            lambda ids: set(),
        )
    kept = caught.value
    with i18n.use("en"):  # … read by an en request
        assert "unknown dimension column 'shop'" in kept.message, kept.message
        assert "unknown dimension column" in kept.issues[0].worded()["message"]  # type: ignore[operator]
    with i18n.use("zh"):
        assert "未知的维度列" in kept.message or "维度列" in kept.message, kept.message
        _zh(kept.message.replace("'shop'", ""))


def test_a_linked_out_data_file_is_refused_in_the_language_in_use(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n", encoding="utf-8")
    (tmp_path / "data" / "orders.csv").symlink_to(outside)
    said = _said(lambda: open_engine(SecretUrl("duckdb:///:memory:"), data_dir=tmp_path / "data"))
    assert "is a link to a file outside the data folder" in said["en"], said
    assert "copy the file into the catalog directory" in said["en"], said
    _zh(said["zh"])


@pytest.mark.parametrize(
    "url",
    ["mysql://reader@h/db", "duckdb:///nonexistent/dir/k.duckdb"],
)
def test_engine_connection_errors_speak_the_language_in_use(url: str) -> None:
    said = _said(lambda: open_engine(SecretUrl(url)))
    assert said["zh"] != said["en"], said
    _zh(said["zh"].split("：", 1)[0])  # the engine's own message (DuckDB's) follows the colon


def test_an_engine_connection_error_is_kept_unworded() -> None:
    with i18n.use("zh"), pytest.raises(EngineConnectionError) as caught:
        open_engine(SecretUrl("mysql://reader@h/db"))
    with i18n.use("en"):
        assert caught.value.message.startswith("no values engine for the connection")


@pytest.mark.parametrize(
    "spec", ["git::x", "git:-x", "git:HEAD:/abs", "x", "git:HEAD:.."], ids=lambda s: s
)
def test_git_spec_errors_speak_the_language_in_use(spec: str) -> None:
    said = _said(lambda: parse_git_spec(spec))
    assert said["zh"] != said["en"], said
    _zh(said["zh"])


def test_git_source_errors_speak_the_language_in_use(tmp_path: Path) -> None:
    said = _said(lambda: load_git_catalog("git:HEAD", tmp_path))  # not a repository
    _zh(said["zh"])
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    said = _said(lambda: load_git_catalog("git:nosuchrev", tmp_path))
    _zh(said["zh"])
    listing = b"100644 blob e69d\tc/x/../../f.yaml\x00"
    said = _said(lambda: catalog_entries(listing, "c", "git:HEAD:c"))
    _zh(said["zh"])
    said = _said(lambda: catalog_entries(b"120000 blob e69d\tc/k.yaml\x00", "c", "git:HEAD:c"))
    _zh(said["zh"])


@pytest.mark.parametrize("text", ["Foo:x", "Metric:Bad-Id", "Field:dms", "Table:x"])
def test_node_id_errors_speak_the_language_in_use(text: str) -> None:
    said = _said(lambda: NodeRef.parse(text, NodeKind.METRIC))
    assert said["zh"] != said["en"], said
    _zh(said["zh"].replace("Metric, Dimension, System, Table, Field, Department, Dashboard", ""))


def test_hierarchy_mapping_errors_speak_the_language_in_use(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("region,store\n华东,s1\n华北,s1\n", encoding="utf-8")
    (tmp_path / "short.csv").write_text("region\n华东\n", encoding="utf-8")
    for rel in ("m.csv", "short.csv", "missing.csv"):
        said = _said(lambda rel=rel: read_mapping("store", ["region", "store"], tmp_path, rel))
        assert said["zh"] != said["en"], said
        _zh(said["zh"])
    with i18n.use("zh"), pytest.raises(HierarchyError):
        read_mapping("store", ["region", "store"], tmp_path, "m.csv")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_neo4j_status_speaks_the_language_in_use(lang: str, tmp_path: Path) -> None:
    """``kpigraph neo4j status`` with no server: 'not running' was English in zh."""
    from cli import cli

    result = CliRunner().invoke(cli, ["--lang", lang, "neo4j", "status", "--data", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == ("未运行" if lang == "zh" else "not running")


def test_invalid_ref_from_the_cli_is_in_zh(tmp_path: Path) -> None:
    """What ``kpigraph show Foo:x`` prints (the error handler of the real command line)."""
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "cli", "--lang", "zh", "show", "Foo:x", "--db", str(tmp_path / "k")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "未知" in done.stderr and "unknown node kind" not in done.stderr, done.stderr


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_chat_bot_refusals_speak_the_language_in_use(
    lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A callback a chat platform sends without its signature headers is refused (401) in the
    request's language; so is a platform the server has no bot for (404)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.helpers import demo_store

    monkeypatch.setenv("KPIGRAPH_DINGTALK_APP_SECRET", "SEC0123456789abcdef")
    with TestClient(create_app(store=demo_store())) as c:
        refused = c.post("/bots/dingtalk", params={"lang": lang}, content=b"{}")
        missing = c.post("/bots/nope", params={"lang": lang}, content=b"{}")
    assert refused.status_code == 401 and missing.status_code == 404
    said = refused.json()["error"]["message"] + " " + missing.json()["error"]["message"]
    if lang == "zh":
        _zh(said.replace("timestamp / sign", "").replace("/bots/nope", ""))
    else:
        assert "missing or malformed timestamp / sign headers" in said, said
        assert "no chat bot at /bots/nope" in said, said


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_user_and_sign_in_refusals_speak_the_language_in_use(lang: str, tmp_path: Path) -> None:
    """``users add`` of an owner without a department, a bad user name, and a wrong bearer
    token on the API: each refusal in the language in use."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from governance.users import add_user
    from store.ledger import ledger_for
    from tests.helpers import demo_store

    store = demo_store()
    ledger = ledger_for(store)
    try:
        with i18n.use(lang):
            said = [_said(lambda: add_user(ledger, "x", "owner", None))[lang]]
            said.append(_said(lambda: add_user(ledger, "-bad-", "viewer", None))[lang])
    finally:
        ledger.close()
    with TestClient(create_app(store=store)) as c:
        r = c.get("/api/me", params={"lang": lang}, headers={"Authorization": "Basic x"})
    assert r.status_code == 401, r.text
    said.append(r.json()["error"]["message"])
    if lang == "zh":
        for text in said:
            _zh(text.replace("--department ID", "").replace("Authorization: Bearer TOKEN", ""))
    else:
        assert "an owner reviews for a department" in said[0], said
        assert "Bearer TOKEN" in said[2], said
