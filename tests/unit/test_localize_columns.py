"""localize reads large cubes column-wise (analysis/localize_columns.py, the values engine's
``frame_table``): the cube, the notes and the root causes are those of the dictionary path, on
generated cubes with missing and new leaves (additive and ratio metrics), on the demo's DMS
data, and through the CLI on a catalog whose values are one Parquet file."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis import explain_localize
from analysis.explain import explain
from analysis.explain_types import PeriodPair
from analysis.localize_columns import read_columnar
from core import i18n
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import DEMO
from tests.unit.test_cli import run
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with i18n.use("en"):
        yield


def write_catalog(root: Path, dims: dict[str, int], rows: list[tuple[str, str, tuple[str, ...],
                  float]]) -> None:  # fmt: skip
    """A catalog of metrics ``n`` and ``d`` (observed, one Parquet file), ``r = n / d`` and
    ``x`` (observed too); ``rows``: (metric, period, members, value)."""
    (root / "metrics").mkdir(parents=True)
    (root / "values").mkdir()
    (root / "kpigraph.yaml").write_text("name: columns\n", "utf-8")
    (root / "dimensions.yaml").write_text(
        "- {id: time, name: 时间}\n" + "".join(f"- {{id: {d}, name: {d}}}\n" for d in dims),
        "utf-8",
    )
    grain = ", ".join(["time", *dims])
    for mid, formula in (("n", ""), ("d", ""), ("x", ""), ("r", "formula: n / d\n")):
        (root / "metrics" / f"{mid}.yaml").write_text(
            f"id: {mid}\nname: {mid}\ndimensions: [{grain}]\n{formula}", "utf-8"
        )
    columns: dict[str, list[object]] = {"metric": [], "period": []}
    columns.update({d: [] for d in dims})
    columns["value"] = []
    for metric, period, members, value in rows:
        columns["metric"].append(metric)
        columns["period"].append(period)
        for d, m in zip(dims, members, strict=True):
            columns[d].append(m)
        columns["value"].append(value)
    pq.write_table(pa.table(columns), root / "values" / "values.parquet")


def generated(seed: int, dims: dict[str, int]) -> list[tuple[str, str, tuple[str, ...], float]]:
    """Leaves of ``n``, ``d`` and ``x`` at 2026-05 and 2026-06 with ±2 % noise, a planted fall of
    ``a=a1 ∧ b=b2``, some leaves missing in one period and some new (no base), and
    ``a=a1 ∧ b=b1`` absent."""
    rng = np.random.default_rng(seed)
    rows = []
    names = [[f"{d}{i}" for i in range(1, n + 1)] for d, n in dims.items()]
    for members in itertools.product(*names):
        if members[:2] == ("a1", "b1"):
            continue  # absent: a1 is not the first a of the leaves sorted by b
        drop = rng.random()
        for metric in ("n", "d", "x"):
            base = float(rng.uniform(50, 150))
            now = base * (0.4 if members[:2] == ("a1", "b2") else rng.uniform(0.98, 1.02))
            if drop > 0.02:
                rows.append((metric, "2026-05", members, base))
            if drop < 0.98:
                rows.append((metric, "2026-06", members, now))
    return rows


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> ValuesEngine:
    root = tmp_path_factory.mktemp("columns") / "catalog"
    dims = {"a": 4, "b": 5, "c": 12}  # c10 sorts before c2
    write_catalog(root, dims, generated(3, dims))
    return ValuesEngine(root, GraphDefinitions(load_catalog(root)))


@pytest.mark.parametrize(
    ("parts"), [[{"x": 1.0}], [{"n": 1.0}, {"d": 1.0}], [{"n": 1.0, "x": -0.5}]]
)
def test_columnar_cube_is_the_dictionary_cube(
    engine: ValuesEngine, parts: list[dict[str, float]]
) -> None:
    pair = PeriodPair(engine, "2026-06", "2026-05")
    dims = ["b", "a", "c"]  # not the file's order
    columnar = read_columnar(engine, pair, parts, dims)
    assert columnar is not None
    cube, missing, zero_base = explain_localize._dictionary_cube(pair, parts, dims)
    assert columnar.cube.dimensions == cube.dimensions
    assert columnar.cube.members == cube.members
    assert columnar.cube.codes.tolist() == cube.codes.tolist()
    assert columnar.cube.expected.tolist() == cube.expected.tolist()  # exactly, not close
    assert columnar.cube.actual.tolist() == cube.actual.tolist()
    assert (columnar.missing, columnar.zero_base) == (missing, zero_base)
    assert missing > 0 and zero_base > 0  # the cases the notes speak of were there


def test_a_cube_above_the_budget_is_refused_before_all_of_it_is_read(
    engine: ValuesEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 240 leaves a period; a budget of 100 leaves: the frame is read up to 201 rows, then
    # refused with what to narrow
    from analysis import localize_columns
    from graph_schema.errors import InvalidQueryError

    monkeypatch.setattr(localize_columns, "MAX_LEAVES", 100)
    monkeypatch.setattr("analysis.localize_budget.MAX_LEAVES", 100)
    read: list[int] = []
    fetch = engine.frame_table

    def counted(*args: object, **kw: object) -> object:
        found = fetch(*args, **kw)  # type: ignore[arg-type]
        read.append(found.num_rows if found is not None else -1)
        return found

    monkeypatch.setattr(engine, "frame_table", counted)
    pair = PeriodPair(engine, "2026-06", "2026-05")
    with pytest.raises(InvalidQueryError) as info:
        read_columnar(engine, pair, [{"x": 1.0}], ["a", "b", "c"])
    assert read == [201]
    assert "localize over more than 100 leaves (a, b, c)" in info.value.message
    assert "choose fewer dimensions with --by" in info.value.message
    monkeypatch.setattr(localize_columns, "MAX_LEAVES", 240)  # 240 leaves fit: read whole
    monkeypatch.setattr("analysis.localize_budget.MAX_LEAVES", 240)
    assert read_columnar(engine, pair, [{"x": 1.0}], ["a", "b", "c"]) is not None
    assert read[-1] == len(generated(3, {"a": 4, "b": 5, "c": 12})) // 3


@pytest.mark.parametrize("metric", ["x", "r"])
def test_explain_answers_alike_on_either_path(
    engine: ValuesEngine, metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def localized() -> tuple[object, list[str]]:
        x = explain(engine, metric, "2026-06", "mom", by=["a", "b", "c"], localize=True).to_json()
        return x["root_causes"], [n for n in x["notes"] if n.startswith("localize")]

    used: list[bool] = []

    def spy(*args: object) -> object:
        found = read_columnar(*args)  # type: ignore[arg-type]
        used.append(found is not None)
        return found

    monkeypatch.setattr(explain_localize, "read_columnar", spy)
    monkeypatch.setattr(explain_localize, "COLUMNAR_LEAVES", 10**9)
    by_dictionary = localized()
    monkeypatch.setattr(explain_localize, "COLUMNAR_LEAVES", 0)
    column_wise = localized()
    assert used == [True]
    assert column_wise == by_dictionary
    causes, notes = column_wise
    assert {"a": "a1", "b": "b2"} in [c["members"] for c in causes]  # type: ignore[attr-defined]
    assert any("treated as 0" in n for n in notes) and any(
        "nothing at the base" in n for n in notes
    )


def test_derived_values_are_read_by_dictionary() -> None:
    demo = ValuesEngine(DEMO, GraphDefinitions(load_catalog(DEMO)))
    # the demo's revenue is a sum of its parts (derived): no table, the dictionary path answers
    assert demo.frame_table("revenue", ["store"], periods=["2026-06"]) is None


def test_demo_data_column_wise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the demo's revenue and visits by store × order_type as observed values: the demo's story
    # (南山店 · 保养) found column-wise, for revenue and for the ratio 客单价 = revenue / visits
    demo = ValuesEngine(DEMO, GraphDefinitions(load_catalog(DEMO)))
    rows = []
    for mine, theirs in (("n", "revenue"), ("d", "visits")):
        frame = demo.frame(theirs, ("store", "order_type"), periods=["2026-05", "2026-06"])
        for key, by_period in frame.items():
            rows += [(mine, p, key, v) for p, v in by_period.items()]
    root = tmp_path / "catalog"
    write_catalog(root, {"store": 0, "order_type": 0}, rows)
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    monkeypatch.setattr(explain_localize, "COLUMNAR_LEAVES", 0)
    story = [{"store": "南山店", "order_type": "maintenance"}]
    for metric in ("n", "r"):
        x = explain(engine, metric, "2026-06", "mom", by=["store", "order_type"], localize=True)
        assert [c["members"] for c in x.to_json()["root_causes"]] == story
        want = explain(demo, {"n": "revenue", "r": "atp"}[metric], "2026-06", "mom",
                       by=["store", "order_type"], localize=True)  # fmt: skip
        assert x.to_json()["root_causes"] == want.to_json()["root_causes"]


def test_cli_reads_a_large_parquet_cube_column_wise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 240,000 leaves (above COLUMNAR_LEAVES) in one Parquet file, through the CLI; the answer
    # is the dictionary path's, and --json output is JSON (no progress bar in it)
    dims = {"a": 60, "b": 50, "c": 80}
    rng = np.random.default_rng(11)
    names = [np.array([f"{d}{i}" for i in range(1, n + 1)]) for d, n in dims.items()]
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in dims.values()], indexing="ij"), -1)
    grid = grid.reshape(-1, 3)
    base = rng.uniform(50, 150, len(grid))
    now = base * rng.uniform(0.98, 1.02, len(grid))
    hit = (grid[:, 0] == 6) & (grid[:, 2] == 9)  # a=a7 ∧ c=c10
    now[hit] *= 1.8
    root = tmp_path / "catalog"
    write_catalog(root, dims, [])
    members = {d: np.tile(names[j][grid[:, j]], 2) for j, d in enumerate(dims)}
    pq.write_table(
        pa.table({"metric": ["x"] * (2 * len(grid)),
                  "period": ["2026-05"] * len(grid) + ["2026-06"] * len(grid),
                  **members, "value": np.concatenate([base, now])}),
        root / "values" / "values.parquet",
    )  # fmt: skip
    db = tmp_path / "cli.sqlite"
    EmbeddedStore(db).load(load_catalog(root))
    args = ("explain", "x", "--period", "2026-06", "--base", "2026-05", "--by", "a,b,c")
    out = json.loads(run(*args, "--localize", "--json", db=db).stdout)
    assert [c["members"] for c in out["root_causes"]] == [{"a": "a7", "c": "c10"}]
    engine = ValuesEngine(root, GraphDefinitions(load_catalog(root)))
    monkeypatch.setattr(explain_localize, "COLUMNAR_LEAVES", 10**9)
    want = explain(engine, "x", "2026-06", "2026-05", by=["a", "b", "c"], localize=True)
    assert out["root_causes"] == want.to_json()["root_causes"]  # 240,000 leaves by dictionary
