"""The three-way comparison (graph_schema.merge) and the in-place YAML patches
(loaders.yaml_patch) that write its result: examples and properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph_schema.merge import compare_metric, flatten, normalized, three_way
from loaders.yaml_edit import YamlEditError
from loaders.yaml_lines import load_yaml
from loaders.yaml_patch import patch
from tests.helpers import DEMO

# -- three-way: examples -----------------------------------------------------------------------


def test_store_only_change_goes_to_files_and_files_only_to_load() -> None:
    base = {"id": "a", "unit": "CNY", "caliber": {"time": "月", "rules": ["x"]}}
    files = {"id": "a", "unit": "元", "caliber": {"time": "月", "rules": ["x"]}}
    store = {"id": "a", "unit": "CNY", "caliber": {"time": "日", "rules": ["x"]}}
    m = compare_metric("a", base, files, store)
    assert m.to_files == {("caliber", "time"): "日"}
    assert m.to_load == {("unit",): "元"}
    assert not m.conflicts
    assert m.merged == {"id": "a", "unit": "元", "caliber": {"time": "日", "rules": ["x"]}}


def test_same_field_changed_differently_is_a_conflict_named_by_field() -> None:
    base = {"id": "a", "caliber": {"numerator": {"excludes": ["x"]}}}
    files = {"id": "a", "caliber": {"numerator": {"excludes": ["x", "y"]}}}
    store = {"id": "a", "caliber": {"numerator": {"excludes": ["x", "z"]}}}
    m = compare_metric("a", base, files, store)
    assert [c.field for c in m.conflicts] == ["caliber.numerator.excludes"]
    assert "the files say" in m.conflicts[0].describe()


def test_same_change_on_both_sides_is_nothing_and_empties_are_alike() -> None:
    base = {"id": "a", "unit": "CNY", "tags": []}
    files = {"id": "a", "unit": "元", "caveats": None, "extra": {}}
    store = {"id": "a", "unit": "元", "definition": ""}
    assert three_way({"a": base}, {"a": files}, {"a": store}).metrics == {}


def test_created_removed_and_deprecated() -> None:
    created = compare_metric("n", None, None, {"id": "n", "name": "新"})
    assert created.store_op == "created" and created.to_files == {("*",): {"id": "n", "name": "新"}}
    removed = compare_metric("r", {"id": "r"}, {"id": "r"}, None)
    assert removed.to_files == {("*",): None}
    in_files = compare_metric("f", None, {"id": "f", "name": "F"}, None)
    assert in_files.to_load and not in_files.to_files
    both = compare_metric("c", {"id": "c", "unit": "a"}, {"id": "c", "unit": "b"}, None)
    assert both.conflicts and both.conflicts[0].field == "(the whole metric)"
    dep = compare_metric("d", {"id": "d"}, {"id": "d"}, {"id": "d", "status": "deprecated"})
    assert dep.to_files == {("status",): "deprecated"}


def test_version_and_history_are_soft() -> None:
    base = {"id": "a", "version": "1.0.0", "history": [{"version": "1.0.0"}], "unit": "x"}
    files = {**base, "version": "1.1.0", "history": [{"version": "1.0.0"}, {"version": "1.1.0"}]}
    files["definition"] = "d"
    store = {**base, "version": "2.0.0", "history": [{"version": "1.0.0"}, {"version": "2.0.0"}]}
    store["unit"] = "y"
    m = compare_metric("a", base, files, store)
    assert not m.conflicts
    assert m.to_files[("version",)] == "2.0.0"  # the higher wins; the load asks for the bump
    assert [h["version"] for h in m.to_files[("history",)]] == ["1.0.0", "2.0.0", "1.1.0"]
    # a file without a version is versioned on load: never a change of the files
    auto = compare_metric("a", base, {**base, "version": None}, store)
    assert ("version",) not in auto.to_files and not auto.conflicts


# -- three-way: properties ---------------------------------------------------------------------

VALUES = st.one_of(
    st.none(), st.just(""), st.just([]), st.sampled_from(["x", "y", "甲"]), st.just(["p", "q"])
)
KEYS = ["unit", "formula", "definition", "status", "tags"]
PROPS = st.fixed_dictionaries(
    {k: VALUES for k in KEYS},
    optional={
        "caliber": st.fixed_dictionaries({}, optional={"time": VALUES, "rules": VALUES}),
    },
).map(lambda d: {"id": "m", **d})


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(base=PROPS, files=PROPS, store=PROPS)
def test_three_way_properties(
    base: dict[str, Any], files: dict[str, Any], store: dict[str, Any]
) -> None:
    m = compare_metric("m", base, files, store)
    b, f, s = flatten(base), flatten(files), flatten(store)
    # swapping the sides swaps what goes where, and names the same conflicts
    w = compare_metric("m", base, store, files)
    assert {c.field for c in w.conflicts} == {c.field for c in m.conflicts}
    assert flatten_changes(w.to_files) == flatten_changes(m.to_load)
    # each changed path is exactly one of: to files, to load, conflict, or equal on both sides
    conflicted = {c.field for c in m.conflicts}
    for path in set(b) | set(f) | set(s):
        fv, sv, bv = f.get(path), s.get(path), b.get(path)
        name = ".".join(path)
        if fv == sv:
            assert name not in conflicted
        elif fv == bv:
            assert name not in conflicted and flatten_changes(m.to_files).get(path) == sv
        elif sv == bv:
            assert name not in conflicted and flatten_changes(m.to_load).get(path) == fv
        else:
            assert name in conflicted
    if not m.conflicts and m.merged is not None:
        merged = flatten(m.merged)
        for path in set(f) | set(s) | set(b):
            want = s.get(path) if s.get(path) != b.get(path) else f.get(path)
            assert merged.get(path) == want
    # the files already said everything: nothing to pull
    assert compare_metric("m", base, store, store).to_files == {}


def flatten_changes(changes: dict[tuple[str, ...], Any]) -> dict[tuple[str, ...], Any]:
    """Changes as leaves: a mapping value set whole counts as its leaves."""
    out: dict[tuple[str, ...], Any] = {}
    for path, value in changes.items():
        if isinstance(value, dict):
            for sub, leaf in flatten(value).items():
                out[path + sub] = leaf
        else:
            out[path] = value
    return out


# -- in-place patches --------------------------------------------------------------------------

ATP = (DEMO / "metrics/revenue/atp.yaml").read_text(encoding="utf-8")
ORDER = ["id", "name", "level", "status", "definition", "atomic", "formula", "unit", "caveats"]


def changed_lines(before: str, after: str) -> int:
    import difflib

    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))


def test_patch_keeps_comments_style_and_other_keys() -> None:
    out = patch(ATP, 2, {("status",): "deprecated", ("unit",): "元"}, ORDER)
    assert changed_lines(ATP, out) == 4
    assert out.startswith("# 客单价 — the full definition card")
    assert "sql: |  # observed 客单价" in out
    out = patch(ATP, 2, {("caliber", "denominator", "excludes"): ["免费检测"]}, ORDER)
    assert "    excludes: [免费检测]\n" in out and changed_lines(ATP, out) == 2


def test_patch_inserts_in_template_order_and_removes() -> None:
    out = patch(ATP, 2, {("atomic",): "营收", ("caveats",): None}, ORDER)
    lines = out.splitlines()
    assert lines[lines.index("atomic: 营收") - 1].startswith("definition:")
    assert "caveats:" not in out and "special_cases:" in out


def test_patch_in_a_metrics_list_and_flow_mapping() -> None:
    text = (
        "metrics:\n  - id: a\n    name: A  # keep\n    caliber: {time: 月}\n"
        "  - id: b\n    name: B\n"
    )
    out = patch(text, 2, {("caliber", "rules"): ["r"], ("unit",): "元"}, ["id", "name", "unit"])
    data = load_yaml(out)
    assert data["metrics"][0]["caliber"] == {"time": "月", "rules": ["r"]}
    assert data["metrics"][0]["unit"] == "元" and "# keep" in out
    assert data["metrics"][1] == {"id": "b", "name": "B"}


def test_patch_refuses_what_it_cannot_do_in_place() -> None:
    with pytest.raises(YamlEditError):
        patch("- id: a\n  name: A\n", 1, {("id",): None})


TEXT = st.text(
    alphabet=st.sampled_from(list("ab 甲:#-'\"[]{},\n\t|>!&*%@`")), min_size=1, max_size=12
)
FIELDS = st.sampled_from(
    [
        ("definition",),
        ("unit",),
        ("sql",),
        ("caliber", "time"),
        ("caliber", "numerator", "excludes"),
        ("caveats",),
        ("use_cases",),
        ("atomic",),
        ("contacts", "business"),
        ("status",),
    ]
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    changes=st.dictionaries(
        FIELDS, st.one_of(st.none(), TEXT, st.lists(TEXT, max_size=4)), max_size=4
    )
)
def test_patch_reads_back_as_expected(changes: dict[tuple[str, ...], Any]) -> None:
    """Any values, even hostile text: the patched file parses to exactly the expected
    document (patch checks it), and keys that were not edited keep their lines."""
    out = patch(ATP, 2, changes, ORDER)
    data = normalized(load_yaml(out))
    for path, value in changes.items():
        got: Any = data
        for key in path:
            got = got.get(key) if isinstance(got, dict) else None
        assert normalized(got) == normalized(value) or (got is None and not value)
    assert "review_policy: 每半年审查一次，如需调整须经数据治理委员会批准" in out
