"""One language per catalog, the remainders of #24: suggestion lists worded the language's way
(``Metric:revenue（营收）、Department:ops（运营部）`` in zh, not ``id (名称), …``), click's path
errors in one language (``路径 '/x' 不存在``, not ``Path '/x' 不存在``), and webhook delivery
failures read in their reader's language, not the sending server's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import i18n
from governance.notify import Deliverer
from graph_schema.governance import OutboxItem, OutboxStatus, now_iso
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from store.ledger import ledger_for
from tests.helpers import DEMO, ROOT, write_catalog


def cli(*args: str, db: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``kpigraph ARGS`` in a process of its own (click names its types at import)."""
    env = {**os.environ, "KPIGRAPH_BACKEND": "embedded", "COLUMNS": "3000"}
    env.pop("KPIGRAPH_LANG", None)
    if db is not None:
        env["KPIGRAPH_DB"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("leftovers") / "kg.sqlite"
    EmbeddedStore(path).load(load_catalog(DEMO))
    return path


def test_suggestions_name_each_node_the_languages_way(db: Path) -> None:
    zh = cli("show", "营搜", db=db)
    assert zh.returncode == 2
    assert "是否想找 Metric:revenue（营收）、Department:ops（运营部）？" in zh.stderr
    en = cli("--lang", "en", "show", "营搜", db=db)
    assert "did you mean Metric:revenue (营收), Department:ops (运营部)?" in en.stderr
    # a department typed wrong: its id to type, its name beside it
    dept = cli("onboarding", "运营", db=db)
    assert "ops（运营部）" in dept.stderr and "、finance（财务部）" in dept.stderr
    assert "ops (" not in dept.stderr and ", " not in dept.stderr
    # the dimensions there are, listed with 、
    dims = cli("explain", "revenue", "--period", "2026-06", "--by", "shop", db=db)
    assert "（现有维度：brand_type、order_type、region、store" in dims.stderr


def test_an_ambiguous_name_lists_its_nodes_the_languages_way(tmp_path: Path) -> None:
    cat = write_catalog(
        tmp_path / "cat",
        {
            "metrics/atp2.yaml": "id: atp_store\nname: 客单价\nlevel: L2\nowner: ops\n",
            "kpigraph.yaml": "name: test catalog\nlint: {severity: {conflict.name: warning}}\n",
        },
    )
    path = tmp_path / "amb.sqlite"
    assert cli("load", str(cat), db=path).returncode == 0
    zh = cli("show", "客单价", db=path)
    assert "Metric:atp（客单价）、Metric:atp_store（客单价）" in zh.stderr, zh.stderr
    en = cli("--lang", "en", "show", "客单价", db=path)
    assert "Metric:atp (客单价), Metric:atp_store (客单价)" in en.stderr, en.stderr


def test_clicks_path_errors_speak_one_language(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    zh = cli("import", "dbt", missing)
    assert zh.returncode == 2
    assert f"'PATH' 的值无效：路径 '{missing}' 不存在。" in zh.stderr, zh.stderr
    assert "Path" not in zh.stderr.replace("'PATH'", "")
    en = cli("--lang", "en", "import", "dbt", missing)
    assert f"Invalid value for 'PATH': Path '{missing}' does not exist." in en.stderr
    # the metavar stays the typed name in help, in both languages
    assert "kpigraph import dbt [OPTIONS] PATH" in cli("import", "dbt", "-h").stdout


def test_a_failed_delivery_reads_in_its_readers_language(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server speaking zh fails to deliver (a loopback name, refused at send time); an
    admin reading the outbox with ``--lang en`` reads why in English, and in Chinese by
    default — the note is kept as a message, not as the sender's sentence."""
    monkeypatch.delenv("KPIGRAPH_WEBHOOK_ALLOW", raising=False)
    ledger = ledger_for(EmbeddedStore(db))
    at = now_iso()
    ledger.enqueue(
        [
            OutboxItem(
                key="leftovers-1",
                url="http://localhost:9/hook",
                format="json",
                event="submit",
                body={"text": "x"},
                next_at=at,
                created_at=at,
            )
        ]
    )
    with i18n.use("zh"):
        Deliverer(ledger, max_attempts=1).deliver_due()
    (item,) = [i for i in ledger.outbox() if i.key == "leftovers-1"]
    assert item.status is OutboxStatus.FAILED
    assert item.last_error and "回环" in item.last_error  # as the zh sender worded it
    listed = {
        lang: {
            i["id"]: i["last_error"]
            for i in json.loads(cli(*lang_args, "notifications", "list", "--json", db=db).stdout)
        }
        for lang, lang_args in (("en", ("--lang", "en")), ("zh", ()))
    }
    en, zh = listed["en"][item.id], listed["zh"][item.id]
    assert en.startswith("WebhookRefused: webhook host 'localhost' is a loopback name"), en
    assert not any("\u4e00" <= c <= "\u9fff" for c in en)
    assert zh == item.last_error
    table = cli("--lang", "en", "notifications", "list", db=db).stdout
    assert "is a loopback name" in table
