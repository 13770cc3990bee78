"""Write a catalog as an ``.xlsx`` a committee can edit and hand back (``kpigraph export excel``).

Sheets: 指标索引 (one row per metric, the main fields, filterable, each row linking to its
card), 目录 (catalog settings), 部门, 维度, 数据来源, 看板, then one card per metric in seed 001's
template. A card has four columns — 区块 (section), 项目 (label), 字段 (the key import reads),
内容 (the value) — and one row per value: lists take one row per item, nested keys are dotted
(``caliber.numerator.includes``), lists of records (行业基准, 版本记录, 影响的指标) are small
tables under a ``key[]`` header row, and ``extra`` is one cell of JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel

from core.i18n import _
from graph_schema.errors import KpigraphError
from graph_schema.graph import CatalogGraph
from graph_schema.models import (
    Dashboard,
    Department,
    Dimension,
    FieldNode,
    Metric,
    Status,
    System,
    Table,
)
from loaders.catalog import load_catalog
from loaders.catalog_writer import CatalogWriteError, manifest_keys
from loaders.excel import layout as L

WRAP = Alignment(wrap_text=True, vertical="top")
#: Named styles, registered once per workbook: assigning one by name is cheap, where setting a
#: Font on each of ~50 cells per card hashes it every time (a 1,000-card export: 14 s).
STYLES = {
    "kp_head": {
        "font": Font(bold=True, color="FFFFFF"),
        "fill": PatternFill("solid", fgColor="305496"),
    },
    "kp_section": {"font": Font(bold=True)},
    "kp_key": {"font": Font(color="808080", size=9)},
    "kp_title": {"font": Font(bold=True, size=13)},
    "kp_link": {"font": Font(color="0563C1", underline="single")},
    "kp_wrap": {"alignment": WRAP},
}
MAX_CELL = 32_767  # Excel's limit on the text of one cell


class ExcelExportError(KpigraphError):
    """The catalog holds something an ``.xlsx`` cell cannot (control characters, >32k text)."""

    code = "excel_export"


def export_excel(catalog_dir: str | Path, out_file: str | Path, *, force: bool = False) -> int:
    """Write the catalog at ``catalog_dir`` to ``out_file``; return the number of metrics."""
    out = Path(out_file)
    if out.exists() and not force:
        raise CatalogWriteError(
            _("{path} exists; choose another -o or pass --force to replace it", path=out)
        )
    graph = load_catalog(catalog_dir)
    book = workbook(graph)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        book.save(tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sum(1 for n in graph.nodes if isinstance(n, Metric))


def workbook(graph: CatalogGraph) -> Workbook:
    """The workbook for ``graph`` (see module doc), its sheet names, headers and labels in the
    catalog's language (``language: en``: English; else the seed's Chinese)."""
    with L.workbook_language(graph.meta.get("language")):
        return _workbook(graph)


def _workbook(graph: CatalogGraph) -> Workbook:
    book = Workbook()
    for name, parts in STYLES.items():
        book.add_named_style(NamedStyle(name=name, **parts))
    index = book.active
    assert index is not None
    index.title = L.sheet(L.INDEX)
    metrics = [n for n in graph.nodes if isinstance(n, Metric)]
    names = card_sheet_names([m.id for m in metrics])
    _catalog_sheet(book.create_sheet(L.sheet(L.CATALOG)), graph)
    _node_sheet(book.create_sheet(L.sheet(L.DEPARTMENTS)), Department, graph)
    _node_sheet(book.create_sheet(L.sheet(L.DIMENSIONS)), Dimension, graph)
    _sources_sheet(book.create_sheet(L.sheet(L.SOURCES)), graph)
    _node_sheet(book.create_sheet(L.sheet(L.DASHBOARDS)), Dashboard, graph)
    for metric in metrics:
        _card_sheet(book.create_sheet(names[metric.id]), metric)
    _index_sheet(index, metrics, names)
    return book


def card_sheet_names(ids: list[str]) -> dict[str, str]:
    """A sheet name per metric id: the id, shortened to Excel's 31 characters when needed.

    >>> card_sheet_names(["atp", "a" * 40, "a" * 40 + "b"])["a" * 40 + "b"]
    'aaaaaaaaaaaaaaaaaaaaaaaaaaa~3'
    """
    out: dict[str, str] = {}
    used = {s.lower() for s in (*L.FIXED_SHEETS, *L.SHEETS_EN.values())}
    for n, mid in enumerate(ids, 1):
        name = mid if len(mid) <= 31 else f"{mid[:27]}~{n}"
        while name.lower() in used:
            name = f"{mid[:24]}~{n}~{len(used)}"
        used.add(name.lower())
        out[mid] = name
    return out


# ---------------------------------------------------------------------------------------------
# cells


def put(ws: Worksheet, row: int, col: int, value: Any, where: str = "") -> Cell:
    """Write one value; text is always text (a leading '=' is not a formula)."""
    cell = ws.cell(row=row, column=col)
    if value is None:
        return cell
    if isinstance(value, bool | int | float):
        cell.value = value
        return cell
    text = value if isinstance(value, str) else str(value)
    if ILLEGAL_CHARACTERS_RE.search(text):
        raise ExcelExportError(
            _(
                "{where}: text holds a control character an .xlsx cell cannot store; remove it "
                "from the catalog",
                where=where or ws.title,
            )
        )
    if len(text) > MAX_CELL:
        raise ExcelExportError(
            _(
                "{where}: text of {n} characters is over Excel's {max}",
                where=where or ws.title,
                n=len(text),
                max=MAX_CELL,
            )
        )
    cell.value = text
    cell.data_type = "s"  # never a formula, whatever the text starts with
    if "\n" in text:
        cell.style = "kp_wrap"
    return cell


def _head(ws: Worksheet, row: int, values: list[str]) -> None:
    for col, value in enumerate(values, 1):
        cell = put(ws, row, col, value)
        cell.style = "kp_head"


def _widths(ws: Worksheet, widths: dict[int, int]) -> None:
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = width


def _scalar(value: Any) -> Any:
    """JSON data as a cell value: scalars as they are, anything else as JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# sheets


