"""A change request's field-by-field diff as the committee reads it: both sides as text, the
items added and removed, references named (保险理赔代收金额, not only its id)."""

from __future__ import annotations

from typing import Any

import yaml

from analysis.compare import KEY_WORDS
from core.i18n import _
from viz import change_form


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):  # a caliber part: its keys in words (包含/不含)
        value = {(_(KEY_WORDS[k]) if k in KEY_WORDS else k): v for k, v in value.items()}
    if isinstance(value, dict | list):
        return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=60).strip()
    return str(value)


def _delta(old: Any, new: Any, prefix: str = "") -> list[str]:
    """What was added to or removed from lists, key by key (``+ excludes: 延保代收款``)."""
    out: list[str] = []
    if isinstance(old, dict | type(None)) and isinstance(new, dict | type(None)):
        if old is None and new is None:
            return out
        for key in sorted(set(old or {}) | set(new or {})):
            word = (_(KEY_WORDS[key]) if key in KEY_WORDS else str(key)) + _(": ")
            out += _delta((old or {}).get(key), (new or {}).get(key), prefix + word)
        return out
    if isinstance(old, list | type(None)) and isinstance(new, list | type(None)):
        before, after = old or [], new or []
        out += [f"+ {prefix}{_text(x)}" for x in after if x not in before]
        out += [f"− {prefix}{_text(x)}" for x in before if x not in after]
        return out
    if old != new:
        out.append(f"~ {prefix}{_text(old)} → {_text(new)}")
    return out


def readable(entry: dict[str, Any]) -> dict[str, Any]:
    """A diff row as the committee reads it: both sides as YAML text, and for structured
    values the items added and removed.

    Examples
    --------
    >>> from core.i18n import use
    >>> with use("en"):
    ...     readable({"field": "caliber.numerator", "change_class": "major",
    ...               "old": {"excludes": ["a"]}, "new": {"excludes": ["a", "b"]}})["delta"]
    ['+ Excludes: b']
    >>> with use("zh"):
    ...     readable({"field": "caliber.numerator", "old": {"excludes": ["a"]},
    ...               "new": {"excludes": ["a", "b"]}})["delta"]
    ['+ 不含：b']
    """
    old, new = entry.get("old"), entry.get("new")
    structured = isinstance(old, dict | list) or isinstance(new, dict | list)
    return {
        **entry,
        "old_text": _text(old),
        "new_text": _text(new),
        "delta": _delta(old, new) if structured else [],
    }


def diff_references(diff: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Every node id a diff's reference fields name, before and after, keyed by field (the
    shape :func:`viz.change_form.ref_names` reads)."""
    out: dict[str, list[Any]] = {}
    for entry in diff:
        if entry.get("field") in change_form.REFERENCE_KINDS:
            for side in (entry.get("old"), entry.get("new")):
                out.setdefault(entry["field"], []).extend(
                    side if isinstance(side, list) else [side]
                )
    return out


def named(entry: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A readable diff row of a reference field with each id also named: ``+ 保险理赔代收金额
    (dms.dms_orders.insurance_claim_amount)``, ``运营部 (ops) → 财务部 (finance)``.

    Examples
    --------
    >>> named(readable({"field": "owner", "old": "ops", "new": "finance"}),
    ...       {"Department:ops": "运营部"})["old_text"]
    '运营部 (ops)'
    >>> row = named(readable({"field": "fields", "old": ["a.b.c"], "new": ["a.b.c", "a.b.d"]}),
    ...             {"Field:a.b.d": "金额"})
    >>> row["delta"], row["new_text"].splitlines()
    (['+ 金额 (a.b.d)'], ['- a.b.c', '- 金额 (a.b.d)'])
    """
    kind = change_form.REFERENCE_KINDS.get(str(entry.get("field")))
    if kind is None:
        return entry

    def word(node_id: str) -> str:
        name = names.get(f"{kind.value}:{node_id}")
        return f"{name} ({node_id})" if name else node_id

    out = dict(entry)
    for side in ("old", "new"):
        value = entry.get(side)
        if isinstance(value, str):
            out[f"{side}_text"] = word(value)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            out[f"{side}_text"] = "\n".join(f"- {word(v)}" for v in value)
    out["delta"] = [
        f"{d[:2]}{word(d[2:])}" if d[:2] in ("+ ", "− ") else d for d in entry.get("delta", [])
    ]
    return out
