"""localize: planted root causes (single, combination, two at once, ratio metric) on generated
cubes and on the demo's DMS data; bad input; the demo's story through the CLI."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analysis.explain import explain
from analysis.localize import Cube, search
from analysis.localize_budget import check_budget
from analysis.localize_report import describe
from core import i18n
from graph_schema.errors import InvalidQueryError
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import DEMO
from tests.unit.test_cli import run
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine

Key = tuple[str, ...]


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The messages asserted here are the English ones (the zh catalogue is checked in
    tests/unit/test_i18n.py)."""
    with i18n.use("en"):
        yield


SIZES = {"a": 5, "b": 6, "c": 4, "d": 3}


def cube(
    plant: Callable[[dict[str, str]], float],
    *,
    seed: int = 1,
    noise: float = 0.02,
    sizes: dict[str, int] = SIZES,
) -> dict[Key, tuple[list[float], list[float]]]:
    """Every combination of members; base lognormal; actual = base·(1 ± noise)·plant(leaf)."""
    rng = np.random.default_rng(seed)
    dims = list(sizes)
    rows: dict[Key, tuple[list[float], list[float]]] = {}
    for key in itertools.product(*([f"{d}{i}" for i in range(1, n + 1)] for d, n in sizes.items())):
        base = float(rng.lognormal(4, 1))
        actual = base * (1 + rng.uniform(-noise, noise)) * plant(dict(zip(dims, key, strict=True)))
        rows[key] = ([base], [actual])
    return rows


Rows = dict[Key, tuple[list[float], list[float]]]


def found(rows: Rows, dims: Sequence[str] = tuple(SIZES)) -> list[dict[str, str]]:
    return [c.members for c in search(Cube.from_rows(dims, rows))]


def test_single_member() -> None:
    rows = cube(lambda m: 0.6 if m["a"] == "a2" else 1.0)
    assert found(rows) == [{"a": "a2"}]


def test_steep_rise_over_small_noisy_expected_values_is_the_member() -> None:
    # As in RiskLoc's S case 646793 (severity 0.99): the expected values under a=a2 are
    # ≈ 1 % of the actual, ± 10 % of it (some clipped to 0) — a rise of ~30x whose leaf ratios
    # scatter from 5x to infinity. The plain residual |a − x·f| fitted pieces of a=a2 better
    # than the whole (a=a2 ∧ d=…, five causes); in units of a + f it is the member.
    rng = np.random.default_rng(7)
    rows: Rows = {}
    sizes = {"a": 6, "b": 8, "c": 5, "d": 4}
    for key in itertools.product(*([f"{d}{i}" for i in range(1, n + 1)] for d, n in sizes.items())):
        actual = float(rng.lognormal(4, 1))
        base = actual * (1 + rng.normal(0, 0.05))
        if key[0] == "a2":
            base = max(actual * rng.normal(0.01, 0.1), 0.0)
        rows[key] = ([base], [actual])
    assert found(rows, tuple(sizes)) == [{"a": "a2"}]


def test_combination_across_dimensions() -> None:
    rows = cube(lambda m: 1.6 if (m["a"], m["c"]) == ("a1", "c3") else 1.0)
    assert found(rows) == [{"a": "a1", "c": "c3"}]


def test_three_dimensional_combination() -> None:
    rows = cube(lambda m: 0.3 if (m["b"], m["c"], m["d"]) == ("b4", "c2", "d1") else 1.0)
    assert found(rows) == [{"b": "b4", "c": "c2", "d": "d1"}]


def test_two_causes_at_once_in_opposite_directions() -> None:
    # b2 ∧ d1 halves while a4 grows by 30 %: the total may barely move, both are named
    def plant(m: dict[str, str]) -> float:
        if (m["b"], m["d"]) == ("b2", "d1"):
            return 0.5
        return 1.3 if m["a"] == "a4" else 1.0

    got = found(cube(plant, seed=7))
    assert sorted(got, key=len) == [{"a": "a4"}, {"b": "b2", "d": "d1"}]


