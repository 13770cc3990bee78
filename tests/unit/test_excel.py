"""Excel in and out: catalog → xlsx → catalog is lossless on both demo catalogs; a committee's
edits come back; bad workbooks are refused with sheet/row/column and nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from graph_schema.errors import CatalogError
from graph_schema.graph import CatalogGraph
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from loaders.catalog_writer import CatalogWriteError
from loaders.dbt import import_dbt
from loaders.excel import ExcelImportError, export_excel, import_excel
from loaders.excel import layout as L

#: the importer's English messages (a workbook says no language: zh by default); the
#: Chinese ones: test_a_chinese_workbook_is_told_in_chinese
pytestmark = pytest.mark.usefixtures("english")

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "catalogs"
PROJECT = ROOT / "tests" / "fixtures" / "dbt_project"


def comparable(graph: CatalogGraph) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """Every node's full properties, every edge, the catalog settings (not where it was read)."""
    nodes = {str(n.ref): n.model_dump(mode="json") for n in graph.nodes}
    edges = sorted(str(e.to_json()) for e in graph.edges)
    meta = {k: v for k, v in graph.meta.items() if k != "source"}
    return nodes, edges, meta


@pytest.fixture(scope="module")
def demo_xlsx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("x") / "demo.xlsx"
    export_excel(CATALOGS / "automotive_aftersales", path)
    return path


ALL_CATALOGS = sorted(p.name for p in CATALOGS.iterdir() if (p / "kpigraph.yaml").is_file())


@pytest.mark.parametrize("catalog", ALL_CATALOGS)  # both demos and every industry template
def test_round_trip_is_lossless(catalog: str, tmp_path: Path) -> None:
    original = load_catalog(CATALOGS / catalog)
    count = export_excel(CATALOGS / catalog, tmp_path / "c.xlsx")
    assert import_excel(tmp_path / "c.xlsx", tmp_path / "back") == count
    assert comparable(load_catalog(tmp_path / "back")) == comparable(original)


MF = Path("/work/shared/data/metricflow_simple_manifest")
if (ROOT.parent / "shared" / "data" / "metricflow_simple_manifest").is_dir():
    MF = ROOT.parent / "shared" / "data" / "metricflow_simple_manifest"


@pytest.mark.parametrize("source", [PROJECT, MF], ids=["dbt_project", "metricflow"])
def test_round_trip_keeps_extra_of_an_imported_dbt_project(source: Path, tmp_path: Path) -> None:
    """extra.dbt (nested JSON) and ids longer than Excel's 31-character sheet names survive."""
    import_dbt(source, tmp_path / "dbt_catalog")
    export_excel(tmp_path / "dbt_catalog", tmp_path / "c.xlsx")
    import_excel(tmp_path / "c.xlsx", tmp_path / "back")
    a, b = load_catalog(tmp_path / "dbt_catalog"), load_catalog(tmp_path / "back")
    assert comparable(a) == comparable(b)


def test_workbook_layout(demo_xlsx: Path) -> None:
    book = load_workbook(demo_xlsx)
    assert book.sheetnames[:6] == list(L.FIXED_SHEETS)
    index = book[L.INDEX]
    assert index.auto_filter.ref and index.auto_filter.ref.startswith("A1:")
    headers = [c.value for c in index[1]]
    assert headers[:2] == ["ID (id)", "中文名称 (name)"]
    row = next(r for r in index.iter_rows(min_row=2) if r[0].value == "atp")
    assert row[1].value == "客单价"
    assert row[-1].hyperlink is not None and row[-1].hyperlink.location == "'atp'!A1"
    card = book["atp"]
    assert card["A1"].value == L.CARD_MARK
    sections = [r[0].value for r in card.iter_rows(min_row=3) if r[0].value]
    # seed 001's template, in its order
    assert sections[:11] == [
        "基本信息",
        "指标定义",
        "统计口径",
        "数据来源",
        "使用场景",
        "行业基准",
        "注意事项",
        "关联指标",
        "更新频率",
        "版本记录",
        "咨询联系",
    ]
    keys: dict[Any, Any] = {}
    for r in card.iter_rows(min_row=3):
        keys.setdefault(r[2].value, r)  # a list's first item
    assert keys["caliber.numerator.includes"][3].value == "工时收入"
    assert keys["contacts.business"][3].value == "运营部 张经理"
    assert keys["history[]"][3].value == "版本 (version)"


