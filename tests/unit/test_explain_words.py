"""How explain reads (#24), with the demo's numbers written out: 营收 fell 262,262 from
2026-05 to 2026-06; 进厂台次 took it down 371,579 and 客单价 gave back 109,317; 南山店 alone
explains 84 % of the fall."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.i18n import use
from viz.explain_page import render_explain
from viz.explain_words import (
    Scale,
    cause_change,
    column_scale,
    concentration_words,
    inverse_effect,
    is_count,
    method_words,
    number_in,
    share_words,
)

CHANGE = 2507598.0 - 2769860.0  # 营收 2026-06 vs 2026-05
VISITS, ATP = -371578.88, 109316.88  # first-level contributions (LMDI)
STORES = {  # contributions by store
    "南山店": -219169.0,
    "宝安店": -17717.0,
    "惠州店": -16813.0,
    "龙岗店": -4100.0,
    "福田店": -2489.0,
    "东莞店": -1974.0,
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_negative_contribution_never_wears_a_plus(lang: str) -> None:
    with use(lang):
        for value in (VISITS, *STORES.values()):
            text = number_in(value, column_scale(STORES.values()), signed=True)
            assert text.startswith("−") and "+" not in text
        assert number_in(ATP, Scale(), signed=True) == "+109,317"


def test_shares_in_words_sum_to_the_whole() -> None:
    assert abs(VISITS + ATP - CHANGE) < 1
    with use("en"):
        assert share_words(VISITS, CHANGE) == "explains 141.7 % of the fall"
        assert share_words(ATP, CHANGE) == "offsets 41.7 %"
        assert share_words(50.0, 100.0) == "explains 50.0 % of the rise"
    with use("zh"):
        assert share_words(VISITS, CHANGE) == "解释了下降的 141.7 %"
        assert share_words(ATP, CHANGE) == "抵消了 41.7 %"
    explained = [float(re.search(r"[\d.]+", share_words(c, CHANGE)).group()) for c in (VISITS,)]
    offset = [float(re.search(r"[\d.]+", share_words(c, CHANGE)).group()) for c in (ATP,)]
    assert sum(explained) - sum(offset) == pytest.approx(100.0, abs=0.1)


def test_one_scale_per_column() -> None:
    with use("zh"):  # 万 for every row once one row needs it
        scale = column_scale(STORES.values())
        texts = [number_in(v, scale, signed=True) for v in STORES.values()]
        assert texts == ["−21.9万", "−1.8万", "−1.7万", "−0.4万", "−0.2万", "−0.2万"]
    with use("en"):  # thousands separators, no decimals for money in the thousands
        scale = column_scale(STORES.values())
        texts = [number_in(v, scale, signed=True) for v in STORES.values()]
        assert texts == ["−219,169", "−17,717", "−16,813", "−4,100", "−2,489", "−1,974"]


def test_counts_are_integers() -> None:
    assert is_count("台次", [1879.0, 1632.0])
    scale = column_scale([1879.0, 1632.0], count=True)
    assert number_in(1879.0, scale) == "1,879"  # not 1,879.00
    assert not is_count("CNY", [1474.42])


def test_concentration_in_words() -> None:
    with use("en"):
        assert concentration_words(1, 6, 0.836, "store") == (
            "1 of 6 store members explains 84 % of the change"
        )
        assert concentration_words(1, 3, 1.26, "store") == (
            "1 of 3 store members moves it by 126 % of the change; the others offset 26 %"
        )
    with use("zh"):
        assert concentration_words(1, 6, 0.836, "门店") == "6 个门店中的 1 个解释了变化的 84 %"


def test_divisors_methods_and_causes() -> None:
    # 客单价 = 营收 / 进厂台次, YoY: visits fell 1,776 → 1,632 yet added +126.31 to 客单价
    assert inverse_effect(1632 - 1776, 126.31)
    assert not inverse_effect(ATP, ATP)
    with use("en"):
        assert method_words("lmdi") == "log-mean split of a product or ratio (LMDI)"
        assert method_words("sum") == "sum of the parts"
        # a rate's change in percentage points, not as a fraction beside points
        assert cause_change(-0.004244, "%", 0.91) == "−0.42 pp"
        assert cause_change(-0.6, "%", 85.0) == "−0.60 pp"
        assert cause_change(33.57, "CNY", 500.0) == "+33.57"


def _report() -> dict[str, Any]:
    members = [
        {"member": m, "value": 0.0, "base_value": 0.0, "contribution": c, "share": c / CHANGE}
        for m, c in STORES.items()
    ]
    return {
        "metric": "revenue",
        "name": "营收",
        "unit": "CNY",
        "period": "2026-06",
        "base_period": "2026-05",
        "base": "mom",
        "value": 2507598.0,
        "base_value": 2769860.0,
        "change": CHANGE,
        "change_pct": CHANGE / 2769860.0,
        "method": "lmdi",
        "tree": [
            {
                "ref": "Metric:visits",
                "name": "进厂台次",
                "value": 1632.0,
                "base_value": 1879.0,
                "change": -247.0,
                "contribution": VISITS,
                "share": VISITS / CHANGE,
                "method": None,
                "children": [],
            },
            {
                "ref": "Metric:atp",
                "name": "客单价",
                "value": 1536.52,
                "base_value": 1474.14,
                "change": 62.38,
                "contribution": ATP,
                "share": ATP / CHANGE,
                "method": None,
                "children": [],
            },
        ],
        "dimensions": [
            {
                "dimension": "store",
                "method": "sum",
                "explained_by": 1,
                "member_count": 6,
                "top_share": 0.836,
                "members": members,
            }
        ],
        "drill": [],
        "causes": [],
        "notes": [],
    }


def _page(lang: str, store: str) -> str:
    """The explain page of :func:`_report` in ``lang`` (``store``: the dimension's name)."""
    with use(lang):
        return render_explain(
            _report(),
            catalog_name="demo",
            by="store",
            depth=2,
            units={"Metric:visits": "台次"},
            dimension_names={"store": store},
        )


def test_the_page_reads_like_an_analyst() -> None:
    html = _page("en", "store")
    assert "−371,579 (explains 141.7 % of the fall)" in html
    assert "+109,317 (offsets 41.7 %)" in html
    assert "1 of 6 store members explains 84 % of the change" in html
    assert "1,879 → 1,632" in html  # a count without decimals
    assert "log-mean split of a product or ratio (LMDI)" in html
    assert "+−" not in html and "+-" not in html
    assert not re.search(r"\+\d[\d,.]*%", html)  # no signed share beside a contribution


def test_the_zh_page_brackets_the_chinese_way() -> None:
    """Shares beside a tree node's contribution in full-width brackets in zh (they were ASCII:
    '−37.2万 (解释了下降的 141.7 %)', found looking at the page's screenshot)."""
    html = _page("zh", "门店")
    assert "（解释了下降的 141.7 %）" in html and "(解释了下降的" not in html
