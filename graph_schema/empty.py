"""Empty is empty: a missing key, ``None``, ``[]``, ``{}`` and ``""`` say the same thing about a
definition ("not given"), wherever definitions are compared — a proposal's frozen diff, the
conflict check at apply, a three-way merge.

Examples
--------
>>> normalized({"tags": [], "caliber": {"time": "", "rules": [None]}, "unit": "CNY"})
{'unit': 'CNY'}
>>> same(None, []) and same({}, "") and same({"a": []}, None)
True
>>> same(["x"], [])
False
"""

from __future__ import annotations

from typing import Any

#: Deeper than this, a value is taken as given (not empty): definitions nest a few levels, and a
#: hostile body nested 50,000 deep must not exhaust the stack here (validation refuses it)
MAX_DEPTH = 64


def normalized(value: Any, _depth: int = 0) -> Any:
    """``value`` with every empty part dropped; ``None`` when nothing is left."""
    if _depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        pairs = ((k, normalized(v, _depth + 1)) for k, v in value.items())
        out = {k: v for k, v in pairs if v is not None}
        return out or None
    if isinstance(value, list | tuple):
        items = [v for v in (normalized(v, _depth + 1) for v in value) if v is not None]
        return items or None
    if value == "" or value is None:
        return None
    return value


def is_empty(value: Any) -> bool:
    return normalized(value) is None


def same(a: Any, b: Any) -> bool:
    """Whether two values say the same, empties alike."""
    return bool(normalized(a) == normalized(b))
