"""kpigraph values / eval / explain / check-values as a user runs them: a real process."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import DEMO
from tests.unit.test_cli import run


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("values-cli") / "cli.sqlite"
    EmbeddedStore(path).load(load_catalog(DEMO))
    return path


def test_explain_prints_tree_tables_and_notes(db: Path) -> None:
    proc = run("explain", "营收", "--period", "2026-06", "--by", "store,order_type", db=db)
    text = proc.stdout
    assert "营收 2026-06 vs 2026-05" in text and "变化 −26.2万（−9.5%）" in text  # the catalog's zh
    assert "进厂台次：−37.2万（解释了下降的 141.7 %）" in text and "保养台次" in text
    assert "客单价：+10.9万（抵消了 41.7 %）" in text
    assert text.index("南山店") < text.index("宝安店")
    assert "相关证据，不是因果证明" in text


def test_values_and_eval_tables(db: Path) -> None:
    text = run("values", "revenue", "--by", "store", "--from", "2026-06", db=db).stdout
    assert "52.1万" in text and "2026-05" not in text  # zh: 万 (#24)
    text = run("eval", "atp", "--period", "2026-06", "--by", "store", db=db).stdout
    assert "合资品牌 行业平均" in text


def test_check_values_exits_non_zero_on_findings(db: Path) -> None:
    proc = run("check-values", "--metric", "revenue", "--fail-on", "warning", db=db, check=False)
    assert proc.returncode == 1 and "恒等式不符" in proc.stdout  # identity, in the catalog's zh
    assert run("check-values", "--metric", "net_profit", db=db).returncode == 0


def test_check_values_on_the_demo_reads_first_what_to_fix(db: Path) -> None:
    """#24: the planted data slip (东莞店 2025-03 disagrees with revenue / visits) comes first,
    anomalies after; the default --fail-on error exits 0; a missing table is one sentence."""
    proc = run("--lang", "en", "check-values", db=db, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("│")]
    assert "identity" in rows[0] and "2025-03" in rows[0]
    assert "observed differs from 营收 / 进厂台次" in proc.stdout  # the formula in names
    first_anomaly = next(i for i, r in enumerate(rows) if "anomaly" in r)
    assert all("anomaly" not in r for r in rows[:first_anomaly])
    assert all("identity" not in r for r in rows[first_anomaly:])
    assert "Catalog Error" not in proc.stderr
    # one clear sentence naming the metric and the table (the SQL sandbox refuses it first)
    assert "campaign_conversion_rate" in proc.stderr and "'campaigns'" in proc.stderr


def test_bad_input_is_one_clear_line(db: Path) -> None:
    proc = run("explain", "revenue", "--period", "2026-13", db=db, check=False)
    assert proc.returncode == 2  # a period written wrong is a usage error (#24)
    assert proc.stderr.strip().count("\n") == 0 and "YYYY-MM" in proc.stderr
    proc = run("values", "revenue", "--by", "channel", db=db, check=False)
    # not a dimension of the catalog: a usage error with close matches (#24), one line
    assert proc.returncode == 2 and "'channel'" in proc.stderr, proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    # a period of a calendar the catalog lacks: the demo declares no fiscal year (#26)
    for args in (
        ("explain", "营收", "--period", "FY2026-Q1"),
        ("eval", "营收", "--period", "FY2026-Q1"),
        ("values", "营收", "--from", "FY2026-Q1", "--to", "FY2026-Q2"),
    ):
        proc = run(*args, db=db, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "fiscal_year_start" in proc.stderr and "FY2026-Q1" in proc.stderr, proc.stderr


def test_check_values_on_a_catalog_dir_names_file_and_line(db: Path, tmp_path: Path) -> None:
    import shutil

    catalog = tmp_path / "cat"
    shutil.copytree(DEMO, catalog)
    (catalog / "values" / "bad.csv").write_text(
        "metric,period,store,value\nrevenue,2026-13,南山店,1\nrevenu,2026-05,南山店,1\n",
        encoding="utf-8",
    )
    proc = run("check-values", "--catalog", str(catalog), db=db, check=False)
    assert proc.returncode == 1
    # in the catalog's language (zh)
    assert "values/bad.csv:2: 期间 '2026-13' 写法不对" in proc.stderr
    assert "values/bad.csv:3: 未知的指标 'revenu'" in proc.stderr


def test_no_silent_errors(db: Path) -> None:
    """#24: a typo in --by, a month without data: an error that names what exists."""
    proc = run("explain", "营收", "--period", "2026-06", "--by", "shop", db=db, check=False)
    assert proc.returncode == 2 and "是否想找 store" in proc.stderr  # the demo speaks zh
    proc = run(
        "--lang", "en", "explain", "营收", "--period", "2026-06", "--by", "shop", db=db, check=False
    )
    assert proc.returncode == 2 and "did you mean store" in proc.stderr
    proc = run("explain", "营收", "--period", "2026-07", "--by", "store", db=db, check=False)
    assert proc.returncode == 1 and "2024-07 … 2026-06" in proc.stderr
    proc = run("explain", "营收", "--period", "2026-06", "--by", "门店", db=db)  # by its name
    assert "南山店" in proc.stdout
    proc = run("show", "营搜", db=db, check=False)  # a slip of the input method
    assert proc.returncode == 2 and "Metric:revenue" in proc.stderr.split("?")[0]


