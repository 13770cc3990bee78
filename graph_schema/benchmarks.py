"""行业基准 as structured ranges, and the conversion of the older free-text shape.

A benchmark is ``{label, min, max, source}``: the value is within it when
``min <= value <= max`` (a missing bound is open). Catalogs written before this shape used
``{segment, average: "1200-1800", excellent: ">2000", source}``; such an entry becomes one
range per level it gives (``"<segment> 行业平均"`` and ``"<segment> 优秀"``).
"""

from __future__ import annotations

import re
from typing import Any

from core.i18n import _

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*%?\s*[-~～–—至]\s*({_NUMBER})\s*%?\s*$")
_LOWER = re.compile(rf"^\s*(?:>|>=|≥|＞)\s*({_NUMBER})\s*%?\s*$")
_UPPER = re.compile(rf"^\s*(?:<|<=|≤|＜)\s*({_NUMBER})\s*%?\s*$")
_LEGACY_LEVELS = (("average", "行业平均"), ("excellent", "优秀"))


def parse_range(text: str) -> tuple[float | None, float | None]:
    """Bounds of a written range: ``"1200-1800"``, ``">2000"``, ``"<5%"``.

    Raises
    ------
    ValueError
        When the text is none of these forms.

    Examples
    --------
    >>> parse_range("1200-1800")
    (1200.0, 1800.0)
    >>> parse_range(">2000")
    (2000.0, None)
    >>> parse_range("≤ 5%")
    (None, 5.0)
    """
    if m := _RANGE.match(text):
        return float(m.group(1)), float(m.group(2))
    if m := _LOWER.match(text):
        return float(m.group(1)), None
    if m := _UPPER.match(text):
        return None, float(m.group(1))
    raise ValueError(
        _(
            "cannot read {text} as a range; write benchmarks as {form}",
            text=repr(text),
            form="{label, min, max, source}",
        )
    )


def structured_benchmarks(value: Any) -> Any:
    """Turn legacy ``{segment, average, excellent}`` entries into ``{label, min, max}`` ones;
    leave everything else for validation.

    Examples
    --------
    >>> old = {"segment": "合资品牌", "average": "1200-1800", "excellent": ">2000"}
    >>> for b in structured_benchmarks([old]):
    ...     print(b)
    {'label': '合资品牌 行业平均', 'min': 1200.0, 'max': 1800.0, 'source': None}
    {'label': '合资品牌 优秀', 'min': 2000.0, 'max': None, 'source': None}
    """
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        if not (isinstance(item, dict) and "segment" in item and "label" not in item):
            out.append(item)
            continue
        extra = set(item) - {"segment", "average", "excellent", "source"}
        if extra:
            out.append(item)  # validation reports the unknown keys
            continue
        for key, suffix in _LEGACY_LEVELS:
            if item.get(key) is None or not str(item[key]).strip():
                continue  # empty is "not given" (graph_schema.empty)
            low, high = parse_range(str(item[key]))
            out.append(
                {
                    "label": f"{item['segment']} {suffix}",
                    "min": low,
                    "max": high,
                    "source": item.get("source"),
                }
            )
    return out