def _index_sheet(ws: Worksheet, metrics: list[Metric], names: dict[str, str]) -> None:
    keys = [k for k in L.INDEX_KEYS if k in Metric.model_fields]
    _head(ws, 1, [L.header(k) for k in keys] + [L.header(L.CARD_LINK)])
    for row, metric in enumerate(metrics, 2):
        data = metric.model_dump(mode="json")
        for col, key in enumerate(keys, 1):
            put(ws, row, col, _scalar(data.get(key)), f"{ws.title} row {row}")
        link = put(ws, row, len(keys) + 1, names[metric.id])
        link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{names[metric.id]}'!A1")
        link.style = "kp_link"
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(keys) + 1)}{max(len(metrics) + 1, 2)}"
    _widths(ws, {1: 22, 2: 18, 3: 24, 11: 36})
    last = max(len(metrics) + 1, 2)
    for key, options in (
        ("level", ["L0", "L1", "L2", "L3"]),
        ("status", [s.value for s in Status]),
    ):
        if key in keys:
            col = get_column_letter(keys.index(key) + 1)
            rule = DataValidation(type="list", formula1='"' + ",".join(options) + '"')
            rule.add(f"{col}2:{col}{last + 200}")
            ws.add_data_validation(rule)


def _catalog_sheet(ws: Worksheet, graph: CatalogGraph) -> None:
    _head(ws, 1, [L.header("key"), L.header("value")])
    for row, key in enumerate(manifest_keys(), 2):
        put(ws, row, 1, key)
        value = graph.meta.get(key) if key != "name" else graph.name
        put(ws, row, 2, _scalar(value), f"{ws.title} row {row}")
    _widths(ws, {1: 16, 2: 60})


def _plain_columns(model: type[BaseModel], drop: tuple[str, ...] = ()) -> list[str]:
    return [k for k in model.model_fields if k not in drop]


def _node_sheet(ws: Worksheet, model: type[BaseModel], graph: CatalogGraph) -> None:
    keys = _plain_columns(model)
    headers = ["kind" if k == "type" and model is Dashboard else k for k in keys]
    _head(ws, 1, [L.header(h) for h in headers])
    rows = [n for n in graph.nodes if isinstance(n, model)]
    for row, node in enumerate(rows, 2):
        data = node.model_dump(mode="json")
        for col, key in enumerate(keys, 1):
            put(ws, row, col, _scalar(data.get(key)), f"{ws.title} row {row}")
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(keys))}{max(len(rows) + 1, 2)}"
    _widths(ws, {1: 22, 2: 24, len(keys): 40})


