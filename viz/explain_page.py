"""The /explain page: waterfall of the tree's first level, the metric tree, the ranked
dimension tables with rate/mix, the drill, causes and notes — all server-side SVG/HTML, the
words and numbers by :mod:`viz.explain_words`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from analysis.explain_dims import OTHER
from analysis.explain_time import LEVEL_NAMES, level_name
from core.i18n import _
from viz.charts import bar_svg, tree_svg, waterfall_svg
from viz.explain_words import (
    Scale,
    against_words,
    cause_change,
    column_scale,
    concentration_words,
    inverse_effect,
    is_count,
    method_words,
    number_in,
    share_words,
)
from viz.pages import render_page

#: display names: metric ref → unit; dimension id → name; (dimension, member) → name
Names = Mapping[str, Any]


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    out = [node]
    for child in node.get("children", []):
        out.extend(_walk(child))
    return out


def _tree_texts(root: dict[str, Any], change: float, units: Mapping[str, str | None]) -> None:
    """Add the display texts tree_svg draws: values in each node's own unit, contributions in
    the root's unit (one scale for the whole column), shares in words, divisors marked."""
    nodes = _walk(root)
    contrib_scale = column_scale(
        [n.get("contribution") for n in nodes],
        count=is_count(units.get(root.get("ref") or ""), [root.get("value")]),
    )
    for n in nodes:
        unit = units.get(n.get("ref") or "")
        own = column_scale(
            [n.get("value"), n.get("base_value")],
            count=is_count(unit, [n.get("value"), n.get("base_value")]),
        )
        title = n["name"]
        if n.get("method"):
            title += " · " + method_words(n["method"])
        n["title_text"] = title
        detail = f"{number_in(n.get('base_value'), own)} → {number_in(n.get('value'), own)}"
        if inverse_effect(n.get("change"), n.get("contribution")) and n is not root:
            detail += "  " + _("divisor: moves its parent the other way")
        n["detail_text"] = detail
        words = share_words(n.get("contribution"), change) if n is not root else ""
        contribution = number_in(n.get("contribution"), contrib_scale, signed=True)
        n["contribution_text"] = (
            _("{value} ({share})", value=contribution, share=words) if words else contribution
        )


def _rows(
    members: list[dict[str, Any]],
    change: float,
    count: bool,
    member_name: Callable[[str], str],
) -> tuple[list[dict[str, Any]], dict[str, Scale]]:
    values = [m.get("value") for m in members] + [m.get("base_value") for m in members]
    scales = {
        "value": column_scale(values, count=count),
        "contribution": column_scale([m["contribution"] for m in members], count=count),
        "rate": column_scale([m.get("rate") for m in members] + [m.get("mix") for m in members]),
    }
    top = max((abs(m["contribution"]) for m in members), default=0.0)
    rows = []
    for m in members:
        rows.append(
            {
                **m,
                "name": member_name(m["member"]),
                "bar": bar_svg(m["contribution"], top),
                "base_text": number_in(m.get("base_value"), scales["value"]),
                "value_text": number_in(m.get("value"), scales["value"]),
                "contribution_text": number_in(
                    m["contribution"], scales["contribution"], signed=True
                ),
                "share_text": share_words(m["contribution"], change),
                "rate_text": number_in(m.get("rate"), scales["rate"], signed=True),
                "mix_text": number_in(m.get("mix"), scales["rate"], signed=True),
            }
        )
    return rows, scales


