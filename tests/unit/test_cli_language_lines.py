"""Issue 24 (walk5 items 5 and 6): lines that stayed English on a Chinese catalog — period
errors (no internal grain ids, the metric that was asked named), a warehouse's unset connection
variable — and ``explain`` on a connected metric whose variable is unset says why."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from cli.common import run_guarded
from tests.helpers import DEMO


class Ran:
    def __init__(self, exit_code: int, output: str) -> None:
        self.exit_code, self.output = exit_code, output


def run(*args: str) -> Ran:
    """The command as ``kpigraph`` runs it (errors reported by :func:`run_guarded`)."""
    runner = CliRunner()
    with runner.isolation() as streams:
        try:
            code = run_guarded(cli, list(args))
        except SystemExit as exc:  # diff's gate exits itself
            code = int(exc.code or 0)
    return Ran(code, b"".join(s.getvalue() for s in streams if hasattr(s, "getvalue")).decode())


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = str(tmp_path_factory.mktemp("demo") / "kg.sqlite")
    assert run("load", str(DEMO), "--db", db).exit_code == 0
    return db


@pytest.fixture(scope="module")
def connected_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo whose 'dms' system has a connection (KPIGRAPH_CONN_I18N6, unset) and no data/."""
    root = tmp_path_factory.mktemp("conn") / "cat"
    shutil.copytree(DEMO, root)
    shutil.rmtree(root / "data")
    sources = root / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    text = text.replace("- id: dms\n", "- id: dms\n  connection: {env: KPIGRAPH_CONN_I18N6}\n", 1)
    sources.write_text(text, encoding="utf-8")
    db = str(root.parent / "kg.sqlite")
    assert run("load", str(root), "--db", db).exit_code == 0
    return db


def test_a_base_of_another_grain_is_said_in_words(demo_db: str) -> None:
    zh = run("explain", "营收", "--period", "2026-Q2", "--base", "mom", "--db", demo_db)
    assert zh.exit_code != 0
    assert "retail_month" not in zh.output and "quarter" not in zh.output, zh.output
    assert "零售月" in zh.output and "季度" in zh.output
    en = run(
        "--lang", "en", "explain", "营收", "--period", "2026-Q2", "--db", demo_db, "--base", "mom"
    )
    assert "retail_month" not in en.output and "a retail month" in en.output, en.output


def test_a_week_of_monthly_values_names_the_metric_asked_for(demo_db: str) -> None:
    r = run("values", "营收", "--grain", "week", "--db", demo_db)
    assert r.exit_code != 0
    first = r.output.split("\n")[0]
    assert "营收" in first and "labor_revenue" not in r.output, r.output
    assert "does not start" not in r.output and "（周）" in r.output


def test_explain_on_a_connected_metric_says_the_variable_is_unset(
    connected_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KPIGRAPH_CONN_I18N6", raising=False)
    for metric, period in (("营收", "2026-06"), ("客单价", "2026-06"), ("营收", "2026-Q2")):
        r = run("explain", metric, "--period", period, "--db", connected_db)
        assert r.exit_code != 0
        assert "KPIGRAPH_CONN_I18N6" in r.output and "未设置" in r.output, r.output
        assert "the connection variable" not in r.output
    # a process of its own: the values engine (and the notes it keeps) is shared in-process
    args = ["--lang", "en", "explain", "营收", "--period", "2026-06", "--db", connected_db]
    env = {k: v for k, v in os.environ.items() if k != "KPIGRAPH_CONN_I18N6"}
    en = subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, check=False
    )
    assert en.returncode != 0
    assert "the connection variable KPIGRAPH_CONN_I18N6 is not set" in en.stderr, en.stderr


@pytest.fixture(scope="module")
def bumped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with 客单价's formula changed and its version not bumped (a refused load)."""
    root = tmp_path_factory.mktemp("bump") / "cat"
    shutil.copytree(DEMO, root)
    atp = root / "metrics" / "revenue" / "atp.yaml"
    text = atp.read_text(encoding="utf-8")
    assert "formula: revenue / visits\n" in text
    atp.write_text(text.replace("formula: revenue / visits\n", "formula: revenue / visits / 2\n"))
    return root