def test_quarters_in_values_explain_and_eval(db: Path) -> None:
    import json

    proc = run("values", "营收", "--grain", "quarter", "--from", "2026-Q1", "--json", db=db)
    rows = {r["period"]: r["value"] for r in json.loads(proc.stdout)["rows"]}
    months = json.loads(run("values", "营收", "--from", "2026-04", "--to", "2026-06", "--json",
                            db=db).stdout)["rows"]  # fmt: skip
    assert set(rows) == {"2026-Q1", "2026-Q2"}
    assert rows["2026-Q2"] == pytest.approx(sum(r["value"] for r in months))
    text = run("explain", "营收", "--period", "2026-Q2", "--base", "qoq", db=db).stdout
    assert "营收 2026-Q2 vs 2026-Q1" in text
    bad = run("explain", "营收", "--period", "2026-Q2", "--base", "2026-05", db=db, check=False)
    assert bad.returncode != 0 and "同一粒度、同一日历" in bad.stdout + bad.stderr
    ev = json.loads(run("eval", "营收", "--period", "2026-Q2", "--json", db=db).stdout)
    assert ev["previous_period"] == "2026-Q1" and ev["year_before_period"] == "2025-Q2"


def test_values_refresh_without_a_connected_system_says_so(db: Path) -> None:
    """The demo's systems have no ``connection:``: a refresh has nothing to fetch and must say
    why (it printed nothing at all, exit 0), in the catalog's language."""
    proc = run("values", "refresh", db=db)
    assert proc.stdout.strip() == ""
    assert "没有需要刷新的指标" in proc.stderr and "connection" in proc.stderr, proc.stderr
    en = run("--lang", "en", "values", "refresh", db=db)
    assert "nothing to refresh" in en.stderr and "sources.yaml" in en.stderr, en.stderr


def test_localize_names_dimensions_and_members_as_the_other_tables_do(db: Path) -> None:
    """The root-cause table wrote ``store=南山店 ∧ order_type=maintenance`` (ids) beside tables
    saying 门店 / 保养: it speaks the catalog's names too."""
    args = ("explain", "营收", "--period", "2026-06", "--by", "store,order_type", "--localize")
    text = run(*args, db=db).stdout
    assert "门店=南山店 ∧ 工单类型=保养" in text and "order_type=" not in text, text


def test_eval_of_a_quarter_or_year_names_what_it_is_compared_with(db: Path) -> None:
    """The change columns of a quarter are not '环比/同比' (month on month): they name the
    periods compared; a year's period before is the year before, so one column (found
    following the README: 'eval 营收 --period 2026' showed 环比 and 同比, both −49.58 %)."""
    quarter = run("eval", "营收", "--period", "2026-Q2", db=db).stdout
    assert "较 2026-Q1" in quarter and "较 2025-Q2" in quarter and "环比" not in quarter
    year = run("eval", "营收", "--period", "2026", db=db).stdout
    assert year.count("较 2025") == 1 and "同比" not in year
    month = run("eval", "营收", "--period", "2026-06", db=db).stdout
    assert "环比" in month and "同比" in month
