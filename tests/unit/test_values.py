"""The values engine: file validation (file:line, nothing loaded), aggregation rules, derived
metrics at every grain, metric SQL over data/, and the demo's planted story."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.explain import explain
from analysis.quality import check_values
from graph_schema.errors import CatalogError
from loaders.catalog import load_catalog
from tests.helpers import DEMO, write_catalog
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine
from values.errors import NoValuesError, ValuesFileError, ValuesQueryError

DIMS = "- {id: time, name: 时间}\n- {id: store, name: 门店}\n- {id: region, name: 区域}\n"


def engine(root: Path, files: dict[str, str | None]) -> ValuesEngine:
    write_catalog(root, {"dimensions.yaml": DIMS, **files})
    return ValuesEngine(root, GraphDefinitions(load_catalog(root)))


def test_bad_values_files_name_file_and_line_and_load_nothing(tmp_path: Path) -> None:
    values = (
        "metric,period,store,value\n"
        "revenue,2026-05,S1,100\n"  # line 2: fine
        "revenu,2026-05,S2,100\n"  # line 3: unknown metric
        "revenue,2026-13,S1,100\n"  # line 4: bad period
        "revenue,2026-06,S1,1,000\n"  # line 5: extra column -> read error or non-number
        "visits,2026-05,S1,12x\n"  # line 6: not a number
        "revenue,2026-05,S1,90\n"  # line 7: duplicate of line 2
    )
    with pytest.raises(ValuesFileError) as info:
        engine(tmp_path, {"values/v.csv": values})
    text = "\n".join(str(i) for i in info.value.issues)
    assert isinstance(info.value, CatalogError)
    assert "values/v.csv" in text


@pytest.mark.usefixtures("english")  # the English messages (no catalog language)
def test_each_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    values = (
        "metric,period,store,value\n"
        "revenue,2026-05,S1,100\n"
        "revenu,2026-05,S2,100\n"
        "revenue,2026-13,S1,100\n"
        "visits,2026-05,S1,12x\n"
        "revenue,2026-05,S1,90\n"
    )
    with pytest.raises(ValuesFileError) as info:
        engine(tmp_path, {"values/v.csv": values})
    found = {(i.file, i.line, str(i.message).split(" ")[0]) for i in info.value.issues}
    assert ("values/v.csv", 3, "unknown") in found
    assert ("values/v.csv", 4, "bad") in found
    assert ("values/v.csv", 5, "value") in found
    assert ("values/v.csv", 6, "duplicate") in found


@pytest.mark.usefixtures("english")  # the English messages (no catalog language)
def test_unknown_dimension_column_and_missing_value_column(tmp_path: Path) -> None:
    with pytest.raises(ValuesFileError, match="unknown dimension column 'shop'"):
        engine(tmp_path, {"values/v.csv": "metric,period,shop,value\nrevenue,2026-05,S1,1\n"})
    with pytest.raises(ValuesFileError, match="missing column"):
        engine(tmp_path, {"values/v.csv": "metric,period,amount\nrevenue,2026-05,1\n"})


RATIO_VALUES = (
    "metric,period,store,region,value\n"
    # 南区: S1 revenue 1000 on 10 visits (100), S2 3000 on 10 visits (300) -> region atp
    # = (1000 + 3000) / (10 + 10) = 200 (a mean of the store ratios would also be 200 here)
    # 北区: S3 500 on 5 (100), S4 4000 on 20 (200) -> (500 + 4000) / 25 = 180, not (100+200)/2
    "revenue,2026-05,S1,南区,1000\nvisits,2026-05,S1,南区,10\n"
    "revenue,2026-05,S2,南区,3000\nvisits,2026-05,S2,南区,10\n"
    "revenue,2026-05,S3,北区,500\nvisits,2026-05,S3,北区,5\n"
    "revenue,2026-05,S4,北区,4000\nvisits,2026-05,S4,北区,20\n"
)


def test_derived_metric_is_a_ratio_of_sums_at_every_grain(tmp_path: Path) -> None:
    e = engine(tmp_path, {"values/v.csv": RATIO_VALUES})
    assert e.source("atp") == "derived"
    by_region = e.frame("atp", ["region"])
    assert by_region[("北区",)]["2026-05"] == pytest.approx(180.0)  # 4500 / 25
    assert by_region[("南区",)]["2026-05"] == pytest.approx(200.0)
    assert e.frame("atp")[()]["2026-05"] == pytest.approx(8500 / 45)  # 188.89
    assert e.frame("revenue", ["region"])[("北区",)]["2026-05"] == 4500.0


def test_aggregations_avg_last_and_none(tmp_path: Path) -> None:
    metrics = {
        "metrics/score.yaml": "id: score\nname: 满意度\naggregation: avg\n",
        "metrics/stock.yaml": "id: stock\nname: 库存\naggregation: last\n",
        "metrics/rate.yaml": "id: rate\nname: 留存率\naggregation: none\n",
    }
    values = (
        "metric,period,store,value\n"
        "score,2026-05,S1,90\nscore,2026-05,S2,80\n"  # avg 85
        "stock,2026-05-01,S1,10\nstock,2026-05-31,S1,7\n"  # last of May: 7 (+ S2 3 = 10)
        "stock,2026-05-01,S2,5\nstock,2026-05-31,S2,3\n"
        "rate,2026-05,S1,0.6\nrate,2026-05,,0.55\n"  # given per store and in total
    )
    e = engine(tmp_path, {**metrics, "values/v.csv": values})
    assert e.frame("score")[()]["2026-05"] == pytest.approx(85.0)
    assert e.frame("stock")[()]["2026-05"] == pytest.approx(10.0)
    assert e.frame("stock", ["store"])[("S1",)]["2026-05"] == pytest.approx(7.0)
    assert e.frame("rate")[()]["2026-05"] == pytest.approx(0.55)  # the total row, not a sum
    assert e.frame("rate", ["store"])[("S1",)]["2026-05"] == pytest.approx(0.6)


def test_none_refuses_to_sum(tmp_path: Path) -> None:
    metrics = {"metrics/rate.yaml": "id: rate\nname: 留存率\naggregation: none\n"}
    values = "metric,period,store,value\nrate,2026-05,S1,0.6\nrate,2026-05,S2,0.5\n"
    e = engine(tmp_path, {**metrics, "values/v.csv": values})
    assert e.frame("rate", ["store"])[("S2",)]["2026-05"] == 0.5
    with pytest.raises(ValuesQueryError, match="aggregation: none"):
        e.frame("rate")


def test_no_values_is_a_clear_error(tmp_path: Path) -> None:
    e = engine(tmp_path, {"values/v.csv": RATIO_VALUES})
    with pytest.raises(NoValuesError, match=r"by channel|按 channel"):
        e.frame("revenue", ["channel"])


def test_metric_sql_runs_on_data_files(tmp_path: Path) -> None:
    data = "day,shop,amount\n2026-05-03,S1,100\n2026-05-20,S1,50\n2026-06-01,S2,70\n"
    revenue = (
        "id: revenue\nname: 营收\nsql: |\n"
        "  SELECT strftime(day, '%Y-%m') AS period, shop AS store, SUM(amount) AS value\n"
        "  FROM orders GROUP BY ALL\n"
    )
    e = engine(tmp_path, {"data/orders.csv": data, "metrics/revenue.yaml": revenue})
    assert e.source("revenue") == "sql"
    assert e.frame("revenue", ["store"]) == {
        ("S1",): {"2026-05": 150.0},
        ("S2",): {"2026-06": 70.0},
    }


# -- the demo's planted story ----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> ValuesEngine:
    return ValuesEngine(DEMO, GraphDefinitions(load_catalog(DEMO)))


def test_demo_story_is_at_the_top_of_tree_and_dimension_table(demo: ValuesEngine) -> None:
    x = explain(demo, "revenue", "2026-06", "mom", by=["store", "order_type"]).to_json()
    assert x["change"] < 0 and x["change_pct"] == pytest.approx(-0.0947, abs=5e-4)
    top = min(x["tree"], key=lambda n: n["contribution"])
    assert top["ref"] == "Metric:visits"
    assert (
        min(top["children"], key=lambda n: n["contribution"])["ref"] == "Metric:maintenance_visits"
    )
    first = x["dimensions"][0]
    assert first["dimension"] == "store" and first["explained_by"] == 1
    assert first["members"][0]["member"] == "南山店"
    assert first["members"][0]["share"] > 0.8
    assert x["drill"][0]["members"][0]["member"] == "南山店 · maintenance"
    # the members add up to the change exactly
    assert sum(m["contribution"] for m in first["members"]) == pytest.approx(x["change"])


def test_demo_atp_rose_by_mix(demo: ValuesEngine) -> None:
    x = explain(demo, "atp", "2026-06", "mom", by=["order_type"]).to_json()
    assert x["change"] > 0
    members = x["dimensions"][0]["members"]
    assert sum(m["mix"] for m in members) > abs(sum(m["rate"] for m in members))
    assert sum(m["rate"] + m["mix"] for m in members) == pytest.approx(x["change"])


def test_demo_quality_finds_the_planted_slip(demo: ValuesEngine) -> None:
    findings = check_values(demo, ["revenue"])
    identity = [f for f in findings if f["check"] == "identity"]
    assert {(f["period"], f["member"]) for f in identity} >= {("2025-03", "store=东莞店")}
    assert any(f["check"] == "anomaly" and f["member"] == "store=南山店" for f in findings)


def test_parquet_rows_are_reported_by_row_number(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "values").mkdir()
    table = pa.table(
        {"metric": ["revenue", "revenue"], "period": ["2026-05", "2026-5"], "value": [1.0, 2.0]}
    )
    pq.write_table(table, tmp_path / "values" / "v.parquet")
    with pytest.raises(ValuesFileError) as info:
        engine(tmp_path, {})
    assert [str(i.file) for i in info.value.issues] == ["values/v.parquet (row 2)"]
