"""The kpigraph CLI, run as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import DEMO, ROOT, write_catalog


def run(*args: str, db: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_BACKEND": "embedded"}
    env.pop("KPIGRAPH_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.sqlite"
    run("load", str(DEMO), db=path)
    return path


def test_impact_json_names_what_governance_needs(db: Path) -> None:
    data = json.loads(run("impact", "atp", "--json", db=db).stdout)
    metrics = {m["ref"] for m in data["metrics"]}
    assert {"Metric:revenue", "Metric:gross_profit", "Metric:net_profit"} <= metrics
    assert data["influences_l0"] is True
    assert {d["ref"] for d in data["dashboards"]} == {
        "Dashboard:mobile_board",
        "Dashboard:store_ops_pc",
        "Dashboard:decision_screen",
    }
    assert {d["ref"] for d in data["departments"]} == {"Department:finance", "Department:ops"}
    assert set(data) == {"root", "metrics", "dashboards", "departments"} | {
        "touches_l0",
        "influences_l0",
    }


def test_lineage_json_contract(db: Path) -> None:
    data = json.loads(
        run(
            "lineage",
            "atp",
            "--direction",
            "upstream",
            "--depth",
            "1",
            "--relations",
            "INPUT_TO",
            "--json",
            db=db,
        ).stdout
    )
    assert data["root"] == "Metric:atp" and data["direction"] == "upstream" and data["depth"] == 1
    assert [n["ref"] for n in data["nodes"]] == ["Metric:revenue", "Metric:visits"]
    assert {"ref", "kind", "id", "name", "depth"} <= set(data["nodes"][0])
    assert data["edges"][0] == {
        "source": "Metric:revenue",
        "target": "Metric:atp",
        "type": "INPUT_TO",
        "props": {"role": "numerator"},
    }


def test_lineage_defaults_and_kinds(db: Path) -> None:
    data = json.loads(
        run(
            "lineage", "Field:dms.dms_orders.total_amount", "--kinds", "Metric", "--json", db=db
        ).stdout
    )
    assert data["direction"] == "both" and data["depth"] == 3
    assert {n["kind"] for n in data["nodes"]} == {"Metric"}


def test_tables_align_chinese(db: Path) -> None:
    text = run("lineage", "atp", "--direction", "upstream", "--depth", "1", db=db).stdout
    rows = [
        line for line in text.splitlines() if "Metric:revenue" in line or "Metric:visits" in line
    ]
    assert len(rows) == 2
    from rich.cells import cell_len

    # every bordered row renders to the same display width, wide CJK characters included
    bordered = [line for line in text.splitlines() if line.startswith(("│", "┃", "┏", "└"))]
    assert len({cell_len(line) for line in bordered}) == 1


def test_show_card_and_path_and_search(db: Path) -> None:
    card = run("show", "atp", db=db).stdout
    for label in (
        "名称",
        "统计口径",
        "分母不含",
        "取数逻辑",
        "行业基准",
        "版本记录",
        "咨询联系",
    ):
        assert label in card
    data = json.loads(run("show", "Metric:atp", "--json", db=db).stdout)
    assert data["node"]["contacts"]["technical"] == "IT部 李工程师"
    paths = json.loads(run("path", "visits", "net_profit", "--json", db=db).stdout)
    assert paths["paths"][0]["length"] == 2
    found = json.loads(run("search", "ATP", "--json", db=db).stdout)
    assert found["items"][0]["ref"] == "Metric:atp"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lineage", "revenu"], "是否想找 Metric:revenue"),  # the demo speaks zh
        (["lineage", "atp", "--depth", "11"], "深度必须是 1 到 10 之间的整数"),
        (["lineage", "atp", "--relations", "FOO"], "关系 'FOO' 未知"),
        (["show", "Nope:x"], "节点类型 'Nope' 未知"),
        (["impact", "Metric:x') DETACH DELETE n //"], "Metric ID"),
    ],
)
def test_errors_are_one_clear_line(db: Path, args: list[str], message: str) -> None:
    proc = run(*args, db=db, check=False)
    # a name the catalog does not have is a usage error (exit 2); the others fail (exit 1)
    assert proc.returncode == (2 if "是否想找" in message else 1)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


BAD_CATALOGS: dict[str, dict[str, str | bytes | None]] = {
    "broken_yaml": {"metrics/x.yaml": "id: x\nname: [\n"},
    "missing_name": {"metrics/x.yaml": "id: x\n"},
    "bad_id": {"metrics/x.yaml": "id: X-1\nname: x\n"},
    "duplicate": {"metrics/x.yaml": "id: atp\nname: x\n"},
    "typo_key": {"metrics/x.yaml": "id: x\nname: x\nonwer: ops\n"},
    "unknown_ref": {"metrics/x.yaml": "id: x\nname: x\nowner: nobody\n"},
    "formula_syntax": {"metrics/x.yaml": "id: x\nname: x\nformula: revenue *\n"},
    "cycle": {"metrics/revenue.yaml": "id: revenue\nname: 营收\nformula: atp * 2\n"},
    "not_utf8": {"metrics/x.yaml": "id: x\nname: 中文\n".encode("gbk")},
    "garbage_10mb": {"metrics/x.yaml": os.urandom(10 * 1024 * 1024)},
}


@pytest.mark.parametrize("case", sorted(BAD_CATALOGS))
def test_bad_catalog_fails_and_leaves_store_unchanged(db: Path, tmp_path: Path, case: str) -> None:
    before = json.loads(run("info", "--json", db=db).stdout)
    bad = write_catalog(tmp_path / case, BAD_CATALOGS[case])
    proc = run("--lang", "en", "load", str(bad), db=db, check=False)
    assert proc.returncode == 1
    assert "nothing was loaded" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "metrics/" in proc.stderr  # names the file
    after = json.loads(run("info", "--json", db=db).stdout)
    assert after == before


@pytest.mark.usefixtures("english")  # the English messages (the catalog says no language: zh)
def test_empty_catalog_and_missing_dir(db: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "kpigraph.yaml").write_text("name: e\n", encoding="utf-8")
    proc = run("load", str(tmp_path / "empty"), db=db, check=False)
    assert proc.returncode == 1 and "defines no metrics" in proc.stderr
    proc = run("validate", str(tmp_path / "nowhere"), db=db, check=False)
    assert proc.returncode == 1 and "no such directory" in proc.stderr


def test_nothing_loaded_yet(tmp_path: Path) -> None:
    proc = run("impact", "atp", db=tmp_path / "fresh.sqlite", check=False)
    assert proc.returncode == 1
    assert "请先运行 'kpigraph load CATALOG_DIR'" in proc.stderr  # zh: no catalog to say otherwise


def test_directory_commands_speak_the_catalogs_language(tmp_path: Path) -> None:
    """validate, lint and load answer in the language of the files they read (an English
    catalog into an empty store: the store has no language yet)."""
    db = tmp_path / "en.sqlite"
    target = tmp_path / "en"
    run("init", str(target), db=db)
    manifest = target / "kpigraph.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("language: zh", "language: en"),
        encoding="utf-8",
    )
    assert "language: en" in manifest.read_text(encoding="utf-8")
    assert "is valid" in run("validate", str(target), db=db).stdout
    assert "lint: 0 errors" in run("lint", str(target), db=db).stdout
    loaded = run("load", str(target), db=db)
    assert "recorded revision 1" in loaded.stdout and "done in" in loaded.stdout
    assert "没有变化" in run("--lang", "zh", "load", str(target), db=db).stdout
    (target / "metrics" / "broken.yaml").write_text("id: [\n", encoding="utf-8")
    refused = run("load", str(target), db=db, check=False)  # reported after the command ended
    assert refused.returncode == 1 and "nothing was loaded" in refused.stderr, refused.stderr
    refused = run("--lang", "zh", "load", str(target), db=db, check=False)
    assert "未载入任何内容" in refused.stderr, refused.stderr


def test_init_validate_load_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    target = tmp_path / "mine"
    assert "创建目录" in run("init", str(target), db=db).stdout  # the scaffold speaks zh
    assert "校验通过" in run("validate", str(target), db=db).stdout
    assert "is valid" in run("--lang", "en", "validate", str(target), db=db).stdout
    run("load", str(target), db=db)
    assert (
        json.loads(run("impact", "revenue", "--json", db=db).stdout)["metrics"][0]["ref"]
        == "Metric:atp"
    )
    proc = run("init", str(target), db=db, check=False)
    assert proc.returncode == 1 and "不是空文件夹" in proc.stderr  # the new catalog speaks zh
    templated = tmp_path / "demo"
    run("init", str(templated), "--template", "automotive_aftersales", db=db)
    assert (templated / "metrics" / "revenue" / "atp.yaml").is_file()
    proc = run("init", str(tmp_path / "t2"), "--template", "nope", db=db, check=False)
    assert proc.returncode == 1 and "automotive_aftersales" in proc.stderr


def test_validate_reports_every_issue(tmp_path: Path) -> None:
    bad = write_catalog(
        tmp_path / "bad",
        {
            "metrics/a.yaml": "id: a\nname: a\nformla: x\n",
            "metrics/b.yaml": "id: b\nname: b\nowner: x\n",
        },
    )
    proc = run("validate", str(bad), db=tmp_path / "db.sqlite", check=False)
    assert proc.returncode == 1
    assert "metrics/a.yaml:3" in proc.stderr and "metrics/b.yaml:3" in proc.stderr
    assert "目录中有 2 个问题；未载入任何内容" in proc.stderr  # the catalog's language (zh)


def test_diff_speaks_the_language_of_the_catalogs_it_compares(tmp_path: Path) -> None:
    """Two English catalogs compared with an empty (or a zh) store: an English report (it
    spoke the store's zh; found following the README with two dbt-imported catalogs)."""
    db = tmp_path / "empty.sqlite"
    old, new = tmp_path / "old", tmp_path / "new"
    for target in (old, new):
        run("init", str(target), db=db)
        manifest = target / "kpigraph.yaml"
        text = manifest.read_text(encoding="utf-8").replace("language: zh", "language: en")
        manifest.write_text(text, encoding="utf-8")
    metric = new / "metrics" / "visits.yaml"
    text = metric.read_text(encoding="utf-8").replace("unit: 台次", "unit: 台次\ncaveats: [new]", 1)
    metric.write_text(text, encoding="utf-8")
    report = run("diff", str(old), str(new), db=db, check=False).stdout
    assert "metrics by class" in report and "按变更级别" not in report, report
    zh = run("--lang", "zh", "diff", str(old), str(new), db=db, check=False).stdout
    assert "按变更级别" in zh, zh