def test_cause_whose_segment_fell_while_the_total_rose() -> None:
    # everything grows 5 % except c2, which falls 30 %: the total rises, c2 is the cause
    # (deviation from expected, not "moving with the total")
    rows = cube(lambda m: 0.7 if m["c"] == "c2" else 1.0)
    rows = {k: (f, [a[0] * 1.05 if k[2] != "c2" else a[0]]) for k, (f, a) in rows.items()}
    got = found(rows)
    assert {"c": "c2"} in got


def test_no_cause_in_pure_noise() -> None:
    assert found(cube(lambda m: 1.0, noise=0.05)) == []


def test_ratio_metric_deviates_numerator_and_denominator_together() -> None:
    # R = ΣN/ΣD (revenue per visit); in a3 ∧ b1 visits (D) fall 50 % and revenue (N) with them
    # — the ratio there barely moves, but the mix does; elsewhere nothing happens.
    rng = np.random.default_rng(3)
    rows: dict[Key, tuple[list[float], list[float]]] = {}
    for a, b in itertools.product([f"a{i}" for i in range(1, 6)], [f"b{i}" for i in range(1, 5)]):
        d0 = float(rng.uniform(50, 150))
        n0 = d0 * (300 if a == "a3" else 100) * float(rng.uniform(0.9, 1.1))
        k = 0.5 if (a, b) == ("a3", "b1") else 1.0
        d1 = d0 * k * float(rng.uniform(0.99, 1.01))
        n1 = n0 * k * float(rng.uniform(0.99, 1.01))
        rows[(a, b)] = ([n0, d0], [n1, d1])
    c = Cube.from_rows(["a", "b"], rows)
    causes = search(c)
    assert [x.members for x in causes] == [{"a": "a3", "b": "b1"}]
    out = describe(c, causes, ratio=True)[0]
    n0 = sum(f[0] for f, _ in rows.values())
    d0 = sum(f[1] for f, _ in rows.values())
    n1 = sum(a[0] for _, a in rows.values())
    d1 = sum(a[1] for _, a in rows.values())
    assert isinstance(out["contribution"], float)
    # reverting the cause explains almost all of the ratio's change
    assert out["contribution"] == pytest.approx(n1 / d1 - n0 / d0, rel=0.1)


def test_budget_refusal_names_what_to_narrow() -> None:
    with pytest.raises(InvalidQueryError, match="choose fewer dimensions"):
        check_budget(10**7, ["a", "b", "c", "d", "e", "f"])
    with pytest.raises(InvalidQueryError, match="13 dimensions"):
        check_budget(10, [f"d{i}" for i in range(13)])
    with pytest.raises(InvalidQueryError, match="budget of 30,000,000 leaves"):
        check_budget(4 * 10**7, ["a", "b"], [4000, 10**4])
    # RiskLoc's H: 24 million leaves, 6 dimensions of 5 to 250 members — within the budget
    check_budget(24 * 10**6, ["a", "b", "c", "d", "e", "f"], [10, 5, 250, 20, 8, 12])
    # the same leaves in 6 dimensions each as fine as the leaves are not
    with pytest.raises(InvalidQueryError, match="element-operations a round"):
        check_budget(24 * 10**6, ["a", "b", "c", "d", "e", "f"])


# -- through explain: missing leaves, zero bases, a metric with dimensions ------------------


class CubeValues:
    """A ValueSource over leaf rows ``{(period, a, b): value}``."""

    def __init__(self, metrics: list[Metric], data: dict[str, dict[tuple[str, str, str], float]]):
        self.metrics = {m.id: m for m in metrics}
        self.data = data

    def metric(self, metric_id: str) -> Metric:
        return self.metrics[metric_id]

    def frame(self, metric_id: str, grain: Sequence[str] = (), **kw: Any) -> dict[Any, Any]:
        periods = set(kw.get("periods") or [])
        pos = {"a": 1, "b": 2}
        out: dict[tuple[str, ...], dict[str, float]] = {}
        for (p, *members), v in self.data[metric_id].items():
            if p not in periods:
                continue
            row = (p, *members)
            key = tuple(row[pos[g]] for g in grain)
            cell = out.setdefault(key, {})
            cell[p] = cell.get(p, 0.0) + v
        return out


