"""Server-side SVG charts: catalog text is escaped, numbers are placed and signed."""

from __future__ import annotations

from viz.charts import bar_svg, tree_svg, trend_svg, waterfall_svg


def test_text_in_charts_is_escaped() -> None:
    evil = '<script>alert(1)</script>"'
    tree = tree_svg(
        {
            "name": evil,
            "contribution": -5.0,
            "value": 1.0,
            "base_value": 6.0,
            "share": 1.0,
            "method": "sum",
            "children": [],
        }
    )
    fall = waterfall_svg(("2026-05", 10.0), [(evil, -5.0)], ("2026-06", 5.0))
    for svg in (str(tree), str(fall)):
        assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_waterfall_bars_and_signs() -> None:
    svg = str(
        waterfall_svg(
            ("2026-05", 2_769_860.0),
            [("进厂台次", -371_578.9), ("客单价", 109_316.9)],
            ("2026-06", 2_507_598.0),
        )
    )
    assert svg.count("<rect") == 4
    assert "-37.2万" in svg and "+10.9万" in svg and "250.8万" in svg
    assert "#e63946" in svg and "#2a9d8f" in svg  # down red, up green


def test_bar_and_trend() -> None:
    assert 'width="0.0"' in str(bar_svg(0.0, 0.0))
    line = str(trend_svg([("2026-05", 1.0), ("2026-06", 2.0)]))
    assert line.count("<path") == 1 and "2026-06" in line
    assert str(trend_svg([])) == ""
