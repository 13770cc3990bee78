"""The inventory (指标梳理清单, issue 28): the computed status on the five-客单价 catalog before
and after the conflict is resolved, the 统一度 history by revision, the Excel round trip."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from analysis.inventory import DefinitionState, inventory, unified_history
from cli import cli
from core import i18n
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from loaders.excel.inventory import (
    export_inventory,
    import_inventory,
    read_inventory,
)
from loaders.excel.sheets import ExcelImportError
from store.embedded import EmbeddedStore
from tests.helpers import CATALOGS, write_catalog

FIVE = CATALOGS / "five_stores_atp"
ATPS = ("atp_guangzhou", "atp_shanghai", "atp_beijing", "atp_chengdu", "atp_hangzhou")


def resolved(tmp_path: Path) -> Path:
    """The committee's decision: 广州's definition is the one; the other four are archived."""
    root = tmp_path / "resolved"
    shutil.copytree(FIVE, root)
    path = root / "metrics" / "five_atps.yaml"
    text = path.read_text(encoding="utf-8")
    for store in ATPS[1:]:
        head = f"  - id: {store}\n"
        at = text.index(head)
        status = text.index("    status: active\n", at)
        text = text[:status] + "    status: deprecated\n" + text[status + 19 :]
    path.write_text(text, encoding="utf-8")
    return root


def test_five_atps_are_not_unified_then_unified(tmp_path: Path) -> None:
    before = {r.id: r for r in inventory(load_catalog(FIVE)).rows}
    assert {before[a].state for a in ATPS} == {DefinitionState.CONFLICTING}
    assert before["atp_guangzhou"].cells() == ["L1", "客单价", "门店运营", "P0", "❌ 定义不统一"]
    assert "atp_shanghai" in before["atp_guangzhou"].reasons[0]

    after = inventory(load_catalog(resolved(tmp_path)))
    rows = {r.id: r for r in after.rows}
    assert rows["atp_guangzhou"].state is DefinitionState.UNIFIED
    assert not set(ATPS[1:]) & set(rows)  # archived: off the list


def test_rows_are_sorted_p0_first_and_the_figure(tmp_path: Path) -> None:
    inv = inventory(load_catalog(FIVE))
    priorities = [r.priority for r in inv.rows]
    assert priorities == sorted(priorities, key=lambda p: {"P0": 0, "P1": 1}.get(p or "", 2))
    ok = sum(r.ok for r in inv.rows)
    assert inv.unified == round(ok / len(inv.rows), 4)
    assert inv.core_unified == inv.unified  # every row of this catalog is P0 or P1


def test_draft_and_incomplete_cards_are_not_unified(tmp_path: Path) -> None:
    root = write_catalog(
        tmp_path,
        {
            "metrics/x.yaml": "id: x\nname: 工位周转率\nlevel: L2\nstatus: draft\ndefinition: 甲\n",
            "metrics/y.yaml": "id: y\nname: 毛利率\nlevel: L1\nowner: finance\ndefinition: 乙\n",
        },
    )
    rows = {r.id: r for r in inventory(load_catalog(root)).rows}  # the catalog speaks zh
    assert rows["x"].state is DefinitionState.MISSING and rows["x"].reasons[0] == "草稿"
    assert rows["y"].state is DefinitionState.MISSING
    assert rows["y"].reasons[0].startswith("卡片不完整：") and "caliber" in rows["y"].reasons[0]
    with i18n.use("en"):  # the sections the card misses are found in either language's message
        rows = {r.id: r for r in inventory(load_catalog(root)).rows}
    assert rows["x"].reasons[0] == "draft"
    assert rows["y"].reasons[0].startswith("card incomplete: caliber")
    assert "misses" not in rows["y"].reasons[0]


def test_unified_history_by_revision(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.load(load_catalog(FIVE))
    store.load(load_catalog(resolved(tmp_path)))
    points = unified_history(store)
    assert [p.revision for p in points] == [1, 2]
    assert points[0].unified is not None and points[1].unified is not None
    assert points[1].unified > points[0].unified


def test_excel_round_trip(tmp_path: Path) -> None:
    inv = inventory(load_catalog(CATALOGS / "automotive_aftersales"))
    book = export_inventory(inv, tmp_path / "inv.xlsx")
    entries = read_inventory(book)
    assert [(e.level, e.name, e.domain, e.priority, e.id) for e in entries] == [
        (r.level, r.name, r.domain, r.priority, r.id) for r in inv.rows
    ]
    # into a catalog that has three of these names: every other name becomes a draft
    root = write_catalog(tmp_path / "cat")
    done = import_inventory(book, root)
    assert set(done.existing) == {"营收", "进厂台次", "客单价"} & {r.name for r in inv.rows}
    graph = load_catalog(root)
    drafts = {n.name: n for n in graph.nodes if isinstance(n, Metric) and n.status.value == "draft"}
    expected = {r.name: r for r in inv.rows if r.name not in done.existing}
    assert set(drafts) == set(expected)
    for name, row in expected.items():
        assert (drafts[name].id, drafts[name].level and drafts[name].level.value) == (
            row.id,
            row.level,
        )
        assert drafts[name].priority is not None or row.priority is None
    again = {r.name: r.state for r in inventory(graph).rows}
    assert {again[n] for n in expected} == {DefinitionState.MISSING}  # drafts: not yet defined
    second = import_inventory(book, root)  # every name is there now: nothing to add
    assert second.file is None and second.created == [] and len(second.existing) == len(inv.rows)


def test_the_seed_table_without_ids_imports(tmp_path: Path) -> None:
    """Seed 001's 指标梳理清单模板 as a company types it."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["指标级别", "指标名称", "所属领域", "优先级", "当前是否有定义"])
    ws.append(["L0", "客户留存率", "客户运营", "P0", "❌ 无统一定义"])
    ws.append(["L1", "进厂台次", "门店运营", "P0", "❌ 定义不统一"])
    ws.append(["L2", "工位周转率", "门店运营", "P1", "❌ 无定义"])
    book.save(tmp_path / "seed.xlsx")
    root = write_catalog(tmp_path / "cat")
    done = import_inventory(tmp_path / "seed.xlsx", root)
    assert done.existing == ["进厂台次"] and len(done.created) == 2
    rows = {r.name: r for r in inventory(load_catalog(root)).rows}
    assert rows["客户留存率"].cells()[:4] == ["L0", "客户留存率", "客户运营", "P0"]


