"""Words the pages show around catalog text (statuses, node kinds), in the catalog's
``language`` (``kpigraph.yaml``; ``zh`` by default)."""

from __future__ import annotations

_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "active": "启用",
        "draft": "草稿",
        "deprecated": "已弃用",
        "Metric": "个指标",
        "Dimension": "个维度",
        "System": "个系统",
        "Table": "张表",
        "Field": "个字段",
        "Department": "个部门",
        "Dashboard": "个看板",
        "edges": "条关系",
    },
    "en": {
        "Metric": "metrics",
        "Dimension": "dimensions",
        "System": "systems",
        "Table": "tables",
        "Field": "fields",
        "Department": "departments",
        "Dashboard": "dashboards",
        "edges": "relations",
    },
}


def translate(word: object, lang: str | None = None) -> str:
    """``word`` in the catalog's language; unknown words and languages stay as they are.

    Examples
    --------
    >>> translate("active", "zh"), translate("Metric", "zh"), translate("active", "en")
    ('启用', '个指标', 'active')
    >>> translate("Metric", "zh-CN"), translate("whatever", "zh")
    ('个指标', 'whatever')
    """
    text = str(word)
    table = _LABELS.get((lang or "zh").split("-")[0].lower(), {})
    return table.get(text, text)