def _edit(path: Path, sheet: str, key: str, value: Any, column: int = 4) -> None:
    """Set the value of ``key`` (column C) on a card, or of a column header on a plain sheet."""
    book = load_workbook(path)
    ws = book[sheet]
    for row in ws.iter_rows(min_row=1):
        if len(row) > 2 and row[2].value == key:
            row[column - 1].value = value
            if isinstance(value, str):
                row[column - 1].data_type = "s"  # typed as text, as Excel keeps it
            break
    else:
        raise AssertionError(key)
    book.save(path)


def test_committee_edit_comes_back(demo_xlsx: Path, tmp_path: Path) -> None:
    path = tmp_path / "edited.xlsx"
    path.write_bytes(demo_xlsx.read_bytes())
    _edit(path, "atp", "definition", "=单次进厂平均消费金额")  # a leading '=' stays text
    import_excel(path, tmp_path / "back")
    atp = next(n for n in load_catalog(tmp_path / "back").nodes if n.id == "atp")
    assert isinstance(atp, Metric) and atp.definition == "=单次进厂平均消费金额"
    # and written out again, it is text, not a formula
    export_excel(tmp_path / "back", tmp_path / "again.xlsx")
    cell = next(
        r[3]
        for r in load_workbook(tmp_path / "again.xlsx")["atp"].iter_rows()
        if r[2].value == "definition"
    )
    assert cell.data_type == "s" and cell.value == "=单次进厂平均消费金额"