def test_diff_speaks_the_catalogs_language(demo_db: str, bumped: Path) -> None:
    table = run("diff", "store", str(bumped), "--db", demo_db)
    assert "governance committee" not in table.output and "NEW" not in table.output
    assert f"载入 {bumped} 会被拒绝" in table.output, table.output
    md = run("diff", "store", str(bumped), "--markdown", "--db", demo_db).output
    for english in ("Metrics changed by class", "Recomputed", "Approvals required", "modified"):
        assert english not in md, md
    assert "需要的审批" in md and "governance committee" not in md
    en = run("--lang", "en", "diff", "store", str(bumped), "--markdown", "--db", demo_db).output
    assert "Approvals required" in en and "需要的审批" not in en


def test_a_load_of_stale_files_is_refused_in_the_catalogs_language(tmp_path: Path) -> None:
    """The store got a change from a change request; the files lack it: load refuses (zh)."""
    from governance.changes import Governance
    from governance.proposal import Action
    from graph_schema.governance import PermissionDeniedError
    from graph_schema.ids import NodeRef
    from store.embedded import EmbeddedStore
    from store.ledger import ledger_for
    from tests.governance_helpers import make_people

    cat = tmp_path / "cat"
    shutil.copytree(DEMO, cat)
    db = str(tmp_path / "kg.sqlite")
    assert run("load", str(cat), "--db", db).exit_code == 0
    store = EmbeddedStore(Path(db))
    users, _tokens = make_people(ledger_for(store))
    gov = Governance(store, ledger_for(store))
    atp = store.get_nodes([NodeRef.parse("Metric:atp")])[NodeRef.parse("Metric:atp")].props()
    definition = {k: v for k, v in atp.items() if k not in ("kind", "ref", "version", "history")}
    definition["unit"] = "元"
    change = gov.submit(
        users["zhang"],
        Action.UPDATE,
        NodeRef.parse("Metric:atp"),
        definition,
        atp.get("version"),
        "单位",
    )
    for name in ("li", "qian", "wang"):
        with contextlib.suppress(PermissionDeniedError):  # not this person's stage
            gov.approve(users[name], change.id, None)
    gov.apply(users["root"], change.id)
    store.close()
    refused = run("load", str(cat), "--db", db)
    assert refused.exit_code == 1
    assert "目录文件缺少" in refused.output and "变更申请 #1" in refused.output, refused.output
    assert "lack changes" not in refused.output and "kpigraph pull" in refused.output


def test_the_localize_note_names_the_dimensions(demo_db: str) -> None:
    args = ["explain", "营收", "--period", "2026-06", "--by", "store,order_type", "--localize"]
    r = run(*args, "--db", demo_db)
    assert r.exit_code == 0, r.output
    assert "跨 门店、工单类型" in r.output and "store、order_type" not in r.output, r.output


def test_eval_and_values_follow_the_number_rules(demo_db: str) -> None:
    """万/亿 in zh, thousands separators, integers for counts, the typographic minus; the values
    title on one line (not wrapped into the table's narrow width)."""
    zh = run("eval", "营收", "--period", "2026-06", "--by", "store", "--db", demo_db).output
    assert "250.8万" in zh and "277.0万" in zh and "−9.47%" in zh, zh
    assert "2,507,598.00" not in zh and "-9.47%" not in zh
    en = run("--lang", "en", "eval", "营收", "--period", "2026-06", "--db", demo_db).output
    assert "2,507,598" in en and "2,507,598.00" not in en and "−9.47%" in en, en
    assert "Target" in en and " target " not in en
    visits = run("eval", "进厂台次", "--period", "2026-06", "--db", demo_db).output
    assert "1,632" in visits and "1,632.00" not in visits, visits
    values = run("values", "营收", "--from", "2026-05", "--db", demo_db).output
    assert values.splitlines()[0].strip() == "营收 (CNY) · 由公式推导", values
    assert "250.8万" in values and "2,507,598.00" not in values


