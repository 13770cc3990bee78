"""The workbook's layout: sheet names, the card's sections (seed 001's 指标定义模板) and how each
metric key is laid out, derived from the model's annotations so that keys added to the model
later are carried without changing this module.

Seed 001, 第二步 "指标定义模板(完整版)": 基本信息 / 指标定义 / 统计口径 / 数据来源 / 使用场景 /
行业基准 / 注意事项 / 关联指标 / 更新频率 / 版本记录 / 咨询联系.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import re
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

INDEX = "指标索引"
CATALOG = "目录"
DEPARTMENTS = "部门"
DIMENSIONS = "维度"
SOURCES = "数据来源"
DASHBOARDS = "看板"
FIXED_SHEETS = (INDEX, CATALOG, DEPARTMENTS, DIMENSIONS, SOURCES, DASHBOARDS)
#: the sheets' names in an English catalog's workbook (the Chinese names above are the keys;
#: the reader takes either, so a workbook reads back whatever language it was written in)
SHEETS_EN = {
    INDEX: "Metric index",
    CATALOG: "Catalog",
    DEPARTMENTS: "Departments",
    DIMENSIONS: "Dimensions",
    SOURCES: "Data sources",
    DASHBOARDS: "Dashboards",
}

#: A1 of every metric card: how a card sheet is recognised (its sheet name is only a label).
CARD_MARK = "指标定义模板"
CARD_HEADER = ("区块", "项目", "字段", "内容")
CARD_MARK_EN = "Metric definition template"
CARD_HEADER_EN = ("Section", "Item", "Key", "Content")
CARD_MARKS = (CARD_MARK, CARD_MARK_EN)
#: Columns of the index sheet (main fields of the card), then the link to the card.
INDEX_KEYS = (
    "id",
    "name",
    "name_en",
    "abbr",
    "level",
    "domain",
    "owner",
    "reviewer",
    "status",
    "unit",
    "formula",
    "update_frequency",
    "version",
)
CARD_LINK = "card"

#: Section of the template each top-level metric key belongs to (seed 001's order).
SECTIONS: dict[str, tuple[str, ...]] = {
    "基本信息": (
        "id",
        "name",
        "name_en",
        "abbr",
        "level",
        "domain",
        "owner",
        "reviewer",
        "status",
        "tags",
        "atomic",
        "qualifiers",
        "window",
    ),
    "指标定义": (
        "definition",
        "meaning",
        "formula",
        "drivers",
        "unit",
        "aggregation",
        "example",
    ),
    "统计口径": ("caliber",),
    "数据来源": ("data_source", "fields", "sql", "dimensions"),
    "使用场景": ("use_cases", "dashboards"),
    "行业基准": ("benchmarks",),
    "注意事项": ("caveats", "special_cases"),
    "关联指标": ("rolls_up_to", "causes", "parallel"),
    "更新频率": ("update_frequency", "review_policy"),
    "版本记录": ("version", "history"),
    "咨询联系": ("contacts",),
}
OTHER_SECTION = "其他"
#: the sections' names in English (seed 001's template, translated)
SECTIONS_EN = {
    "基本信息": "Basics",
    "指标定义": "Definition",
    "统计口径": "Scope",
    "数据来源": "Data source",
    "使用场景": "Use cases",
    "行业基准": "Benchmarks",
    "注意事项": "Caveats",
    "关联指标": "Related metrics",
    "更新频率": "Update frequency",
    "版本记录": "Versions",
    "咨询联系": "Contacts",
    OTHER_SECTION: "Other",
}

#: Display labels (the seed's wording where it has one); the key column is what import reads.
LABELS: dict[str, str] = {
    "id": "ID",
    "name": "中文名称",
    "name_en": "英文名称",
    "abbr": "缩写",
    "level": "指标级别",
    "domain": "所属领域",
    "owner": "责任部门",
    "reviewer": "审核部门",
    "status": "状态",
    "tags": "标签",
    "atomic": "原子指标",
    "qualifiers": "业务限定",
    "window": "统计周期",
    "definition": "定义",
    "meaning": "业务含义",
    "formula": "计算公式",
    "drivers": "驱动拆解",
    "unit": "单位",
    "aggregation": "汇总方式",
    "example": "计算示例",
    "caliber.numerator.includes": "分子包含 ✅",
    "caliber.numerator.excludes": "分子不含 ❌",
    "caliber.denominator.includes": "分母包含 ✅",
    "caliber.denominator.excludes": "分母不含 ❌",
    "caliber.scope.includes": "统计范围包含 ✅",
    "caliber.scope.excludes": "统计范围不含 ❌",
    "caliber.time": "时间范围",
    "caliber.rules": "识别规则",
    "data_source": "主数据源",
    "fields": "绑定字段",
    "sql": "取数逻辑",
    "dimensions": "分析维度",
    "use_cases": "使用场景",
    "dashboards": "展示看板",
    "benchmarks": "行业基准",
    "caveats": "常见误区",
    "special_cases": "特殊情况处理",
    "rolls_up_to": "上级指标",
    "causes": "影响的指标",
    "parallel": "平行指标",
    "update_frequency": "数据更新",
    "review_policy": "定义更新",
    "version": "当前版本",
    "history": "版本记录",
    "contacts.business": "指标负责人",
    "contacts.technical": "技术负责人",
    "contacts.data_support": "取数支持",
    "extra": "导入保留（JSON）",
    "description": "描述",
    "type": "类型",
    "kind": "类型",
    "url": "链接",
    "system": "系统",
    "table": "表",
    "field": "字段",
    "language": "语言",
    "card": "卡片",
}


#: Display labels in an English catalog's workbook (the key is shown when none is given).
LABELS_EN: dict[str, str] = {
    "id": "ID",
    "name": "Name",
    "name_en": "English name",
    "abbr": "Abbreviation",
    "level": "Level",
    "domain": "Domain",
    "owner": "Owner",
    "reviewer": "Reviewer",
    "status": "Status",
    "tags": "Tags",
    "atomic": "Atomic metric",
    "qualifiers": "Qualifiers",
    "window": "Window",
    "definition": "Definition",
    "meaning": "Business meaning",
    "formula": "Formula",
    "drivers": "Driver breakdown",
    "unit": "Unit",
    "aggregation": "Aggregation",
    "example": "Worked example",
    "caliber.numerator.includes": "Numerator includes ✅",
    "caliber.numerator.excludes": "Numerator excludes ❌",
    "caliber.denominator.includes": "Denominator includes ✅",
    "caliber.denominator.excludes": "Denominator excludes ❌",
    "caliber.scope.includes": "Scope includes ✅",
    "caliber.scope.excludes": "Scope excludes ❌",
    "caliber.time": "Time range",
    "caliber.rules": "Rules",
    "data_source": "Main data source",
    "fields": "Bound fields",
    "sql": "SQL",
    "dimensions": "Dimensions",
    "use_cases": "Use cases",
    "dashboards": "Dashboards",
    "benchmarks": "Benchmarks",
    "caveats": "Common mistakes",
    "special_cases": "Special cases",
    "rolls_up_to": "Rolls up to",
    "causes": "Influences",
    "parallel": "Parallel metrics",
    "update_frequency": "Data updates",
    "review_policy": "Definition reviews",
    "version": "Version",
    "history": "Version history",
    "contacts.business": "Business contact",
    "contacts.technical": "Technical contact",
    "contacts.data_support": "Data support",
    "extra": "Kept on import (JSON)",
    "description": "Description",
    "type": "Type",
    "kind": "Kind",
    "url": "Link",
    "system": "System",
    "table": "Table",
    "field": "Field",
    "language": "Language",
    "card": "Card",
}


#: Column labels of the small tables on a card (行业基准, 版本记录, 影响的指标).
TABLE_LABELS: dict[str, str] = {
    "benchmarks.label": "档位",
    "benchmarks.min": "下限",
    "benchmarks.max": "上限",
    "benchmarks.source": "数据来源",
    "history.version": "版本",
    "history.date": "日期",
    "history.change": "变更内容",
    "history.author": "修订人",
    "causes.metric": "指标",
    "causes.polarity": "方向",
    "causes.lag": "滞后",
    "causes.evidence": "依据",
}


TABLE_LABELS_EN: dict[str, str] = {
    "benchmarks.label": "Label",
    "benchmarks.min": "Min",
    "benchmarks.max": "Max",
    "benchmarks.source": "Source",
    "history.version": "Version",
    "history.date": "Date",
    "history.change": "Change",
    "history.author": "Author",
    "causes.metric": "Metric",
    "causes.polarity": "Polarity",
    "causes.lag": "Lag",
    "causes.evidence": "Evidence",
}


#: the language of the workbook being written or read: its sheet names, headers and labels
#: (the messages about it are in the language in use, as every message is)
_language: contextvars.ContextVar[str] = contextvars.ContextVar("workbook_language", default="zh")


@contextlib.contextmanager
def workbook_language(lang: object) -> Iterator[None]:
    """Lay out (or read) a workbook in ``lang`` inside the block: ``en`` for English, else the
    seed's Chinese."""
    token = _language.set("en" if lang == "en" else "zh")
    try:
        yield
    finally:
        _language.reset(token)