def test_wrong_type_names_sheet_row_column(demo_xlsx: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(demo_xlsx.read_bytes())
    book = load_workbook(path)
    card = book["atp"]
    row = next(r for r in card.iter_rows(min_row=3) if r[2].value == "status")
    row[3].value = "finished"
    bench = next(r for r in card.iter_rows(min_row=3) if r[2].value == "benchmarks[1]")
    head = next(r for r in card.iter_rows(min_row=3) if r[2].value == "benchmarks[]")
    min_col = [c.value for c in head].index("下限 (min)")
    bench[min_col].value = "a lot"
    book.save(path)
    with pytest.raises(ExcelImportError) as err:
        import_excel(path, tmp_path / "out")
    text = "\n".join(err.value.problems)
    status_row = row[3].row
    assert f"sheet 'atp' row {status_row} column D (D{status_row}): status" in text
    assert f"row {bench[0].row} column" in text and "benchmarks.0.min" in text
    assert not (tmp_path / "out").exists()


def test_index_must_agree_with_card(demo_xlsx: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(demo_xlsx.read_bytes())
    book = load_workbook(path)
    index = book[L.INDEX]
    row = next(r for r in index.iter_rows(min_row=2) if r[0].value == "atp")
    row[4].value = "L2"  # level, changed on the index only
    book.save(path)
    with pytest.raises(
        ExcelImportError,
        match=r"sheet '指标索引' row \d+ column E .*level 'L2' "
        r"differs from the card's 'L1' \(sheet 'atp' row",
    ):
        import_excel(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # or the committee says which side wins
    import_excel(path, tmp_path / "by_index", prefer="index")
    import_excel(path, tmp_path / "by_cards", prefer="cards")
    levels = {
        side: next(n for n in load_catalog(tmp_path / side).nodes if n.id == "atp").level
        for side in ("by_index", "by_cards")
    }
    assert levels == {"by_index": "L2", "by_cards": "L1"}


def test_missing_column_and_unknown_sheet(demo_xlsx: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(demo_xlsx.read_bytes())
    book = load_workbook(path)
    book[L.DEPARTMENTS].delete_cols(2)  # the name column
    book.create_sheet("Sheet1")["A1"] = "notes"
    book.save(path)
    with pytest.raises(ExcelImportError) as err:
        import_excel(path, tmp_path / "out")
    text = "\n".join(err.value.problems)
    assert "sheet '部门' row 1: missing column '中文名称 (name)'" in text
    assert "sheet 'Sheet1' row 1 column A (A1): unknown sheet 'Sheet1'" in text
    assert not (tmp_path / "out").exists()


def test_unknown_key_on_card_suggests(demo_xlsx: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(demo_xlsx.read_bytes())
    _edit(path, "atp", "unit", "levle", column=3)
    with pytest.raises(ExcelImportError, match=r"unknown key 'levle'; did you mean 'level'"):
        import_excel(path, tmp_path / "out")


def test_broken_reference_points_at_the_sheet(demo_xlsx: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(demo_xlsx.read_bytes())
    _edit(path, "atp", "owner", "nobody")
    book = load_workbook(path)
    row = next(r for r in book[L.INDEX].iter_rows(min_row=2) if r[0].value == "atp")
    row[6].value = "nobody"
    book.save(path)
    owner_row = next(r for r in book["atp"].iter_rows(min_row=3) if r[2].value == "owner")[3].row
    with pytest.raises(CatalogError) as err:
        import_excel(path, tmp_path / "out")
    text = str(err.value)
    assert f"sheet 'atp' row {owner_row} column D (D{owner_row})" in text, text
    assert "owner refers to unknown department 'nobody'" in text
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.xlsx"]  # no temp dir left behind


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_text("id,name\natp,客单价\n")
    with pytest.raises(ExcelImportError, match=r"not a readable \.xlsx workbook"):
        import_excel(path, tmp_path / "out")
    empty = tmp_path / "empty.xlsx"
    Workbook().save(empty)
    with pytest.raises(ExcelImportError, match="unknown sheet 'Sheet'"):
        import_excel(empty, tmp_path / "out")


def test_export_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "c.xlsx"
    path.write_text("mine")
    with pytest.raises(CatalogWriteError):
        export_excel(CATALOGS / "automotive_aftersales", path)
    assert path.read_text() == "mine"


def test_a_formula_cell_is_refused(demo_xlsx: Path, tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    path.write_bytes(demo_xlsx.read_bytes())
    book = load_workbook(path)
    card = book["atp"]
    row = next(r for r in card.iter_rows(min_row=3) if r[2].value == "unit")
    row[3].value = "=1+1"  # openpyxl (like Excel) stores this as a formula
    book.save(path)
    with pytest.raises(ExcelImportError, match=rf"sheet 'atp' row {row[3].row} column D .*formula"):
        import_excel(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_workbook_xml_is_parsed_defensively() -> None:
    """openpyxl parses a workbook's XML with defusedxml (a dependency) when it is installed:
    an .xlsx handed back from outside is untrusted input."""
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML


def test_a_date_typed_in_excel_stays_a_date(demo_xlsx: Path, tmp_path: Path) -> None:
    import datetime as dt

    path = tmp_path / "d.xlsx"
    path.write_bytes(demo_xlsx.read_bytes())
    book = load_workbook(path)
    card = book["atp"]
    row = next(r for r in card.iter_rows(min_row=3) if r[2].value == "history[2]")
    row[4].value = dt.datetime(2024, 3, 2)  # what Excel stores when someone types 2024-03-02
    book.save(path)
    import_excel(path, tmp_path / "back")
    atp = next(n for n in load_catalog(tmp_path / "back").nodes if n.id == "atp")
    assert isinstance(atp, Metric) and atp.history[1].date == "2024-03-02"


def test_committee_adds_a_metric_by_copying_a_card(demo_xlsx: Path, tmp_path: Path) -> None:
    path = tmp_path / "new.xlsx"
    path.write_bytes(demo_xlsx.read_bytes())
    book = load_workbook(path)
    card = book.copy_worksheet(book["atp"])
    card.title = "atp_store_a"
    for row in card.iter_rows(min_row=3):
        if row[2].value == "id":
            row[3].value = "atp_store_a"
        elif row[2].value == "name":
            row[3].value = "客单价（A店口径）"
        elif row[2].value == "abbr":
            row[3].value = None
    index = book[L.INDEX]
    source = next(r for r in index.iter_rows(min_row=2) if r[0].value == "atp")
    new_row = index.max_row + 1
    for cell in source:
        index.cell(new_row, cell.column, cell.value)
    index.cell(new_row, 1, "atp_store_a")
    index.cell(new_row, 2, "客单价（A店口径）")
    index.cell(new_row, 4).value = None  # abbr (cell(..., None) would not clear it)
    book.save(path)
    assert import_excel(path, tmp_path / "back") == 39
    graph = load_catalog(tmp_path / "back")
    new = next(n for n in graph.nodes if n.id == "atp_store_a")
    assert isinstance(new, Metric) and new.formula == "revenue / visits"
    assert new.caliber == next(n for n in graph.nodes if n.id == "atp").caliber  # type: ignore[attr-defined]


def test_round_trip_keeps_nested_keys_of_plain_sheets(tmp_path: Path) -> None:
    """A department's notify targets (a list of records) and a view's SQL (a table key) travel
    through the plain sheets as well as the card keys do."""
    import shutil

    root = tmp_path / "c"
    shutil.copytree(CATALOGS / "automotive_aftersales", root)
    depts = root / "departments.yaml"
    depts.write_text(
        depts.read_text(encoding="utf-8")
        + "- {id: board, name: 数据治理委员会, notify: [{url: 'https://hooks.example.com/x', "
        "format: wecom}]}\n",
        encoding="utf-8",
    )
    sources = root / "sources.yaml"
    sources.write_text(
        sources.read_text(encoding="utf-8").replace(
            "    - id: dms_parts_issue",
            "    - id: v_completed\n      name: 已完成工单视图\n      sql: |\n"
            "        SELECT order_id FROM dms_orders WHERE order_status = 'completed'\n"
            "      fields:\n        - {id: order_id, name: 工单号}\n    - id: dms_parts_issue",
            1,
        ),
        encoding="utf-8",
    )
    original = load_catalog(root)
    export_excel(root, tmp_path / "c.xlsx")
    import_excel(tmp_path / "c.xlsx", tmp_path / "back")
    assert comparable(load_catalog(tmp_path / "back")) == comparable(original)


def test_a_chinese_workbook_is_told_in_chinese(tmp_path: Path) -> None:
    """#24: the importer's problems in the language in use (zh here), cell by cell."""
    from core import i18n

    path = tmp_path / "x.xlsx"
    path.write_text("id,name\natp,客单价\n")
    with i18n.use("zh"), pytest.raises(ExcelImportError, match=r"不是可读取的 \.xlsx 工作簿"):
        import_excel(path, tmp_path / "out")
    empty = tmp_path / "empty.xlsx"
    Workbook().save(empty)
    with i18n.use("zh"), pytest.raises(ExcelImportError) as err:
        import_excel(empty, tmp_path / "out")
    assert "工作表 'Sheet' 第 1 行 A 列（A1）: 未知的工作表 'Sheet'" in str(err.value), err.value


def test_an_english_catalog_exports_an_english_workbook_that_reads_back(tmp_path: Path) -> None:
    """#24: the workbook of a ``language: en`` catalog had the seed's Chinese sheet names,
    headers, card mark and labels; now they are in the catalog's language, and the importer
    reads a workbook of either language back to the same catalog."""
    import re
    import shutil

    cjk = re.compile(r"[\u3400-\u9fff\uff01-\uff5e（）]")
    root = Path(shutil.copytree(CATALOGS / "automotive_aftersales", tmp_path / "en"))
    manifest = root / "kpigraph.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("language: zh", "language: en"),
        encoding="utf-8",
    )
    original = load_catalog(root)
    assert original.meta["language"] == "en"
    count = export_excel(root, tmp_path / "en.xlsx")
    book = load_workbook(tmp_path / "en.xlsx")
    assert book.sheetnames[:6] == [L.SHEETS_EN[s] for s in L.FIXED_SHEETS]
    headers = [c.value for c in next(book["Metric index"].iter_rows(max_row=1))]
    assert headers[:3] == ["ID (id)", "Name (name)", "English name (name_en)"], headers
    for name in book.sheetnames[:6]:  # every header row of the fixed sheets: no Chinese
        row = next(book[name].iter_rows(max_row=1, values_only=True))
        assert not [v for v in row if v and cjk.search(str(v))], (name, row)
    card = book["atp"]
    assert card["A1"].value == "Metric definition template"
    assert [c.value for c in card[2]][:4] == ["Section", "Item", "Key", "Content"]
    words = [v for r in card.iter_rows(min_row=3, max_col=2, values_only=True) for v in r if v]
    assert "Basics" in words and "Formula" in words
    assert [w for w in words if cjk.search(str(w))] == []  # sections and labels: not data
    assert import_excel(tmp_path / "en.xlsx", tmp_path / "back") == count
    assert comparable(load_catalog(tmp_path / "back")) == comparable(original)


def test_a_chinese_catalog_keeps_the_seeds_chinese_workbook(demo_xlsx: Path) -> None:
    book = load_workbook(demo_xlsx)
    assert book.sheetnames[:6] == list(L.FIXED_SHEETS)
    assert book["atp"]["A1"].value == L.CARD_MARK  # whatever language the command speaks