@pytest.mark.parametrize(
    ("row", "where"),
    [
        (["L9", "甲", "", "P0"], "column A (A2)"),
        (["L1", "甲", "", "P7"], "column D (D2)"),
        (["L1", '=HYPERLINK("http://x")', "", "P0"], "column B (B2)"),
    ],
)
def test_bad_cells_are_named(tmp_path: Path, row: list[str], where: str, english: None) -> None:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["指标级别", "指标名称", "所属领域", "优先级"])
    ws.append(row)
    book.save(tmp_path / "bad.xlsx")
    root = write_catalog(tmp_path / "cat")
    before = sorted(p.name for p in (root / "metrics").rglob("*"))
    with pytest.raises(ExcelImportError) as err:
        import_inventory(tmp_path / "bad.xlsx", root)
    assert where in str(err.value)
    assert sorted(p.name for p in (root / "metrics").rglob("*")) == before  # nothing written


def test_cli(tmp_path: Path) -> None:
    db = tmp_path / "k.sqlite"
    runner = CliRunner()
    assert runner.invoke(cli, ["load", str(FIVE), "--db", str(db)]).exit_code == 0
    result = runner.invoke(cli, ["inventory", "--db", str(db), "--history"])
    assert result.exit_code == 0, result.output
    assert "❌ 定义不统一" in result.output and "指标定义统一度" in result.output
    result = runner.invoke(cli, ["inventory", "--db", str(db), "--json"])
    assert '"unified"' in result.output