def render_explain(
    report: dict[str, Any],
    *,
    catalog_name: str | None,
    by: str,
    depth: int,
    units: Mapping[str, str | None] | None = None,
    dimension_names: Mapping[str, str] | None = None,
    member_names: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """The page. ``units`` (metric ref → unit), ``dimension_names`` and ``member_names``
    (dimension → member → display name, from the catalog) make it read in the catalog's
    words; without them ids are shown."""
    units = dict(units or {})
    units.setdefault(f"Metric:{report['metric']}", report.get("unit"))
    dim_names = dimension_names or {}
    members_of = member_names or {}
    change = report["change"] or 0.0
    count = is_count(report.get("unit"), [report["value"], report["base_value"]])
    total_scale = column_scale([report["value"], report["base_value"]], count=count)
    change_scale = column_scale(
        [report["change"], *(n["contribution"] for n in report["tree"])], count=count
    )
    base_label = report["base_period"] or _("target")
    steps = [(n["name"], n["contribution"]) for n in report["tree"]]
    waterfall = (
        waterfall_svg(
            (base_label, report["base_value"]),
            steps,
            (report["period"], report["value"]),
            fmt=lambda v: number_in(v, total_scale),
            signed=lambda v: number_in(v, change_scale, signed=True),
            axis_note=_("(axis does not start at 0)"),
        )
        if steps
        else None
    )
    root = {
        "ref": f"Metric:{report['metric']}",
        "name": report["name"],
        "value": report["value"],
        "base_value": report["base_value"],
        "contribution": report["change"],
        "change": report["change"],
        "share": 1.0 if report["change"] else None,
        "method": report["method"],
        "children": report["tree"],
    }
    _tree_texts(root, change, units)

    def dim_name(dim: str) -> str:
        return dim_names.get(dim) or level_name(dim)  # the calendar's levels: 年/季/月/日

    def member_namer(dims: list[str]) -> Callable[[str], str]:
        def name(member: str) -> str:
            parts = member.split(" · ")
            if len(parts) != len(dims):
                return member
            return " · ".join(
                _(p) if p == OTHER else members_of.get(d, {}).get(p, p)
                for d, p in zip(dims, parts, strict=True)
            )

        return name

    dims = []
    for d in report["dimensions"]:
        rows, _scales = _rows(d["members"], change, count, member_namer([d["dimension"]]))
        for row in rows:  # a sub-period of time: which of the base's it is compared with
            row["name"] = against_words(row["name"], row.get("base_member"))
        dims.append(
            {
                **d,
                "title": dim_name(d["dimension"]),
                # time's members are the level's periods: "3 个月中的 1 个", not "3 个时间中的"
                "summary": concentration_words(
                    d["explained_by"],
                    d["member_count"],
                    d.get("top_share"),
                    dim_name(d["level"] if d.get("level") in LEVEL_NAMES else d["dimension"]),
                ),
                "rows": rows,
                "path": [
                    {
                        **step,
                        "level_name": dim_name(step["level"]),
                        "name": against_words(
                            member_namer([step["level"]])(step["member"]), step.get("base_member")
                        ),
                        "contribution_text": number_in(
                            step["contribution"], change_scale, signed=True
                        ),
                        "share_text": share_words(step["contribution"], change),
                    }
                    for step in (d.get("hierarchy") or {}).get("path", [])
                ],
            }
        )
    drill = []
    for d in report["drill"]:
        rows, _scales = _rows(d["members"], change, count, member_namer(list(d["dimensions"])))
        drill.append({**d, "title": " × ".join(dim_name(x) for x in d["dimensions"]), "rows": rows})
    causes = [
        {
            **c,
            "change_text": cause_change(
                c.get("change"), units.get(c["cause"]), c.get("base_value")
            ),
        }
        for c in report.get("causes", [])
    ]
    root_causes = [
        {
            "members": " ∧ ".join(
                f"{dim_name(k)}={member_namer([k])(str(v))}" for k, v in c["members"].items()
            ),
            "base_text": number_in(c.get("base_value"), total_scale),
            "value_text": number_in(c.get("value"), total_scale),
            "contribution": c.get("contribution"),
            "contribution_text": number_in(c.get("contribution"), change_scale, signed=True),
            "confidence": c.get("confidence") or 0.0,
        }
        for c in report.get("root_causes") or []
    ]
    return render_page(
        "explain.html",
        catalog_name=catalog_name,
        r=report,
        root_causes=root_causes,
        value_text=number_in(report["value"], total_scale),
        base_value_text=number_in(report["base_value"], total_scale),
        change_text=number_in(report["change"], change_scale, signed=True),
        method_text=method_words(report["method"]),
        base_name=_base_name(report),
        base_options=_base_options(report),
        refresh_every=_refresh_every(),
        waterfall=waterfall,
        tree=tree_svg(root),
        dims=dims,
        drill=drill,
        causes=causes,
        by=by,
        # an example of what ``by`` takes, in this catalog's dimension ids (not the demo's)
        by_example=",".join(list(dim_names)[:2]),
        depth=depth,
    )


def _refresh_every() -> str | None:
    """The schedule of ``serve --refresh-every`` (seconds), when the server runs one."""
    from values.scheduler import current_status

    every = current_status().get("every")
    return f"{every:g}" if every else None


def _base_options(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The form's "compared with" choices that fit the period's grain."""
    from graph_schema.calendar import DEFAULT, STEP_BASES

    try:
        grain = DEFAULT.grain_of(str(report["period"]))
    except ValueError:
        grain = "month"
    names = {
        "mom": _("previous month"),
        "qoq": _("previous quarter"),
        "wow": _("previous week"),
        "dod": _("previous day"),
    }
    steps = [(k, names[k]) for k, grains in STEP_BASES.items() if grain in grains]
    yoy = _("same month last year") if grain == "month" else _("same period last year")
    return [*steps, ("yoy", yoy), ("target", _("target"))]


def _base_name(report: Mapping[str, Any]) -> str:
    """What the period is compared with, in words (a period of another grain than a month
    says "same period last year")."""
    base = report["base"]
    if base == "yoy":
        month = len(str(report["period"])) == 7 and str(report["period"])[4] == "-"
        return _("same month last year") if month else _("same period last year")
    names = {
        "mom": _("previous month"),
        "qoq": _("previous quarter"),
        "wow": _("previous week"),
        "dod": _("previous day"),
    }
    return names.get(base, _("target"))


def catalog_names(store: Any, report: Mapping[str, Any]) -> dict[str, Any]:
    """``units``, ``dimension_names`` and ``member_names`` for :func:`render_explain`, read
    from the catalog in ``store`` (units of the tree's and the causes' metrics; dimensions
    by their name in the language in use; members by the dimension's ``members:``)."""
    from core.i18n import current
    from graph_schema.ids import NodeKind, NodeRef

    refs = [f"Metric:{report['metric']}"]
    refs += [n["ref"] for n in _walk({"children": report.get("tree", [])})[1:] if n.get("ref")]
    refs += [c["cause"] for c in report.get("causes", [])]
    dims = {d["dimension"] for d in report.get("dimensions", [])}
    for d in report.get("drill", []):
        dims.update(d["dimensions"])
    for d in report.get("dimensions", []):
        dims.update((d.get("hierarchy") or {}).get("levels", []))
    wanted = [NodeRef.parse(r) for r in refs] + [NodeRef(NodeKind.DIMENSION, d) for d in dims]
    nodes = store.get_nodes(wanted)
    units: dict[str, str | None] = {}
    dim_names: dict[str, str] = {}
    member_names: dict[str, dict[str, str]] = {}
    for ref, node in nodes.items():
        if ref.kind is NodeKind.METRIC:
            units[str(ref)] = getattr(node, "unit", None)
        else:
            english = getattr(node, "name_en", None)
            dim_names[ref.id] = english if current() == "en" and english else node.name
            member_names[ref.id] = dict(getattr(node, "members", None) or {})
    return {"units": units, "dimension_names": dim_names, "member_names": member_names}


def member_label(dimensions: Iterable[Any]) -> Callable[[str | None], str]:
    """``order_type=bodyshop`` (a finding's member) → ``工单类型：钣喷``: the dimension's name in
    the language in use and the member's display name (the dimension's ``members:``).

    >>> from types import SimpleNamespace as N
    >>> from core.i18n import use
    >>> dim = N(id="order_type", name="工单类型", name_en="Order type",
    ...         members={"bodyshop": "钣喷"})
    >>> with use("zh"):
    ...     member_label([dim])("order_type=bodyshop"), member_label([dim])(None)
    ('工单类型：钣喷', '')
    """
    from core.i18n import current

    by_id = {d.id: d for d in dimensions}

    def label(member: str | None) -> str:
        if not member:
            return ""
        dim, _sep, value = member.partition("=")
        node = by_id.get(dim)
        if node is None:
            return member
        english = getattr(node, "name_en", None)
        name = english if current() == "en" and english else node.name
        shown = (getattr(node, "members", None) or {}).get(value, value)
        return _("{dimension}: {member}", dimension=name, member=shown)

    return label


def store_dimensions(store: Any) -> list[Any]:
    """Every dimension node of the catalog in ``store``."""
    from graph_schema.ids import NodeKind
    from store.base import SearchQuery

    return list(store.search(SearchQuery(kinds=frozenset({NodeKind.DIMENSION}), limit=1000)).items)
