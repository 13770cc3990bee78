"""``kpigraph explain`` in the terminal, read the way the /explain page reads
(:mod:`viz.explain_words`): one number style per column, shares in words, real minus signs,
method names in words, divisors marked, causes in their own unit, members by display names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from analysis.explain_dims import OTHER
from analysis.explain_time import LEVEL_NAMES, level_name
from cli.common import safe
from core.i18n import _, ngettext, percent_change
from viz.explain_words import (
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


def render_explanation(
    console: Console, r: dict[str, Any], names: Mapping[str, Any] | None = None
) -> None:
    names = names or {}
    units: Mapping[str, str | None] = names.get("units", {})
    dim_names: Mapping[str, str] = names.get("dimension_names", {})
    members_of: Mapping[str, Mapping[str, str]] = names.get("member_names", {})
    change = r["change"] or 0.0
    count = is_count(r.get("unit"), [r["value"], r["base_value"]])
    total = column_scale([r["value"], r["base_value"]], count=count)
    contributions = column_scale(
        [r["change"], *(n["contribution"] for n in r["tree"])], count=count
    )
    base_label = r["base_period"] or _("target")
    unit = f" {safe(r['unit'])}" if r.get("unit") else ""
    moved = _("change {change}", change=number_in(r["change"], contributions, signed=True))
    if r.get("change_pct") is not None:
        moved += _(" ({text})", text=percent_change(r["change_pct"]))
    console.print(
        _(
            "{name} {period} vs {base}: {before} → {after}{unit}, {change}",
            name=f"[bold]{safe(r['name'])}[/]",
            period=r["period"],
            base=base_label,
            before=number_in(r["base_value"], total),
            after=number_in(r["value"], total),
            unit=unit,
            change=moved,
        )
    )
    # escaped: rich would take "[log-mean split …]" for a style tag and drop it (English)
    method = "  " + safe(f"[{method_words(r['method'])}]") if r["method"] else ""
    tree = Tree(f"{safe(r['name'])} {number_in(r['change'], contributions, signed=True)}{method}")

    def add(parent: Tree, node: dict[str, Any]) -> None:
        own_unit = units.get(node.get("ref") or "")
        own = column_scale(
            [node.get("value"), node.get("base_value")],
            count=is_count(own_unit, [node.get("value"), node.get("base_value")]),
        )
        words = share_words(node["contribution"], change)
        moved = (
            f"  Δ {number_in(node['change'], own, signed=True)}"
            if node.get("ref") and node.get("change") is not None
            else ""
        )
        divisor = (
            "  " + _("divisor: moves its parent the other way")
            if inverse_effect(node.get("change"), node["contribution"])
            else ""
        )
        how = "  " + safe(f"[{method_words(node['method'])}]") if node.get("method") else ""
        branch = parent.add(
            _(
                "{label}: {value}",
                label=safe(node["name"]),
                value=number_in(node["contribution"], contributions, signed=True),
            )
            + (_(" ({text})", text=words) if words else "")
            + f"{moved}{divisor}{how}"
        )
        for child in node["children"]:
            add(branch, child)

    for node in r["tree"]:
        add(tree, node)
    console.print(tree)

    def member_name(dims: list[str], member: str) -> str:
        parts = member.split(" · ")
        if len(parts) != len(dims):
            return member
        return " · ".join(
            _(p) if p == OTHER else members_of.get(d, {}).get(p, p)
            for d, p in zip(dims, parts, strict=True)
        )

    def table_of(title: str, dims: list[str], members: list[dict[str, Any]], ratio: bool) -> None:
        values = column_scale(
            [m["value"] for m in members] + [m["base_value"] for m in members], count=count
        )
        contrib = column_scale([m["contribution"] for m in members], count=count)
        effects = column_scale([m.get("rate") for m in members] + [m.get("mix") for m in members])
        table = Table(title=title, title_justify="left")
        headers = [_("Member"), _("Base"), _("This period"), _("Contribution"), _("Share")]
        if ratio:
            headers += [_("Rate effect"), _("Mix effect")]
        for i, header in enumerate(headers):
            table.add_column(header, justify="left" if i == 0 else "right")
        for m in members:
            extra = (
                (
                    number_in(m["rate"], effects, signed=True),
                    number_in(m["mix"], effects, signed=True),
                )
                if ratio
                else ()
            )
            table.add_row(
                safe(against_words(member_name(dims, m["member"]), m.get("base_member"))),
                number_in(m["base_value"], values),
                number_in(m["value"], values),
                number_in(m["contribution"], contrib, signed=True),
                share_words(m["contribution"], change),
                *extra,
            )
        console.print(table)

    for d in r["dimensions"]:
        dim = dim_names.get(d["dimension"], d["dimension"])
        # time's members are the level's periods: "3 个月中的 1 个", not "3 个时间中的"
        noun = level_name(d["level"]) if d.get("level") in LEVEL_NAMES else dim
        summary = concentration_words(d["explained_by"], d["member_count"], d["top_share"], noun)
        title = _("By %(dimension)s") % {"dimension": safe(dim)} + (
            _(": ") + summary if summary else ""
        )
        table_of(title, [d["dimension"]], d["members"], d["method"] == "rate_mix")
        path = (d.get("hierarchy") or {}).get("path") or []
        if path:
            steps = column_scale([s["contribution"] for s in path], count=count)

            def step_name(s: dict[str, Any]) -> str:
                name = members_of.get(s["level"], {}).get(s["member"], s["member"])
                return against_words(name, s.get("base_member"))

            console.print(
                "[bold]"
                + _("Down the hierarchy of %(dimension)s") % {"dimension": safe(dim)}
                + "[/]: "
                + " → ".join(
                    f"{safe(dim_names.get(s['level']) or level_name(s['level']))} "
                    f"{safe(step_name(s))} "
                    f"{number_in(s['contribution'], steps, signed=True)} "
                    f"({share_words(s['contribution'], change)})"
                    for s in path
                )
            )
    for d in r["drill"]:
        title = (
            _("Drill-down") + " " + " × ".join(safe(dim_names.get(x, x)) for x in d["dimensions"])
        )
        table_of(title, list(d["dimensions"]), d["members"], False)
    if r["causes"]:
        title, caveat = _("Possible causes"), _("evidence of correlation, not proof of cause")
        console.print(_("{title} ({caveat}):", title=f"[bold]{title}[/]", caveat=caveat))
        for c in r["causes"]:
            corr = (
                "—"
                if c["correlation"] is None
                else f"{c['correlation']:+.2f}".replace("-", "−") + f" (n={c['n']})"
            )
            lag = ngettext("%(num)s month", "%(num)s months", c["lag_months"]) % {
                "num": c["lag_months"]
            }
            moved = cause_change(c.get("change"), units.get(c["cause"]), c.get("base_value"))
            console.print(
                "  "
                + _(
                    "{cause} → {effect} ({polarity}, lag {lag}): change {change}, r {r}",
                    cause=safe(c["name"]),
                    effect=safe(c["effect_name"]),
                    polarity=c["polarity"],
                    lag=lag,
                    change=moved,
                    r=corr,
                )
            )
    if r.get("root_causes") is not None:
        table = Table(title=_("Root causes (localize)"))
        for col in (_("Members"), _("Base"), _("Value"), _("Contribution"), _("Confidence")):
            table.add_column(col, justify="right")
        for c in r["root_causes"]:
            table.add_row(
                safe(
                    " ∧ ".join(
                        f"{dim_names.get(k, k)}={members_of.get(k, {}).get(v, v)}"
                        for k, v in c["members"].items()
                    )
                ),
                number_in(c["base_value"], total),
                number_in(c["value"], total),
                number_in(c["contribution"], contributions, signed=True),
                f"{c['confidence']:.2f}",
            )
        console.print(table)
    for note in r["notes"]:
        console.print("[dim]" + _("note: {note}", note=safe(note)) + "[/]")
    for mid, f in sorted(r.get("fetched", {}).items()):  # values from the values cache
        stale = " [bold red]" + _("STALE") + "[/]" if f["stale"] else ""
        console.print("[dim]" + _("cached:") + f"[/] {safe(mid)} {f['fetched_at']}{stale}")
