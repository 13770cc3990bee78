"""Two metric definitions side by side, field by field (seed 001: 对比不同指标的定义差异).

The case it is built for is the seed's opening story: five store managers, five 客单价 —
总营收/进厂台次, 总营收/有效工单数, 工时收入/进厂台次, 总营收/付费客户数, 总营收/保养维修台次 —
each with its own includes and excludes. A comparison lists every field of the definition
template that either side fills, says whether they agree, and for list-like fields (caliber
includes / excludes, fields, dimensions) which items only one side has.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from analysis.resolve import not_found
from core.i18n import N_, _
from graph_schema.errors import InvalidQueryError
from graph_schema.formula import names_in
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import Metric
from graph_schema.revisions import ChangeClass
from graph_schema.versions import field_changes
from store.base import GraphStore

#: Template order and the card's labels (指标定义模板, seed 001), as message ids.
LABELS: dict[str, str] = {
    "name": N_("Name"),
    "name_en": N_("English name"),
    "abbr": N_("Abbreviation"),
    "level": N_("Level"),
    "domain": N_("Domain"),
    "owner": N_("Owner"),
    "reviewer": N_("Reviewer"),
    "status": N_("Status"),
    "definition": N_("What it measures"),
    "meaning": N_("Business meaning"),
    "formula": N_("Formula"),
    "drivers": N_("Driver breakdown"),
    "unit": N_("Unit"),
    "aggregation": N_("Aggregation"),
    "example": N_("Worked example"),
    "caliber.numerator": N_("Numerator scope"),
    "caliber.denominator": N_("Denominator scope"),
    "caliber.scope": N_("Scope of the count"),
    "caliber.time": N_("Time range"),
    "caliber.rules": N_("Counting rules"),
    "atomic": N_("Atomic metric"),
    "qualifiers": N_("Qualifiers"),
    "window": N_("Time window"),
    "data_source": N_("Data source"),
    "fields": N_("Source fields"),
    "sql": N_("SQL"),
    "dimensions": N_("Analysis dimensions"),
    "causes": N_("Causes"),
    "rolls_up_to": N_("Rolls up to"),
    "parallel": N_("Parallel metrics"),
    "dashboards": N_("Dashboards"),
    "use_cases": N_("Use cases"),
    "benchmarks": N_("Industry benchmarks"),
    "caveats": N_("Caveats"),
    "special_cases": N_("Special cases"),
    "update_frequency": N_("Data refresh"),
    "review_policy": N_("Definition review"),
    "version": N_("Version"),
    "history": N_("Version history"),
    "contacts": N_("Contacts"),
    "tags": N_("Tags"),
    "priority": N_("Priority"),
    "role": N_("Metric role"),
    "horizon": N_("Leading, process or lagging"),
}
#: Not compared: identity, and per-tool leftovers of importers.
SKIPPED = frozenset({"id", "extra"})


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class CompareRow(_Out):
    field: str
    label: str
    a: Any = None
    b: Any = None
    same: bool
    change_class: ChangeClass | None = Field(
        default=None, description="the class a change from a to b would have"
    )
    only_a: list[str] = Field(default_factory=list, description="items only a has")
    only_b: list[str] = Field(default_factory=list, description="items only b has")


class Comparison(_Out):
    a: str
    b: str
    a_name: str
    b_name: str
    rows: list[CompareRow]
    differing: list[str] = Field(description="fields that differ, in template order")
    change_class: ChangeClass | None = Field(
        description="how far apart the definitions are (major: they compute different numbers)"
    )
    names: dict[str, str] = Field(
        default_factory=dict,
        description="metric id → name for the metrics the two formulas name (for display)",
    )


def compare_metrics(a: Metric, b: Metric) -> Comparison:
    """Compare two metrics field by field.

    Examples
    --------
    >>> gz = Metric(id="atp_gz", name="客单价(广州)", formula="revenue / visits",
    ...             caliber={"numerator": {"includes": ["工时", "配件", "增值服务"]}})
    >>> sh = Metric(id="atp_sh", name="客单价(上海)", formula="revenue / valid_orders",
    ...             caliber={"numerator": {"includes": ["工时", "配件", "增值服务", "保险理赔"]}})
    >>> c = compare_metrics(gz, sh)
    >>> c.differing, c.change_class.value
    (['name', 'formula', 'caliber.numerator'], 'major')
    >>> row = next(r for r in c.rows if r.field == "caliber.numerator")
    >>> row.only_a, row.only_b
    ([], ['包含：保险理赔'])
    """
    pa, pb = _flat(a.props()), _flat(b.props())
    changes = {c.field: c for c in field_changes(a.props(), b.props(), classify=True)}
    rows: list[CompareRow] = []
    for name in _order(set(pa) | set(pb)):
        va, vb = pa.get(name), pb.get(name)
        if _empty(va) and _empty(vb):
            continue  # neither side fills it
        change = changes.get(name)
        only_a, only_b = _items(va), _items(vb)
        rows.append(
            CompareRow(
                field=name,
                label=_(LABELS[name]) if name in LABELS else name,
                a=va,
                b=vb,
                same=va == vb,
                change_class=change.change_class if change else None,
                only_a=[i for i in only_a if i not in only_b] if va != vb else [],
                only_b=[i for i in only_b if i not in only_a] if va != vb else [],
            )
        )
    differing = [r.field for r in rows if not r.same]
    classes = [r.change_class for r in rows if not r.same and r.change_class]
    return Comparison(
        a=str(a.ref),
        b=str(b.ref),
        a_name=a.name,
        b_name=b.name,
        rows=rows,
        differing=differing,
        change_class=max(classes, key=lambda c: c.rank) if classes else None,
    )


def compare_refs(store: GraphStore, a: NodeRef, b: NodeRef) -> Comparison:
    """Compare two loaded metrics (``a`` and ``b`` must both be metrics)."""
    for ref in (a, b):
        if ref.kind is not NodeKind.METRIC:
            raise InvalidQueryError(_("{ref} is not a metric; compare takes two metrics", ref=ref))
    nodes = store.get_nodes([a, b])
    for ref in (a, b):
        if ref not in nodes:
            raise not_found(store, ref)
    ma, mb = nodes[a], nodes[b]
    assert isinstance(ma, Metric) and isinstance(mb, Metric)
    inputs = {NodeRef(NodeKind.METRIC, n) for n in names_in([ma.formula, mb.formula])}
    names = {ref.id: label.name for ref, label in store.labels(inputs).items()}
    return compare_metrics(ma, mb).model_copy(update={"names": names})


def _flat(props: dict[str, Any]) -> dict[str, Any]:
    """Properties with ``caliber`` split into its parts, ``id`` and ``extra`` dropped."""
    out = {k: v for k, v in props.items() if k not in SKIPPED and k != "caliber"}
    for part, value in (props.get("caliber") or {}).items():
        out[f"caliber.{part}"] = value
    return out


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


def _order(names: set[str]) -> list[str]:
    known = [n for n in LABELS if n in names]
    return known + sorted(names - set(LABELS))


def _items(value: Any) -> list[str]:
    """Comparable items of a list-like value: list elements, or ``includes: x`` / ``excludes:
    y`` of a scope."""
    if isinstance(value, list):
        return [display(v) for v in value]
    if isinstance(value, dict) and set(value) <= {"includes", "excludes"}:
        return [
            _(KEY_WORDS[key]) + _(": ") + str(item)
            for key in ("includes", "excludes")
            for item in value.get(key, [])
        ]
    return []


def change_text(old: Any, new: Any, limit: int = 80) -> str:
    """``old → new`` in one line; for two lists, only what was added and removed.

    Examples
    --------
    >>> change_text(["a", "b"], ["b", "c"])
    '+c −a'
    >>> change_text("revenue / visits", "labor_revenue / visits")
    'revenue / visits → labor_revenue / visits'
    """
    if isinstance(old, list) and isinstance(new, list):
        added = [display(v) for v in new if v not in old]
        removed = [display(v) for v in old if v not in new]
        text = " ".join([*(f"+{a}" for a in added), *(f"−{r}" for r in removed)]) or "reordered"
    else:
        text = f"{_clip(display(old), limit // 2)} → {_clip(display(new), limit // 2)}"
    return _clip(text, limit * 2)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def display(value: Any) -> str:
    """One line of text for a property value (lists joined with 、, mappings as k: v).

    Examples
    --------
    >>> from core.i18n import use
    >>> with use("en"):
    ...     display({"includes": ["工时", "配件"], "excludes": ["洗车"]})
    'Includes: 工时, 配件; Excludes: 洗车'
    >>> with use("zh"):
    ...     display({"includes": ["工时", "配件"], "excludes": ["洗车"]})
    '包含：工时、配件；不含：洗车'
    >>> display(None)
    '—'
    """
    if value is None or value == [] or value == {}:
        return "—"
    if isinstance(value, list):
        return _(", ").join(display(v) for v in value)
    if isinstance(value, dict):
        return _("; ").join(
            (_(KEY_WORDS[k]) if k in KEY_WORDS else str(k)) + _(": ") + display(v)
            for k, v in value.items()
        )
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 1800.0 → 1800
    return str(value)


#: keys inside a definition's mappings (caliber parts, benchmarks, contacts), in words
KEY_WORDS = {
    "includes": N_("Includes"),
    "excludes": N_("Excludes"),
    "description": N_("Description"),
    "name": N_("Name"),
    "min": N_("Min"),
    "max": N_("Max"),
    "source": N_("Source"),
    "unit": N_("Unit"),
    "business": N_("Business owner"),
    "technical": N_("Technical owner"),
    "data_support": N_("Data support"),
    "metric": N_("Metric"),
    "polarity": N_("Polarity"),
    "lag": N_("Lag"),
    "note": N_("Note"),
    "label": N_("Label"),
    "version": N_("Version"),
    "date": N_("Date"),
    "change": N_("Change"),
    "author": N_("Author"),
    "reason": N_("Reason"),
}
