"""A typed Parquet file in ``values/`` is read in place (no copy into DuckDB before it is
checked): the same checks, messages and values as the same rows in CSV — duplicates within
and across files refused with their rows, members trimmed, empty members "all", rows in any
order."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders.catalog import load_catalog
from tests.helpers import write_catalog
from values.definitions import GraphDefinitions
from values.engine import ValuesEngine
from values.errors import ValuesFileError

DIMS = "- {id: time, name: 时间}\n- {id: store, name: 门店}\n- {id: region, name: 区域}\n"


def _engine(root: Path) -> ValuesEngine:
    write_catalog(root, {"dimensions.yaml": DIMS})
    return ValuesEngine(root, GraphDefinitions(load_catalog(root)))


def _parquet(path: Path, rows: list[tuple[str, str, str, str, float]], group: int = 7) -> None:
    """Rows (metric, period, store, region, value) as a typed Parquet file: dictionary
    members, a numeric value, several row groups."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = list(zip(*rows, strict=True))
    dictionary = pa.dictionary(pa.int32(), pa.string())
    table = pa.table(
        {
            "metric": pa.array(cols[0]),
            "period": pa.array(cols[1]),
            "store": pa.array(cols[2]).dictionary_encode().cast(dictionary),
            "region": pa.array(cols[3]).dictionary_encode().cast(dictionary),
            "value": pa.array(cols[4], type=pa.float64()),
        }
    )
    pq.write_table(table, path, row_group_size=group)


def _rows() -> list[tuple[str, str, str, str, float]]:
    return [
        (m, p, f"S{s}", "南区" if s < 3 else "北区", float(10 * s + i))
        for i, p in enumerate(["2026-04", "2026-05", "2026-06"])
        for m in ("revenue", "visits")
        for s in range(1, 6)
    ]


@pytest.mark.usefixtures("english")
def test_a_duplicate_in_a_parquet_file_is_refused_with_both_rows(tmp_path: Path) -> None:
    rows = _rows()
    rows.append((*rows[3][:4], 99.0))  # row 31 repeats row 4's key (another row group)
    _parquet(tmp_path / "values" / "v.parquet", rows)
    with pytest.raises(ValuesFileError) as info:
        _engine(tmp_path)
    [issue] = info.value.issues
    assert str(issue.file) == "values/v.parquet (row 31)"
    assert "duplicate row for metric 'revenue', period 2026-04" in str(issue.message)
    assert "values/v.parquet (row 4)" in str(issue.message)


@pytest.mark.usefixtures("english")
def test_a_duplicate_across_a_csv_and_a_parquet_file_is_refused(tmp_path: Path) -> None:
    _parquet(tmp_path / "values" / "b.parquet", _rows())
    (tmp_path / "values" / "a.csv").write_text(
        "metric,period,store,region,value\nvisits,2026-06, S5 ,北区,1\n", "utf-8"
    )
    with pytest.raises(ValuesFileError) as info:
        _engine(tmp_path)
    [issue] = info.value.issues
    assert "duplicate row for metric 'visits', period 2026-06" in str(issue.message)
    assert {str(issue.file), str(issue.message).split("first at ")[1]} == {
        "values/b.parquet (row 30)",
        "values/a.csv:2)",
    }


@pytest.mark.usefixtures("english")
def test_many_duplicates_are_refused_too(tmp_path: Path) -> None:
    rows = [("revenue", "2026-05", f"S{s}", "南区", 1.0) for s in range(1500)]
    _parquet(tmp_path / "values" / "v.parquet", rows + rows, group=500)
    with pytest.raises(ValuesFileError) as info:
        _engine(tmp_path)
    assert len(info.value.issues) == 5
    assert all("duplicate row" in str(i.message) for i in info.value.issues)


def test_parquet_in_any_order_gives_the_values_of_the_same_rows_in_csv(tmp_path: Path) -> None:
    rows = _rows()
    # a member with spaces around it and an empty one ("all"), as a CSV may have them
    rows += [("revenue", "2026-07", " S1 ", "南区", 5.0), ("revenue", "2026-07", "", "", 7.0)]
    random.Random(3).shuffle(rows)  # metrics, periods and grains interleaved
    _parquet(tmp_path / "p" / "values" / "v.parquet", rows)
    csv = "metric,period,store,region,value\n" + "".join(
        f"{m},{p},{s},{r},{v}\n" for m, p, s, r, v in rows
    )
    (tmp_path / "c" / "values").mkdir(parents=True)
    (tmp_path / "c" / "values" / "v.csv").write_text(csv, "utf-8")
    from_parquet, from_csv = _engine(tmp_path / "p"), _engine(tmp_path / "c")
    for grain in ([], ["store"], ["region"], ["store", "region"]):
        for metric in ("revenue", "visits"):
            got = from_parquet.frame(metric, grain, start="2026-04", end="2026-07")
            assert got == from_csv.frame(metric, grain, start="2026-04", end="2026-07")
    assert from_parquet.frame("revenue", ["store"], periods=["2026-07"]) == {
        ("S1",): {"2026-07": 5.0}
    }
    assert from_parquet.frame("revenue", [], periods=["2026-07"]) == {(): {"2026-07": 7.0}}


@pytest.mark.usefixtures("english")
def test_a_damaged_parquet_page_is_reported_not_raised(tmp_path: Path) -> None:
    # the footer is intact (the file opens), a data page is not: read where it lies, the
    # damage shows only when the rows are read — reported as the file's problem
    rows = [("revenue", "2026-05", f"S{s}", "南区", float(s)) for s in range(20000)]
    path = tmp_path / "values" / "v.parquet"
    _parquet(path, rows, group=20000)
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 2000):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(ValuesFileError) as info:
        _engine(tmp_path)
    [issue] = info.value.issues
    assert str(issue.message).startswith("cannot read:")
    assert str(issue.file) in ("values/v.parquet", "values/")