def test_search_says_which_page_it_shows_and_how_to_see_more(demo_db: str) -> None:
    r = run("search", "收入", "--limit", "3", "--db", demo_db).output
    assert "显示第 1–3 个" in r and "--offset 3" in r and "--limit" in r, r
    last = run("search", "收入", "--limit", "3", "--offset", "6", "--db", demo_db).output
    assert "--offset" not in last  # the last page: nothing more to see
    whole = run("search", "收入", "--db", demo_db).output
    assert "显示第" not in whole and "--offset" not in whole


def test_zh_lines_use_chinese_punctuation(demo_db: str) -> None:
    info = run("info", "--db", demo_db).output
    assert "个指标、" in info and "个指标, " not in info, info
    path = run("path", "营收", "净利润", "--db", demo_db).output
    assert "跳：" in path and "跳:" not in path, path


def test_validate_reports_all_of_a_metrics_problems_in_one_pass(tmp_path: Path) -> None:
    """walk5 item 13: an unknown key no longer hides the metric's other errors."""
    root = tmp_path / "cat"
    shutil.copytree(DEMO, root)
    atp = root / "metrics" / "revenue" / "atp.yaml"
    text = atp.read_text(encoding="utf-8")
    text = text.replace("formula: revenue / visits\n", "formula: revenue / visitz\nbogus_key: 1\n")
    atp.write_text(text, encoding="utf-8")
    r = run("validate", str(root))
    assert r.exit_code != 0
    assert "bogus_key" in r.output and "'visitz'" in r.output, r.output
    assert "2 个问题" in r.output


def test_impact_without_departments_draws_no_empty_table(demo_db: str) -> None:
    r = run("impact", "Dashboard:decision_screen", "--db", demo_db)
    assert r.exit_code == 0, r.output
    assert "0 个部门" in r.output and "需通知的部门" not in r.output, r.output


def test_a_full_load_after_an_identical_copy_says_why_without_contradiction(
    tmp_path: Path,
) -> None:
    """walk5 item 17: copy B of catalog A loads as "unchanged"; after an edit in B the full
    load said "no record of the files of the last load" — it now says B's cache has none
    because the last load read another copy."""
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(DEMO, a)
    shutil.copytree(DEMO, b)
    db = str(tmp_path / "kg.sqlite")
    assert run("load", str(a), "--db", db).exit_code == 0
    assert "目录文件未变" in run("load", str(b), "--db", db).output
    atp = b / "metrics" / "revenue" / "atp.yaml"
    atp.write_text(atp.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    again = run("load", str(b), "--db", db).output
    assert "另一份副本" in again and "没有上次加载的文件记录" not in again, again


def test_a_chinese_name_not_in_the_catalog_suggests_only_close_names(tmp_path: Path) -> None:
    """walk5 item 17: on the scaffold, 客户满意度 suggested Metric:atp (客单价 shares 客)."""
    root = tmp_path / "scaffold"
    assert run("init", str(root)).exit_code == 0
    db = str(tmp_path / "kg.sqlite")
    assert run("load", str(root), "--db", db).exit_code == 0
    r = run("path", "客户满意度", "营收", "--db", db)
    assert r.exit_code == 2 and "Metric:atp" not in r.output, r.output


def test_a_close_chinese_name_is_still_suggested(demo_db: str) -> None:
    r = run("show", "营搜", "--db", demo_db)
    assert r.exit_code == 2 and "Metric:revenue" in r.output, r.output


def test_english_explain_keeps_its_method_labels(demo_db: str) -> None:
    """walk5 item 17: rich took "[log-mean split …]" for a style tag and dropped it."""
    args = ["--lang", "en", "explain", "客单价", "--period", "2026-06", "--db", demo_db]
    r = run(*args)
    assert "[log-mean split of a product or ratio (LMDI)]" in r.output, r.output
    assert "[sum of the parts]" in r.output


def test_explains_dimension_lines_read_as_sentences(demo_db: str) -> None:
    en = run(
        "--lang", "en", "explain", "营收", "--period", "2026-06", "--by", "store", "--db", demo_db
    ).output
    assert "1 of 6 store members explains" in en and "Store members" not in en, en
    zh = run("explain", "营收", "--period", "2026-06", "--by", "store", "--db", demo_db).output
    assert "按门店：6 个门店中的 1 个" in zh, zh