def language_of_sheets(titles: Iterable[str]) -> str:
    """``en`` when a workbook's sheets carry the English names of the fixed sheets."""
    english = set(SHEETS_EN.values())
    return "en" if any(t in english for t in titles) else "zh"


def _english() -> bool:
    return _language.get() == "en"


def sheet(name: str) -> str:
    """A fixed sheet's name in the language in use: ``指标索引`` / ``Metric index``."""
    return SHEETS_EN.get(name, name) if _english() else name


def fixed_sheet(title: str) -> str | None:
    """The fixed sheet (its Chinese key) a sheet title names, in either language.

    >>> fixed_sheet("Metric index"), fixed_sheet("指标索引"), fixed_sheet("atp")
    ('指标索引', '指标索引', None)
    """
    if title in FIXED_SHEETS:
        return title
    return next((k for k, v in SHEETS_EN.items() if v == title), None)


def card_mark() -> str:
    return CARD_MARK_EN if _english() else CARD_MARK


def card_title(name: str, metric_id: str) -> str:
    """B1 of a card: ``客单价（atp）`` / ``Average ticket price (atp)``."""
    return f"{name} ({metric_id})" if _english() else f"{name}（{metric_id}）"


def card_header() -> tuple[str, ...]:
    return CARD_HEADER_EN if _english() else CARD_HEADER