def test_missing_leaves_and_zero_bases_are_said() -> None:
    data: dict[tuple[str, str, str], float] = {}
    for a, b in itertools.product(["a1", "a2", "a3"], ["b1", "b2", "b3"]):
        data[("2026-05", a, b)] = 100.0
        data[("2026-06", a, b)] = 100.0 if (a, b) != ("a2", "b2") else 20.0
    del data[("2026-06", "a3", "b3")]  # missing now: 0
    data[("2026-06", "a4", "b1")] = 50.0  # new: no base
    metrics = [Metric(id="x", name="X", dimensions=["time", "a", "b"])]
    x = explain(CubeValues(metrics, {"x": data}), "x", "2026-06", "mom", localize=True).to_json()
    notes = " ".join(x["notes"])
    assert "treated as 0" in notes and "nothing at the base" in notes
    members = [c["members"] for c in x["root_causes"]]
    assert {"a": "a2", "b": "b2"} in members
    assert {"a": "a3", "b": "b3"} in members
    rc = next(c for c in x["root_causes"] if c["members"] == {"a": "a2", "b": "b2"})
    assert (rc["base_value"], rc["value"], rc["contribution"]) == (100.0, 20.0, -80.0)
    assert 0 < rc["confidence"] <= 1


# -- the demo's DMS data ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> ValuesEngine:
    return ValuesEngine(DEMO, GraphDefinitions(load_catalog(DEMO)))


def test_demo_story_is_the_root_cause(demo: ValuesEngine) -> None:
    x = explain(demo, "revenue", "2026-06", "mom", by=["store", "order_type"], localize=True)
    rc = x.to_json()["root_causes"]
    assert [c["members"] for c in rc] == [{"store": "南山店", "order_type": "maintenance"}]
    assert rc[0]["contribution"] < 0 and rc[0]["value"] < 0.3 * rc[0]["base_value"]
    # a ratio: 客单价 across the same dimensions names the same combination
    y = explain(demo, "atp", "2026-06", "mom", by=["store", "order_type"], localize=True)
    assert [c["members"] for c in y.to_json()["root_causes"]] == [
        {"store": "南山店", "order_type": "maintenance"}
    ]


def _demo_leaves(demo: ValuesEngine, metric: str) -> dict[Key, float]:
    frame = demo.frame(metric, ("store", "order_type"), periods=["2026-05"])
    return {k: v["2026-05"] for k, v in frame.items()}


@pytest.mark.parametrize(
    ("planted", "factor"),
    [
        ([{"store": "福田店"}], 0.7),
        ([{"store": "宝安店", "order_type": "repair"}], 1.5),
        ([{"store": "龙岗店"}, {"order_type": "bodyshop"}], 0.6),
    ],
)
def test_planted_causes_on_the_demo_data(
    demo: ValuesEngine, planted: list[dict[str, str]], factor: float
) -> None:
    # 2026-05 revenue by store × order_type as the base; the actual is the same month with the
    # planted combinations scaled and ±1 % noise elsewhere
    base = _demo_leaves(demo, "revenue")
    rng = np.random.default_rng(5)
    rows: dict[Key, tuple[list[float], list[float]]] = {}
    for (store, otype), v in base.items():
        hit = any(all({"store": store, "order_type": otype}[d] == m for d, m in p.items())
                  for p in planted)  # fmt: skip
        rows[(store, otype)] = ([v], [v * (factor if hit else 1 + rng.uniform(-0.01, 0.01))])
    assert sorted(found(rows, ["store", "order_type"]), key=str) == sorted(planted, key=str)


def test_demo_story_through_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    EmbeddedStore(db).load(load_catalog(DEMO))
    args = ("explain", "营收", "--period", "2026-06", "--by", "store,order_type", "--localize")
    out = json.loads(run(*args, "--json", db=db).stdout)
    assert out["root_causes"][0]["members"] == {"store": "南山店", "order_type": "maintenance"}
    text = run("--lang", "en", *args, db=db).stdout
    assert "Root causes" in text and "Store=南山店 ∧ Order type=保养" in text  # names, as by-tables
