"""Semantic versions, change classes and the version rules (issue #13 §2), as pure functions."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph_schema.diff import Snapshot, diff_snapshots, snapshot, with_auto_versions
from graph_schema.errors import CatalogError
from graph_schema.revisions import ChangeClass, ChangeOp
from graph_schema.semver import bump, compare, is_semver, parse_semver
from graph_schema.versions import auto_version, classify_metric, field_class, judge_version
from loaders.catalog import load_catalog
from tests.helpers import write_catalog

ATP = {"id": "atp", "name": "客单价", "formula": "revenue / visits", "version": "1.1.0"}


@pytest.mark.parametrize("bad", ["banana", "1.0", "v1.0.0", "01.0.0", "1.0.0.0", "", " "])
def test_not_semver(bad: str) -> None:
    assert not is_semver(bad)


def test_version_banana_is_a_catalog_error_with_file_and_line(
    tmp_path: Path, english: None
) -> None:
    write_catalog(
        tmp_path,
        {
            "metrics/atp.yaml": "id: atp\nname: 客单价\nformula: revenue / visits\n"
            "version: banana\n"
            "history: [{version: 1.0, date: 2023-09-01}]\n"
        },
    )
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
    found = {(i.file, i.line): i.message for i in info.value.issues}
    assert "'banana' is not a semantic version" in found[("metrics/atp.yaml", 4)]
    assert "'1.0' is not a semantic version" in found[("metrics/atp.yaml", 5)]
    assert "Value error" not in str(info.value)


@pytest.mark.parametrize(
    ("field", "cls"),
    [
        ("formula", "major"),
        ("drivers", "major"),
        ("unit", "major"),
        ("aggregation", "major"),
        ("caliber.numerator", "major"),
        ("caliber.denominator", "major"),
        ("caliber.time", "major"),
        ("fields", "major"),
        ("level", "major"),
        ("dimensions", "minor"),
        ("dashboards", "minor"),
        ("benchmarks", "minor"),
        ("rolls_up_to", "minor"),
        ("causes", "minor"),
        ("owner", "minor"),
        ("reviewer", "minor"),
        ("status", "minor"),
        ("name", "minor"),
        ("definition", "patch"),
        ("meaning", "patch"),
        ("example", "patch"),
        ("caveats", "patch"),
        ("use_cases", "patch"),
        ("contacts", "patch"),
    ],
)
def test_change_class_table(field: str, cls: str) -> None:
    """The README's table, field by field."""
    assert field_class(field) == ChangeClass(cls)


def test_the_largest_class_wins() -> None:
    cls, changes = classify_metric(
        {**ATP, "definition": "a", "dimensions": ["time"]},
        {**ATP, "definition": "b", "dimensions": ["time", "region"], "unit": "元"},
    )
    assert cls is ChangeClass.MAJOR
    assert [c.field for c in changes] == ["definition", "dimensions", "unit"]


@pytest.mark.usefixtures("english")  # the English words (no catalog language: zh)
def test_formula_change_without_bump_names_the_version_to_write() -> None:
    old = Snapshot({"Metric:atp": ATP}, {})
    new = Snapshot({"Metric:atp": {**ATP, "formula": "labor_revenue / visits"}}, {})
    diff = diff_snapshots(old, new)
    assert diff.problems == ["atp: formula changed (major) — set version: 2.0.0 (now 1.1.0)"]
    bumped = Snapshot({"Metric:atp": {**ATP, "formula": "x / visits", "version": "2.0.0"}}, {})
    assert diff_snapshots(old, bumped).problems == []


@pytest.mark.parametrize(
    ("field", "value", "needs"),
    [("dashboards", ["board"], "1.2.0"), ("definition", "新的措辞", "1.1.1")],
)
def test_minor_and_patch_need_their_bump(field: str, value: object, needs: str) -> None:
    old = Snapshot({"Metric:atp": ATP}, {})
    new = Snapshot({"Metric:atp": {**ATP, field: value}}, {})
    [change] = diff_snapshots(old, new).nodes
    assert (change.required_version, change.version_ok) == (needs, False)
    ok = Snapshot({"Metric:atp": {**ATP, field: value, "version": needs}}, {})
    assert diff_snapshots(old, ok).problems == []


@pytest.mark.usefixtures("english")  # the English words (no catalog language: zh)
def test_a_version_going_backwards_is_refused_even_without_a_change() -> None:
    verdict = judge_version("atp", "1.1.0", "1.0.9", None, [])
    assert not verdict.ok
    assert verdict.problem == (
        "atp: version goes backwards (1.1.0 → 1.0.9) — set version: 1.1.0 or later"
    )


def test_a_larger_bump_than_needed_is_fine() -> None:
    assert judge_version("atp", "1.1.0", "3.0.0", ChangeClass.PATCH, []).ok


def test_unversioned_metrics_are_versioned_automatically(tmp_path: Path) -> None:
    graph = load_catalog(write_catalog(tmp_path))
    first, auto = with_auto_versions(None, graph)
    assert auto == {"atp": "1.0.0", "revenue": "1.0.0", "visits": "1.0.0"}
    # unchanged: the stored version stays, nothing is recorded as automatic
    again, auto2 = with_auto_versions(snapshot(first), graph)
    assert auto2 == {} and diff_snapshots(snapshot(first), snapshot(again)).empty
    # a unit change bumps the major version
    assert auto_version({**ATP, "version": "1.0.0"}, {"id": "atp", "unit": "%"}) == "2.0.0"


def test_node_and_edge_changes_are_field_level(tmp_path: Path) -> None:
    old = load_catalog(write_catalog(tmp_path / "a"))
    new = load_catalog(
        write_catalog(
            tmp_path / "b",
            {
                "metrics/atp.yaml": "id: atp\nname: 客单价\nlevel: L1\nowner: ops\n"
                "reviewer: finance\nformula: revenue / visits * 1\n",
                "metrics/gm.yaml": "id: gm\nname: 毛利\nformula: revenue - 1\n",
            },
        )
    )
    diff = diff_snapshots(snapshot(old), snapshot(new))
    by_ref = {c.ref: c for c in diff.nodes}
    assert by_ref["Metric:gm"].op is ChangeOp.ADDED
    atp = by_ref["Metric:atp"]
    assert [(f.field, f.old, f.new) for f in atp.fields if f.field != "abbr"] == [
        ("formula", "revenue / visits", "revenue / visits * 1")
    ]
    edges = {(e.source, e.target): e for e in diff.edges}
    assert edges[("Metric:revenue", "Metric:gm")].op is ChangeOp.ADDED
    changed_role = edges[("Metric:visits", "Metric:atp")]  # revenue / visits * 1: a factor now
    assert changed_role.op is ChangeOp.MODIFIED
    assert [f.field for f in changed_role.fields] == ["role"]


versions = st.builds(
    lambda a, b, c: f"{a}.{b}.{c}",
    st.integers(0, 30),
    st.integers(0, 30),
    st.integers(0, 30),
)


@given(versions, st.sampled_from(["major", "minor", "patch"]))
def test_a_bump_is_always_newer(version: str, part: str) -> None:
    bumped = bump(version, part)
    assert compare(bumped, version) == 1
    assert str(parse_semver(bumped)) == bumped


@given(versions, versions)
def test_compare_is_antisymmetric(a: str, b: str) -> None:
    assert compare(a, b) == -compare(b, a)
