"""Dimension hierarchies (区域: 战区 → 省份 → 城市): explain --by region ranks at the war-zone
level and drills down to the city where the change lives; the CLI shows the path.

The planted story, computed by hand. Ten cities, each 100 in 2026-05 (total 1000):

===========  ======  ==========  =====  =====  ======
war zone     prov.   city        05     06     Δ
===========  ======  ==========  =====  =====  ======
南区         广东    深圳        100    40     −60   ← the planted cause
南区         广东    广州        100    110    +10
南区         广西    南宁        100    100      0
南区         广西    桂林        100    100      0
北区         北京    北京市      100    95      −5
北区         河北    石家庄      100    95      −5
北区         河北    保定        100    100      0
东区         上海    上海市      100    100      0
东区         浙江    杭州        100    130    +30
东区         浙江    宁波        100    70     −30
===========  ======  ==========  =====  =====  ======

Total 1000 → 940, Δ = −60. War zones: 南区 −50 (50/60 = 83.3 % of the fall, alone past
80 %: explained by 1 of 3), 北区 −10, 东区 0. Under 南区: 广东 −50, 广西 0. Under 广东: 深圳 −60
(100 % of the fall; 120 % of 广东's), 广州 +10. The path: 南区 → 广东 → 深圳.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.explain import explain
from graph_schema.errors import CatalogError
from graph_schema.hierarchy import HierarchyError
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import write_catalog
from tests.unit.test_cli import run
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine

CITIES = [
    ("南区", "广东", "深圳", 100, 40),
    ("南区", "广东", "广州", 100, 110),
    ("南区", "广西", "南宁", 100, 100),
    ("南区", "广西", "桂林", 100, 100),
    ("北区", "北京", "北京市", 100, 95),
    ("北区", "河北", "石家庄", 100, 95),
    ("北区", "河北", "保定", 100, 100),
    ("东区", "上海", "上海市", 100, 100),
    ("东区", "浙江", "杭州", 100, 130),
    ("东区", "浙江", "宁波", 100, 70),
]
LEVEL_DIMS = (
    "- {id: war_zone, name: 战区}\n- {id: province, name: 省份}\n- {id: city, name: 城市}\n"
)
MAPPING = "war_zone,province,city\n" + "".join(f"{w},{p},{c}\n" for w, p, c, _, _ in CITIES)


def _catalog(root: Path, *, columns: bool, extra_rows: str = "") -> Path:
    if columns:  # a column per level in the values
        values = "metric,period,war_zone,province,city,value\n" + "".join(
            f"revenue,2026-05,{w},{p},{c},{a}\nrevenue,2026-06,{w},{p},{c},{b}\n"
            for w, p, c, a, b in CITIES
        )
        region = "- {id: region, name: 区域, levels: [war_zone, province, city]}\n"
    else:  # the city only, and the mapping file
        values = "metric,period,city,value\n" + "".join(
            f"revenue,2026-05,{c},{a}\nrevenue,2026-06,{c},{b}\n" for _, _, c, a, b in CITIES
        )
        region = (
            "- {id: region, name: 区域, levels: [war_zone, province, city], "
            "mapping: dims/region.csv}\n"
        )
    files = {
        "dimensions.yaml": "- {id: time, name: 时间}\n" + LEVEL_DIMS + region,
        "values/v.csv": values + extra_rows,
        "dims/region.csv": MAPPING,
    }
    return write_catalog(root, files)


def _engine(root: Path) -> ValuesEngine:
    return ValuesEngine(root, GraphDefinitions(load_catalog(root)))


@pytest.mark.parametrize("columns", [True, False], ids=["level-columns", "mapping-file"])
def test_the_planted_city_is_found_from_the_war_zone_level(tmp_path: Path, columns: bool) -> None:
    e = _engine(_catalog(tmp_path, columns=columns))
    result = explain(e, "revenue", "2026-06", "mom", by=["region"]).to_json()
    assert result["change"] == pytest.approx(-60.0)
    (view,) = result["dimensions"]
    assert (view["dimension"], view["level"]) == ("region", "war_zone")
    top = {m["member"]: m["contribution"] for m in view["members"]}
    assert top == {"南区": -50.0, "北区": -10.0, "东区": 0.0}
    assert (view["explained_by"], view["member_count"]) == (1, 3)
    path = view["hierarchy"]["path"]
    assert [(s["level"], s["member"]) for s in path] == [
        ("war_zone", "南区"),
        ("province", "广东"),
        ("city", "深圳"),
    ]
    assert [s["contribution"] for s in path] == [-50.0, -50.0, -60.0]
    assert path[0]["share"] == pytest.approx(50 / 60)
    assert path[1]["share_of_parent"] == pytest.approx(1.0)
    assert path[2]["share_of_parent"] == pytest.approx(1.2)
    assert path[2]["path"] == ["南区", "广东", "深圳"]
    assert {m["member"]: m["contribution"] for m in path[2]["members"]} == {
        "深圳": -60.0,
        "广州": 10.0,
    }


def test_a_member_missing_from_the_mapping_is_an_error(tmp_path: Path, english: None) -> None:
    root = _catalog(tmp_path, columns=False, extra_rows="revenue,2026-06,成都,5\n")
    e = _engine(root)
    with pytest.raises(HierarchyError, match=r"city '成都' is not in the mapping dims/region\.csv"):
        explain(e, "revenue", "2026-06", "mom", by=["region"])


def test_a_member_under_two_parents_is_an_error(tmp_path: Path, english: None) -> None:
    root = _catalog(tmp_path, columns=False)
    (root / "dims/region.csv").write_text(MAPPING + "东区,浙江,深圳\n", encoding="utf-8")
    with pytest.raises(HierarchyError, match=r"region.csv:12: .*'深圳' lies under"):
        explain(_engine(root), "revenue", "2026-06", "mom", by=["region"])
    root2 = _catalog(tmp_path / "cols", columns=True, extra_rows=(
        "revenue,2026-07,东区,浙江,深圳,1\n"
    ))  # fmt: skip
    with pytest.raises(HierarchyError, match="'深圳' lies under"):
        explain(_engine(root2), "revenue", "2026-07", "mom", by=["region"])


def test_levels_must_be_dimensions(tmp_path: Path, english: None) -> None:
    root = _catalog(tmp_path, columns=True)
    dims = (root / "dimensions.yaml").read_text(encoding="utf-8")
    (root / "dimensions.yaml").write_text(dims.replace("city]", "district]"), "utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    (issue,) = info.value.issues
    assert (issue.file, issue.line) == ("dimensions.yaml", 5)
    assert "levels district are not dimensions" in issue.message


def test_the_cli_shows_the_path(tmp_path: Path) -> None:
    root = _catalog(tmp_path / "cat", columns=False)
    db = tmp_path / "h.sqlite"
    EmbeddedStore(db).load(load_catalog(root))
    args = ("explain", "revenue", "--period", "2026-06", "--by", "region")
    args += ("--values-dir", str(root))
    text = run(*args, db=db).stdout
    assert "南区" in text and "→" in text
    line = next(ln for ln in text.splitlines() if "→" in ln and "深圳" in ln)
    assert line.index("南区") < line.index("广东") < line.index("深圳")
    report = json.loads(run(*args, "--json", db=db).stdout)
    assert report["dimensions"][0]["hierarchy"]["path"][-1]["member"] == "深圳"


def test_the_page_and_the_api_show_the_path(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.settings import Settings

    root = _catalog(tmp_path / "cat", columns=True)
    store = EmbeddedStore(tmp_path / "p.sqlite")
    store.load(load_catalog(root))
    app = create_app(Settings(backend="embedded", values_dir=root), store=store)
    query = "period=2026-06&base=mom&by=region"
    with TestClient(app) as client:
        data = client.get(f"/api/metrics/revenue/explain?{query}").json()
        page = client.get(f"/explain/revenue?{query}").text
        quarter = client.get("/api/metrics/revenue/explain?period=2026-Q2&base=mom")
        # the page without a base compares with the period before of the same grain
        page_q = client.get("/explain/revenue?period=2026-Q2&by=region")
    assert [s["member"] for s in data["dimensions"][0]["hierarchy"]["path"]] == [
        "南区",
        "广东",
        "深圳",
    ]
    path = page[page.index('class="hierarchy-path"') :]
    path = path[: path.index("</ol>")]
    assert path.index('data-member="南区"') < path.index('data-member="广东"')
    assert path.index('data-member="广东"') < path.index('data-member="深圳"')
    assert "城市" in path and "−60" in path  # level names and the city's contribution
    assert quarter.status_code == 422, quarter.text
    assert "use qoq or yoy" in quarter.text or "请用 qoq 或 yoy" in quarter.text, quarter.text
    # (2026-Q1 has no values here: the page says so, naming the quarter it compared with)
    assert "2026-Q1" in page_q.text and "use qoq" not in page_q.text
    store.close()


def test_a_ratio_drills_down_by_rate_and_mix(tmp_path: Path) -> None:
    """客单价 = 营收 / 进厂台次 with 10 visits per city in both months: every weight is 0.1 and
    unchanged, so mix is 0 and each member's contribution is its rate effect w·Δr — 南区:
    0.4 × (350/40 − 400/40) = −0.5; 广东: 0.2 × (150/20 − 200/20) = −0.5; 深圳: 0.1 × (4 − 10)
    = −0.6 of ΔR = 9.4 − 10 = −0.6."""
    root = _catalog(tmp_path, columns=True, extra_rows="".join(
        f"visits,2026-05,{w},{p},{c},10\nvisits,2026-06,{w},{p},{c},10\n"
        for w, p, c, _, _ in CITIES
    ))  # fmt: skip
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics/atp.yaml").write_text(
        "id: atp\nname: 客单价\nformula: revenue / visits\n", encoding="utf-8"
    )
    result = explain(_engine(root), "atp", "2026-06", "mom", by=["region"]).to_json()
    assert result["change"] == pytest.approx(-0.6)
    path = result["dimensions"][0]["hierarchy"]["path"]
    assert [s["member"] for s in path] == ["南区", "广东", "深圳"]
    assert [s["contribution"] for s in path] == pytest.approx([-0.5, -0.5, -0.6])
    assert path[2]["members"][0]["mix"] == pytest.approx(0.0)


def test_a_mapping_outside_the_catalog_is_refused(tmp_path: Path, english: None) -> None:
    from pydantic import ValidationError

    from graph_schema.models import Dimension

    with pytest.raises(ValidationError, match="inside the catalog folder"):
        Dimension(id="region", name="区域", levels=["war_zone", "city"], mapping="../x.csv")
    with pytest.raises(ValidationError, match="inside the catalog folder"):
        Dimension(id="region", name="区域", levels=["war_zone", "city"], mapping="/etc/passwd")
    outside = tmp_path / "secret.csv"
    outside.write_text(MAPPING, encoding="utf-8")
    root = _catalog(tmp_path / "cat", columns=False)
    (root / "dims/region.csv").unlink()
    (root / "dims/region.csv").symlink_to(outside)  # a link out of the catalog is not followed
    linked = r"mapping file dims/region\.csv is a link to a file outside the catalog"
    with pytest.raises(HierarchyError, match=linked):
        explain(_engine(root), "revenue", "2026-06", "mom", by=["region"])
