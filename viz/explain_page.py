"""The /explain page: waterfall of the tree's first level, the metric tree, the ranked
dimension tables with rate/mix, the drill, causes and notes — all server-side SVG/HTML."""

from __future__ import annotations

from typing import Any

from viz.charts import bar_svg, fmt, signed, tree_svg, waterfall_svg
from viz.pages import render_page

BASE_NAMES = {"mom": "环比 上月", "yoy": "同比 去年同期", "target": "目标"}


def render_explain(report: dict[str, Any], *, catalog_name: str | None, by: str, depth: int) -> str:
    base_label = report["base_period"] or "目标"
    steps = [(n["name"], n["contribution"]) for n in report["tree"]]
    waterfall = (
        waterfall_svg(
            (base_label, report["base_value"]), steps, (report["period"], report["value"])
        )
        if steps
        else None
    )
    root = {
        "name": report["name"],
        "value": report["value"],
        "base_value": report["base_value"],
        "contribution": report["change"],
        "share": 1.0 if report["change"] else None,
        "method": report["method"],
        "children": report["tree"],
    }
    dims = []
    for d in report["dimensions"]:
        top = max((abs(m["contribution"]) for m in d["members"]), default=0.0)
        dims.append(
            {**d, "rows": [{**m, "bar": bar_svg(m["contribution"], top)} for m in d["members"]]}
        )
    drill = []
    for d in report["drill"]:
        top = max((abs(m["contribution"]) for m in d["members"]), default=0.0)
        drill.append(
            {**d, "rows": [{**m, "bar": bar_svg(m["contribution"], top)} for m in d["members"]]}
        )
    return render_page(
        "explain.html",
        catalog_name=catalog_name,
        r=report,
        base_name=BASE_NAMES.get(report["base"], report["base"]),
        waterfall=waterfall,
        tree=tree_svg(root),
        dims=dims,
        drill=drill,
        by=by,
        depth=depth,
        fmt=fmt,
        signed=signed,
    )