def source_columns() -> list[str]:
    """``system, table, field`` then every other key of System, Table and FieldNode."""
    extra: list[str] = []
    for model in (System, Table, FieldNode):
        for key in model.model_fields:
            if key not in ("id", "system", "table") and key not in extra:
                extra.append(key)
    return ["system", "table", "field", *extra]


def _sources_sheet(ws: Worksheet, graph: CatalogGraph) -> None:
    columns = source_columns()
    _head(ws, 1, [L.header(c) for c in columns])
    row = 2
    tables = [n for n in graph.nodes if isinstance(n, Table)]
    fields = [n for n in graph.nodes if isinstance(n, FieldNode)]
    for system in (n for n in graph.nodes if isinstance(n, System)):
        row = _source_row(ws, row, columns, system, {"system": system.id})
        for table in (t for t in tables if t.system == system.id):
            local = table.id.split(".", 1)[1]
            row = _source_row(ws, row, columns, table, {"system": system.id, "table": local})
            for fld in (f for f in fields if f.table == table.id):
                loc = {"system": system.id, "table": local, "field": fld.id.rsplit(".", 1)[1]}
                row = _source_row(ws, row, columns, fld, loc)
    ws.freeze_panes = "D2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(row - 1, 2)}"
    _widths(ws, {1: 16, 2: 22, 3: 22, 4: 20, len(columns): 40})


def _source_row(
    ws: Worksheet, row: int, columns: list[str], node: BaseModel, where: dict[str, str]
) -> int:
    data = node.model_dump(mode="json")
    for col, key in enumerate(columns, 1):
        value = where.get(key) if key in ("system", "table", "field") else data.get(key)
        put(ws, row, col, _scalar(value), f"{ws.title} row {row}")
    return row + 1


def _card_sheet(ws: Worksheet, metric: Metric) -> None:
    put(ws, 1, 1, L.card_mark()).style = "kp_title"
    title = L.card_title(metric.name, metric.id)
    put(ws, 1, 2, title).style = "kp_title"
    _head(ws, 2, list(L.card_header()))
    data = metric.model_dump(mode="json")
    rows = CardRows(ws, metric.id)
    order = [k for keys in L.SECTIONS.values() for k in keys if k in Metric.model_fields]
    order += [k for k in Metric.model_fields if k not in order]
    for key in order:
        rows.key(key, L.shape_of(Metric.model_fields[key].annotation), data.get(key))
    ws.freeze_panes = "D3"
    _widths(ws, {1: 12, 2: 16, 3: 30, 4: 60, 5: 18, 6: 18, 7: 30})


class CardRows:
    """Appends a metric's keys to its card, one row per value."""

    def __init__(self, ws: Worksheet, metric_id: str) -> None:
        self.ws, self.metric_id, self.row = ws, metric_id, 3
        self.section: str | None = None

    def line(self, top: str, path: str, values: list[Any], *, table_head: bool = False) -> None:
        section = L.section_of(top)
        if section != self.section:
            put(self.ws, self.row, 1, L.section_name(section)).style = "kp_section"
            self.section = section
        show = table_head or "[" not in path
        put(self.ws, self.row, 2, L.label(path.split("[")[0]) if show else None)
        put(self.ws, self.row, 3, path).style = "kp_key"
        for col, value in enumerate(values, 4):
            cell = put(self.ws, self.row, col, value, f"card {self.metric_id!r} {path}")
            if table_head:
                cell.style = "kp_section"
        self.row += 1

    def key(self, path: str, shape: L.Shape, value: Any, top: str | None = None) -> None:
        top = top or path
        if shape.kind == "scalar":
            self.line(top, path, [value])
        elif shape.kind == "list":
            for item in value or [None]:
                self.line(top, path, [item])
        elif shape.kind == "model" and shape.model is not None:
            for sub, sub_shape in L.model_keys(shape.model):
                self.key(f"{path}.{sub}", sub_shape, (value or {}).get(sub), top)
        elif shape.kind == "table" and shape.model is not None:
            columns = list(shape.model.model_fields)
            heads = [L.table_header(path, c) for c in columns]
            self.line(top, f"{path}[]", heads, table_head=True)
            for n, item in enumerate(value or [], 1):
                self.line(top, f"{path}[{n}]", [_scalar(item.get(c)) for c in columns])
        else:
            self.line(top, path, [_scalar(value) if value not in ({}, [], None) else None])
