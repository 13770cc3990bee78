"""``kpigraph load`` with revisions, ``history``, ``diff``, ``compare`` and ``show --at``, run as
a user runs them: a real process, real files, exit codes (issue #13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import write_catalog
from tests.unit.test_cli import run

ATP = (
    "id: atp\nname: 客单价\nabbr: ATP\nlevel: L1\nowner: ops\nreviewer: finance\n"
    "formula: {formula}\nversion: {version}\n"
)


def _cat(root: Path, formula: str = "revenue / visits", version: str = "1.1.0") -> Path:
    return write_catalog(root, {"metrics/atp.yaml": ATP.format(formula=formula, version=version)})


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "h.sqlite"
    cat = _cat(tmp_path / "cat")
    out = run("load", str(cat), "--author", "张经理", "-m", "初始导入", "--json", db=db)
    assert json.loads(out.stdout)["revision"] == 1
    return db, cat


def test_reload_records_nothing_and_says_so(loaded: tuple[Path, Path]) -> None:
    db, cat = loaded
    out = run("--lang", "en", "load", str(cat), db=db)
    assert "no changes: nothing recorded (revision 1 is current; its catalog files are" in (
        out.stdout
    )


def test_unbumped_formula_change_is_refused_with_the_version_to_write(
    loaded: tuple[Path, Path], tmp_path: Path
) -> None:
    db, _ = loaded
    changed = _cat(tmp_path / "b", formula="revenue / visits / 2")
    out = run("load", str(changed), db=db, check=False)
    assert out.returncode == 1
    # in the demo catalog's language (zh)
    assert "atp：formula 有变化（重大变更）— 请把 version 设为 2.0.0（现在是 1.1.0）" in out.stderr
    assert json.loads(run("history", "--json", db=db).stdout)[0]["number"] == 1  # unchanged
    run("load", str(changed), "--no-version-check", "-m", "迁移", db=db)
    listing = run("history", "atp", db=db).stdout
    assert "r2" in listing and "--no-version-check" in listing and "迁移" in listing
    assert "formula: revenue / visits → revenue / visits / 2" in listing
    then = json.loads(run("show", "atp", "--at", "1", "--json", db=db).stdout)
    assert then["node"]["formula"] == "revenue / visits"


def test_diff_gate_and_formats(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    db, cat = loaded
    bumped = _cat(tmp_path / "c", formula="revenue / visits / 2", version="2.0.0")
    assert run("diff", str(cat), str(cat), "--fail-on", "any", db=db).returncode == 0
    gate = run("diff", "store", str(bumped), "--fail-on", "major", db=db, check=False)
    assert gate.returncode == 1 and "Metric:atp 重大变更" in gate.stdout
    assert run("diff", "store", str(bumped), "--fail-on", "minor", db=db, check=False).returncode
    assert run("diff", "store", str(bumped), db=db).returncode == 0  # versions are fine
    html = tmp_path / "report.html"
    md = run("diff", "store", str(bumped), "--markdown", "--html", str(html), db=db).stdout
    assert "| `atp` | 修改 | **重大变更** | 1.1.0 → 2.0.0 |" in md  # the catalog speaks zh
    assert "数据治理委员会" in html.read_text(encoding="utf-8")
    report = json.loads(run("diff", "store", str(bumped), "--json", db=db).stdout)
    assert report["classes"] == {"major": 1}
    assert [n["required_version"] for n in report["nodes"]] == ["2.0.0"]


def test_compare_and_bad_input(loaded: tuple[Path, Path]) -> None:
    db, _ = loaded
    body = json.loads(run("compare", "atp", "revenue", "--json", db=db).stdout)
    assert body["change_class"] == "major" and "formula" in body["differing"]
    for args, message in [
        (("diff", "nowhere", "store"), "'nowhere' 不是目录"),
        (("diff", "git::x", "store"), "没有版本"),
        (("diff", "rev:x", "store"), "请写成 rev:N"),
        (("diff", "rev:9", "store"), "没有修订 9；修订号为 1 到 1"),
        (("show", "atp", "--at", "9"), "没有修订 9"),
        (("history", "Metric:nosuch"), "找不到 Metric:nosuch"),  # the demo speaks zh (exit 2)
        (("compare", "atp", "Dimension:time"), "不是指标"),
    ]:
        out = run(*args, db=db, check=False)
        usage = args[0] == "history"  # a node the catalog does not have: what was typed
        assert out.returncode == (2 if usage else 1), (args, out.stdout, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


@pytest.mark.parametrize("command", ["history", "diff", "compare"])
def test_help(command: str, tmp_path: Path) -> None:
    said = run(command, "--help", db=tmp_path / "x.sqlite").stdout
    assert "Usage:" in said or "用法：" in said, said  # the language asked for, else zh
