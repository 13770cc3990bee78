"""Diff reports (changes, impact, approvals, CI gate, Markdown), ``git:`` sides and the
five stores' 客单价 compared (issue #13 §3)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from analysis.compare import compare_metrics
from analysis.diff import COMMITTEE, diff_catalogs
from analysis.results import Via
from graph_schema.errors import SourceSpecError
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from loaders.git_source import load_git_catalog, parse_git_spec, source_info
from tests.helpers import DEMO, write_catalog
from viz.diff_markdown import diff_markdown

ATP_V2 = (
    "id: atp\nname: 客单价\nabbr: ATP\nlevel: L1\nowner: ops\nreviewer: finance\n"
    "formula: revenue / visits\nunit: 元\nversion: {version}\n"
)


def _catalogs(tmp_path: Path, version: str = "1.0.0") -> tuple[Path, Path]:
    old = write_catalog(tmp_path / "old", {"metrics/atp.yaml": ATP_V2.format(version="1.0.0")})
    new = write_catalog(
        tmp_path / "new",
        {"metrics/atp.yaml": ATP_V2.format(version=version).replace("unit: 元", "unit: 千元")},
    )
    return old, new


@pytest.mark.usefixtures("english")  # the English words (no catalog language: zh)
def test_diff_lists_the_change_its_class_and_the_version_to_write(tmp_path: Path) -> None:
    old, new = _catalogs(tmp_path)
    report = diff_catalogs(load_catalog(old), load_catalog(new), "old", "new")
    [change] = report.nodes
    assert (change.ref, change.change_class, change.required_version, change.version_ok) == (
        "Metric:atp",
        "major",
        "2.0.0",
        False,
    )
    assert [(f.field, f.old, f.new) for f in change.fields] == [("unit", "元", "千元")]
    assert report.problems == ["atp: unit changed (major) — set version: 2.0.0 (now 1.0.0)"]
    assert report.fails(None) and report.fails("minor")


def test_fail_on_levels(tmp_path: Path) -> None:
    old, new = _catalogs(tmp_path, version="2.0.0")
    report = diff_catalogs(load_catalog(old), load_catalog(new))
    assert report.problems == []
    assert not report.fails(None)
    assert report.fails("major") and report.fails("minor") and report.fails("any")
    patch = write_catalog(
        tmp_path / "patch",
        {"metrics/atp.yaml": ATP_V2.format(version="1.0.1") + "definition: 平均每台次消费\n"},
    )
    small = diff_catalogs(load_catalog(old), load_catalog(patch))
    assert small.classes == {"patch": 1}
    assert not small.fails("major") and not small.fails("minor") and small.fails("any")
    same = diff_catalogs(load_catalog(old), load_catalog(old))
    assert same.empty and not same.fails("any")


def test_impact_of_a_diff_recomputes_and_influences_apart() -> None:
    """Changing revenue's formula: atp is recomputed (revenue is an input of atp); the
    committee must approve (revenue is L1), owner and reviewer departments too."""
    old = load_catalog(DEMO)
    revenue = next(n for n in old.nodes if n.id == "revenue")
    assert isinstance(revenue, Metric)
    changed = revenue.model_copy(update={"unit": "千元", "version": "2.0.0"})
    new = type(old)(old.name, tuple(changed if n is revenue else n for n in old.nodes), old.edges)
    report = diff_catalogs(old, new)
    assert report.problems == []
    by_ref = {m.ref: m for m in report.impact.metrics}
    assert by_ref["Metric:atp"].via is Via.DEFINITION
    assert by_ref["Metric:atp"].path == ["Metric:revenue", "Metric:atp"]
    assert by_ref["Metric:atp"].because == ["Metric:revenue"]
    assert report.impact.touches_l0  # net_profit_margin = … / revenue: an L0, recomputed
    approvers = [a.approver for a in report.impact.approvals]
    assert approvers[-1] == COMMITTEE
    assert "Department:finance" in approvers
    vias = [m.via for m in report.impact.metrics]
    assert vias == sorted(vias, key=lambda v: v is Via.INFLUENCE)  # recomputed first


def test_markdown_escapes_catalog_text(tmp_path: Path) -> None:
    old, _ = _catalogs(tmp_path)
    evil = write_catalog(
        tmp_path / "evil",
        {
            "metrics/atp.yaml": ATP_V2.format(version="1.0.1")
            + "definition: 'a | b <img src=x onerror=alert(1)> `code`'\n"
        },
    )
    text = diff_markdown(diff_catalogs(load_catalog(old), load_catalog(evil), "old", "new"))
    assert "<img" not in text and "&lt;img" in text
    assert "a \\| b" in text
    assert "| `atp` | 修改 | **文字修订** | 1.0.0 → 1.0.1 |" in text  # zh: the default


def test_five_stores_atp_compared() -> None:
    """Seed 001: 广州店 总营收/进厂台次 (工时+配件+增值服务) vs 上海店 总营收/有效工单数
    (…+保险理赔): different numbers, so the comparison is 'major'."""
    gz = Metric(
        id="atp_guangzhou",
        name="客单价（广州店）",
        formula="revenue / visits",
        unit="元",
        caliber={
            "numerator": {"includes": ["工时", "配件", "增值服务"]},
            "denominator": {"includes": ["保养", "维修", "钣喷"]},
        },
    )
    sh = Metric(
        id="atp_shanghai",
        name="客单价（上海店）",
        formula="revenue_with_insurance / valid_orders",
        unit="元",
        caliber={
            "numerator": {"includes": ["工时", "配件", "增值服务", "保险理赔"]},
            "denominator": {"includes": ["消费金额>100元的工单"]},
        },
    )
    c = compare_metrics(gz, sh)
    assert c.change_class == "major"
    assert c.differing == ["name", "formula", "caliber.numerator", "caliber.denominator"]
    rows = {r.field: r for r in c.rows}
    assert rows["unit"].same
    assert rows["caliber.numerator"].only_b == ["包含：保险理赔"]
    assert rows["caliber.denominator"].only_a == [
        "包含：保养",
        "包含：维修",
        "包含：钣喷",
    ]


# -- git: sides ---------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_git_side_reads_a_commit_without_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_catalog(repo / "catalog", {"metrics/atp.yaml": ATP_V2.format(version="1.0.0")})
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "v1")
    (repo / "catalog/metrics/atp.yaml").write_text(ATP_V2.format(version="2.0.0"))
    committed = load_git_catalog("git:HEAD:catalog", cwd=repo)
    atp = next(n for n in committed.nodes if n.id == "atp")
    assert isinstance(atp, Metric) and atp.version == "1.0.0"  # HEAD, not the work tree
    assert (repo / "catalog/metrics/atp.yaml").read_text().count("2.0.0") == 1  # untouched
    inside = load_git_catalog("git:HEAD", cwd=repo / "catalog")  # PATH relative to cwd
    assert len(inside.nodes) == len(committed.nodes)
    info = source_info(repo / "catalog")
    assert info["dirty"] is True and len(info["git_commit"]) == 40


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("git:", "no revision"),
        ("git::catalog", "no revision"),
        ("git:--output=x", "is not a revision"),
        ("git:HEAD:/etc", "must be relative"),
        ("git:nosuchrev:catalog", "unknown revision 'nosuchrev'"),
        ("git:HEAD:missing", "no kpigraph catalog at 'missing'"),
    ],
)
def test_bad_git_specs_say_what_is_wrong(
    tmp_path: Path, spec: str, message: str, english: None
) -> None:
    repo = tmp_path / "repo"
    write_catalog(repo / "catalog")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "v1")
    with pytest.raises(SourceSpecError, match=message):
        load_git_catalog(spec, cwd=repo)


def test_git_side_outside_a_repository(tmp_path: Path, english: None) -> None:
    with pytest.raises(SourceSpecError, match="not inside a git repository"):
        load_git_catalog("git:HEAD", cwd=tmp_path)
    assert parse_git_spec("git:v1.2:a/b") == ("v1.2", "a/b")