def section_name(section: str) -> str:
    return SECTIONS_EN.get(section, section) if _english() else section


def table_header(table: str, column: str) -> str:
    """A column header of a card's table: ``下限 (min)``."""
    text = (TABLE_LABELS_EN if _english() else TABLE_LABELS).get(f"{table}.{column}")
    return f"{text} ({column})" if text else column


def label(key: str) -> str:
    """The display label of a dotted key: the seed's word (or its English), or the key."""
    return (LABELS_EN if _english() else LABELS).get(key, key)


def header(key: str) -> str:
    """A column header: ``中文名称 (name)``; import reads the key in the parentheses."""
    text = (LABELS_EN if _english() else LABELS).get(key)
    return f"{text} ({key})" if text and text != key else key


_HEADER_KEY = re.compile(r"\(([A-Za-z_][A-Za-z0-9_]*)\)\s*$")


def header_key(text: Any) -> str | None:
    """The key of a header cell: ``中文名称 (name)`` → ``name``; a bare ``name`` → ``name``.

    >>> header_key("中文名称 (name)"), header_key("url"), header_key(None)
    ('name', 'url', None)
    """
    if text is None:
        return None
    value = str(text).strip()
    found = _HEADER_KEY.search(value)
    if found:
        return found.group(1)
    return value if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) else value or None


# ---------------------------------------------------------------------------------------------
# shapes


@dataclass(frozen=True)
class Shape:
    """How a key is laid out on a card.

    ``kind``: ``scalar`` (one cell), ``list`` (one row per item), ``model`` (its keys dotted
    below it), ``table`` (a header row, then one row per item), ``json`` (one cell of JSON).
    """

    kind: str
    model: type[BaseModel] | None = None
    text: bool = False  # a scalar that is text (not a number, enum or bool)


def _strip(annotation: Any) -> Any:
    """Drop ``Optional``/``Annotated`` around a type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def shape_of(annotation: Any) -> Shape:
    """The layout of a key with this type annotation.

    >>> from graph_schema.models import Metric
    >>> [shape_of(Metric.model_fields[k].annotation).kind
    ...  for k in ("name", "use_cases", "caliber", "benchmarks", "extra")]
    ['scalar', 'list', 'model', 'table', 'json']
    """
    inner = _strip(annotation)
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return Shape("model", inner)
    origin = typing.get_origin(inner)
    if origin is list:
        (item,) = typing.get_args(inner) or (Any,)
        item = _strip(item)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return Shape("table", item)
        if _is_scalar(item):
            return Shape("list", text=item is str)
        return Shape("json")
    if _is_scalar(inner) or typing.get_origin(inner) is typing.Literal:
        return Shape("scalar", text=inner is str)
    return Shape("json")


def _is_scalar(tp: Any) -> bool:
    return tp in (str, int, float, bool) or (isinstance(tp, type) and issubclass(tp, enum.Enum))


def model_keys(model: type[BaseModel]) -> list[tuple[str, Shape]]:
    """Every key of ``model`` with its shape, in the model's order."""
    return [(k, shape_of(f.annotation)) for k, f in model.model_fields.items()]


def section_of(key: str) -> str:
    for section, keys in SECTIONS.items():
        if key in keys:
            return section
    return OTHER_SECTION
