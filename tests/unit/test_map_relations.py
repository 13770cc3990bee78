"""The map shows what its legend says (#24): DRIVES in the metric tree too, and colours that
stay apart for a reader with red-green colour blindness."""

from __future__ import annotations

import itertools
import math

import pytest

from analysis.resolve import resolve_ref
from analysis.results import Direction
from api.views import graph_view
from graph_schema.ids import NodeKind
from tests.helpers import demo_store
from viz.graph_view import map_options, network_data
from viz.style import KIND_STYLE, LEVEL_COLORS


def test_drives_is_drawn_in_the_tree_beside_the_formula() -> None:
    store = demo_store()
    options, rels = map_options("tree", None, None, None)
    view = graph_view(
        store, resolve_ref(store, "Metric:revenue"), Direction.BOTH, 2, rels, 300, tooltips=False
    )
    edges = network_data(view, options, tips=False)["edges"]
    drives = [e for e in edges if e["relation"] == "DRIVES"]
    # 营收 ≡ 进厂台次 × 客单价: both drivers drawn, bent aside from the formula edge they double
    assert {(e["from"], e["to"]) for e in drives} == {
        ("Metric:visits", "Metric:revenue"),
        ("Metric:atp", "Metric:revenue"),
    }
    assert all(not e.get("hidden") and e["smooth"]["type"] == "curvedCW" for e in drives)
    assert all(e["dashes"] for e in drives)  # dashed purple, not the grey dotted hierarchy


# Machado, Oliveira & Fernandes (2009) simulation matrices, severity 1.0, on linear RGB
SIMULATIONS = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
}  # fmt: skip


def _linear(hex_color: str) -> tuple[float, ...]:
    rgb = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    return tuple(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)


def _lab(linear: tuple[float, ...]) -> tuple[float, float, float]:
    r, g, b = (min(max(c, 0.0), 1.0) for c in linear)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _seen(hex_color: str, kind: str | None) -> tuple[float, float, float]:
    lin = _linear(hex_color)
    if kind is not None:
        m = SIMULATIONS[kind]
        lin = tuple(sum(m[i][j] * lin[j] for j in range(3)) for i in range(3))
    return _lab(lin)


@pytest.mark.parametrize("vision", [None, "protanopia", "deuteranopia"])
def test_level_and_kind_colours_stay_apart(vision: str | None) -> None:
    """Each metric level's colour differs from every other level's and from the other node
    kinds' colours by ΔE76 ≥ 10 (clearly distinct) as a red-green colour-blind reader sees."""
    colours = {f"level {k}": c for k, c in LEVEL_COLORS.items() if k is not None}
    others = {k.value: s["color"] for k, s in KIND_STYLE.items() if k is not NodeKind.METRIC}
    close = []
    for (a, ca), (b, cb) in itertools.combinations({**colours, **others}.items(), 2):
        if not (a.startswith("level") or b.startswith("level")):
            continue
        distance = math.dist(_seen(ca, vision), _seen(cb, vision))
        if distance < 10:
            close.append((a, b, round(distance, 1)))
    assert close == []
