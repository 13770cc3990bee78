"""`kpigraph import` / `kpigraph export` from the command line: help, a full round trip, and
one clear error line per problem with a non-zero exit and nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# the commands' English lines are read here (KPIGRAPH_LANG=en reaches the subprocesses)
pytestmark = pytest.mark.usefixtures("english")

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "catalogs" / "automotive_aftersales"
PROJECT = ROOT / "tests" / "fixtures" / "dbt_project"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KPIGRAPH_DEBUG"}
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=180,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


@pytest.mark.parametrize(
    "args",
    [
        ("import", "--help"),
        ("import", "dbt", "--help"),
        ("import", "excel", "--help"),
        ("export", "--help"),
        ("export", "dbt", "--help"),
        ("export", "excel", "--help"),
        ("export", "graph", "--help"),
    ],
)
def test_help(args: tuple[str, ...]) -> None:
    assert "Usage:" in run(*args).stdout


def test_dbt_to_catalog_to_excel_and_back(tmp_path: Path) -> None:
    report = run("import", "dbt", str(PROJECT), "-o", str(tmp_path / "c"), "--json").stdout
    data = json.loads(report)
    assert data["counts"]["metrics"] == 9
    assert "filter" in data["extra_summary"]
    run("export", "excel", str(tmp_path / "c"), "-o", str(tmp_path / "c.xlsx"))
    run("import", "excel", str(tmp_path / "c.xlsx"), "-o", str(tmp_path / "back"))
    assert run("validate", str(tmp_path / "back"), "--no-lint").returncode == 0
    out = run("export", "dbt", str(tmp_path / "back"), "-o", str(tmp_path / "dbt")).stdout
    assert "parsed back: 9" in out


def test_export_format_shorthand(tmp_path: Path) -> None:
    out = run("export", "--format", "json", str(DEMO)).stdout
    assert json.loads(out)["catalog"]["name"]
    run("export", "--format", "neo4j-cypher", str(DEMO), "-o", str(tmp_path / "g.cypher"))
    assert (tmp_path / "g.cypher").read_text(encoding="utf-8").startswith("// kpigraph export")
    again = run(
        "export", "--format", "graphml", str(DEMO), "-o", str(tmp_path / "g.cypher"), check=False
    )
    assert again.returncode != 0 and "exists" in again.stderr


def test_corrupt_manifest_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.json"
    bad.write_text('{"nodes": {')
    proc = run("import", "dbt", str(bad), "-o", str(tmp_path / "c"), check=False)
    assert proc.returncode == 1
    assert "manifest.json:1: corrupt JSON" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "c").exists()


def test_bad_workbook_lists_cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openpyxl import load_workbook

    monkeypatch.delenv("KPIGRAPH_LANG")  # this one reads the default language (zh) too
    run("export", "excel", str(DEMO), "-o", str(tmp_path / "c.xlsx"))
    book = load_workbook(tmp_path / "c.xlsx")
    book["部门"].delete_cols(1)
    book.save(tmp_path / "c.xlsx")
    proc = run("import", "excel", str(tmp_path / "c.xlsx"), "-o", str(tmp_path / "c"), check=False)
    assert proc.returncode == 1
    # a workbook says no language: zh by default, --lang en for English
    assert "工作表 '部门' 第 1 行: 缺少列 'ID (id)'" in proc.stderr, proc.stderr
    assert "error:" not in proc.stderr and "Field required" not in proc.stderr
    proc = run(
        "--lang",
        "en",
        "import",
        "excel",
        str(tmp_path / "c.xlsx"),
        "-o",
        str(tmp_path / "c"),
        check=False,
    )
    assert "sheet '部门' row 1: missing column 'ID (id)'" in proc.stderr
    assert "id: is required" in proc.stderr and "problems; nothing was written" in proc.stderr
    assert not (tmp_path / "c").exists()


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    proc = run("import", "dbt", str(PROJECT), "--dry-run", "--json")
    data = json.loads(proc.stdout)
    assert data["out"] is None and data["counts"]["catalog_metrics"] == 10
    no_out = run("import", "dbt", str(PROJECT), check=False)
    assert no_out.returncode != 0 and "pass -o" in no_out.stderr


def test_metricflow_round_trip_from_the_command_line(tmp_path: Path) -> None:
    """The README's walk: `import dbt` of MetricFlow's test project, `export dbt`, `import dbt`
    of the export — the same metric files back (the input metrics two metrics share under the
    same ids), the schema written as the project spelled it."""
    from tests.unit.test_dbt_export import MF

    run("import", "dbt", str(MF), "-o", str(tmp_path / "c"))
    exported = run("export", "dbt", str(tmp_path / "c"), "-o", str(tmp_path / "dbt"))
    assert "metrics: 110, metrics made from measures: 3, semantic models: 12" in exported.stdout
    model = (tmp_path / "dbt" / "models" / "source_schema" / "fct_bookings.yml").read_text()
    assert "schema: $source_schema" in model
    run("import", "dbt", str(tmp_path / "dbt"), "-o", str(tmp_path / "c2"))
    first = sorted(p.relative_to(tmp_path / "c") for p in (tmp_path / "c").rglob("*.yaml"))
    again = sorted(p.relative_to(tmp_path / "c2") for p in (tmp_path / "c2").rglob("*.yaml"))
    assert again == first
    for rel in first:
        if rel.parts[0] == "metrics":
            assert (tmp_path / "c2" / rel).read_text() == (tmp_path / "c" / rel).read_text(), rel
