"""Reading the cells of a workbook: plain sheets (a header row, one row per node) and metric
cards (one row per value), every problem with its sheet, row and column."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel, ValidationError

from core.i18n import _
from graph_schema.errors import KpigraphError
from graph_schema.models import Metric
from loaders.excel import layout as L
from loaders.suggest import closest, did_you_mean
from loaders.validate import value_problem


class ExcelImportError(KpigraphError):
    """The workbook cannot be imported; ``problems`` lists each 'sheet row column: what'."""

    code = "excel_import"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = _(" (and {count} more)", count=len(problems) - 1) if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}", {"problems": problems})


def cell_ref(sheet: str, row: int, col: int | None = None) -> str:
    """``sheet '部门' row 4 column B (B4)``."""
    if col is None:
        return _("sheet {sheet} row {row}", sheet=repr(sheet), row=row)
    letter = get_column_letter(col)
    return _(
        "sheet {sheet} row {row} column {column} ({cell})",
        sheet=repr(sheet),
        row=row,
        column=letter,
        cell=f"{letter}{row}",
    )


@dataclass
class Card:
    sheet: str
    data: dict[str, Any]
    cells: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)


class SheetReader:
    """Reads cells and collects problems (each 'sheet row column: what')."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, sheet: str, row: int, col: int | None, message: str) -> None:
        self.problems.append(f"{cell_ref(sheet, row, col)}: {message}")

    def values(self, sheet: str, row: tuple[Any, ...]) -> list[Any]:
        """The cells' values; a formula is refused (its result is not in the file for sure,
        and a definition is text someone wrote, not a computation)."""
        out: list[Any] = []
        for cell in row:
            if getattr(cell, "data_type", None) == "f":
                self.problem(
                    sheet,
                    cell.row,
                    cell.column,
                    _(
                        "cell holds a formula ({formula}); type the value itself, "
                        "or start the text with an apostrophe (') to keep a leading '='",
                        formula=str(cell.value)[:40],
                    ),
                )
                out.append(None)
            else:
                out.append(_date_only(cell.value))
        return out

    # -- plain sheets: a header row, then one row per node ------------------------------------

    def table(
        self, ws: Worksheet, allowed: list[str], required: tuple[str, ...]
    ) -> list[tuple[int, dict[str, Any], dict[str, int]]]:
        rows = [self.values(ws.title, row) for row in ws.iter_rows()]
        if not rows:
            self.problem(ws.title, 1, None, _("the sheet is empty; it needs its header row"))
            return []
        columns: dict[int, str] = {}
        for col, text in enumerate(rows[0], 1):
            key = L.header_key(text)
            if key is None:
                continue
            if key not in allowed:
                hint = did_you_mean(closest(key, allowed)) or _(
                    "columns are {columns}", columns=", ".join(allowed)
                )
                self.problem(
                    ws.title,
                    1,
                    col,
                    _("unknown column {column}; {hint}", column=repr(text), hint=hint),
                )
                continue
            columns[col] = key
        missing = [k for k in required if k not in columns.values()]
        for key in missing:
            self.problem(
                ws.title,
                1,
                None,
                _(
                    "missing column {column}; add it to the header row (row 1)",
                    column=repr(L.header(key)),
                ),
            )
        out = []
        for n, values in enumerate(rows[1:], 2):
            data: dict[str, Any] = {}
            cols: dict[str, int] = {}
            for col, key in columns.items():
                value = values[col - 1] if col - 1 < len(values) else None
                if isinstance(value, str):
                    value = value.strip()
                if value not in (None, ""):
                    data[key], cols[key] = value, col
            if data:
                out.append((n, data, cols))
        return out

    def node(
        self,
        sheet: str,
        model: type[BaseModel],
        row: int,
        data: dict[str, Any],
        cols: dict[str, int],
    ) -> dict[str, Any] | None:
        """Check one row against ``model``; keep the row as the catalog file would hold it."""
        typed = {k: decode(model, k, v) for k, v in data.items()}
        try:
            model.model_validate(typed)
        except ValidationError as exc:
            for err in exc.errors():
                key = str(err["loc"][0]) if err["loc"] else ""
                what = (key or _("row")) + ": " + value_problem(err)
                self.problem(sheet, row, cols.get(key), what)
            return None
        return typed

    # -- cards ---------------------------------------------------------------------------------

    def card(self, ws: Worksheet) -> Card | None:
        card = Card(ws.title, {})
        tables: dict[str, list[str]] = {}
        for n, row in enumerate(ws.iter_rows(min_row=3), 3):
            values = self.values(ws.title, row)
            path = values[2] if len(values) > 2 else None
            if path in (None, ""):
                if any(v not in (None, "") for v in values[3:]):
                    self.problem(
                        ws.title,
                        n,
                        3,
                        _(
                            "a value without a key in column C ({column})",
                            column=L.card_header()[2],
                        ),
                    )
                continue
            path = str(path).strip()
            cells = values[3:]
            self.card_row(card, tables, n, path, cells)
        return card

    def card_row(
        self, card: Card, tables: dict[str, list[str]], n: int, path: str, cells: list[Any]
    ) -> None:
        sheet = card.sheet
        value = cells[0] if cells else None
        if isinstance(value, str):
            value = value.strip()
        if path.endswith("[]"):
            key = path[:-2]
            if self._shape(sheet, n, key) is None:
                return
            tables[key] = [L.header_key(c) or str(c) for c in cells if c not in (None, "")]
            card.data.setdefault(key, [])
            return
        if path.endswith("]") and "[" in path:
            key = path[:-1].partition("[")[0]
            if key not in tables:
                self.problem(
                    sheet,
                    n,
                    3,
                    _(
                        "{path} comes before its header row {header}",
                        path=repr(path),
                        header=f"'{key}[]'",
                    ),
                )
                return
            item = {
                c: (v.strip() if isinstance(v, str) else v)
                for c, v in zip(tables[key], cells, strict=False)
                if v not in (None, "")
            }
            if item:
                index = len(card.data[key])
                card.data[key].append(item)
                for col, c in enumerate(tables[key], 4):
                    card.cells[(key, index, c)] = (n, col)
                card.cells[(key, index)] = (n, 3)
            return
        shape = self._shape(sheet, n, path)
        if shape is None:
            return
        parts = path.split(".")
        target = card.data
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        leaf = parts[-1]
        if shape.kind == "list":
            items = target.setdefault(leaf, [])
            if value not in (None, ""):
                card.cells[(*parts, len(items))] = (n, 4)
                items.append(value)
            return
        if value in (None, ""):
            return
        if shape.kind == "json":
            try:
                value = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError as exc:
                self.problem(
                    sheet, n, 4, _("{path}: not valid JSON ({error})", path=path, error=exc.msg)
                )
                return
        if leaf in target:
            self.problem(
                sheet, n, 3, _("{path} appears twice on this card; keep one", path=repr(path))
            )
            return
        target[leaf] = value
        card.cells[tuple(parts)] = (n, 4)

    def _shape(self, sheet: str, row: int, path: str) -> L.Shape | None:
        """The shape of a dotted key of Metric, or a problem naming the closest key."""
        model: type[BaseModel] = Metric
        shape: L.Shape | None = None
        for part in path.split("."):
            fld = model.model_fields.get(part)
            if fld is None:
                hint = did_you_mean(closest(part, list(model.model_fields))) or ""
                message = _("unknown key {key}", key=repr(path))
                self.problem(sheet, row, 3, f"{message}; {hint}" if hint else message)
                return None
            shape = L.shape_of(fld.annotation)
            if shape.model is not None:
                model = shape.model
        return shape


def _date_only(value: Any) -> Any:
    """A date typed into Excel comes back as a datetime at midnight; keep it a date.

    >>> _date_only(dt.datetime(2024, 3, 1)), _date_only("2024-03-01")
    (datetime.date(2024, 3, 1), '2024-03-01')
    """
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    return value


def decode(model: type[BaseModel], key: str, value: Any) -> Any:
    """A cell of a plain sheet: JSON text back to data where the key is not text."""
    fld = model.model_fields.get(key)
    if fld is None or not isinstance(value, str):
        return value
    shape = L.shape_of(fld.annotation)
    if shape.kind in ("json", "list", "table", "model") and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
