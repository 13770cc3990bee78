"""``kpigraph values``, ``eval``, ``explain`` and ``check-values``: metric values, evaluation
standards, root cause and data quality. Numbers come from :mod:`values.service`, the same
functions the API and the /explain page call."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.common import emit_json, err, json_option, out, safe, store_options

if TYPE_CHECKING:
    from rich.console import Console

    from core.settings import Settings
    from store.base import GraphStore

values_dir_option = click.option(
    "--values-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="catalog directory holding values/, targets/ and data/ [env KPIGRAPH_VALUES_DIR; "
    "default: the directory the loaded catalog came from]",
)
PERIOD = click.option("--period", required=True, metavar="YYYY-MM", help="the month to look at")


def _setup(
    store: GraphStore, settings: Settings, values_dir: Path | None, ref: str
) -> tuple[Any, str]:
    from analysis.resolve import resolve_metric
    from values.service import engine_for

    engine = engine_for(store, values_dir or settings.values_dir)
    return engine, resolve_metric(store, ref).id


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4g}"


def _signed(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:+,.2f}" if abs(value) >= 1 or value == 0 else f"{value:+.4g}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2%}"


class _ValuesCommand(click.Command):
    """``kpigraph values REF`` — and ``kpigraph values refresh …`` (the values cache)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if args and args[0] == "refresh":
            from cli.values_refresh import refresh_cmd

            return refresh_cmd.make_context(f"{info_name} refresh", args[1:], parent, **extra)
        return super().make_context(info_name, args, parent, **extra)


@click.command("values", cls=_ValuesCommand)
@click.argument("ref")
@click.option("--by", metavar="DIM", default=None, help="one dimension id, e.g. store")
@click.option("--from", "start", metavar="YYYY-MM", default=None)
@click.option("--to", "end", metavar="YYYY-MM", default=None)
@values_dir_option
@json_option
@store_options
def values_cmd(
    ref: str,
    by: str | None,
    start: str | None,
    end: str | None,
    values_dir: Path | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Monthly values of a metric (observed, computed by its SQL, or derived)."""
    from values.service import values_report

    engine, mid = _setup(store, settings, values_dir, ref)
    report = values_report(engine, mid, by, start, end)
    if as_json:
        emit_json(report)
        return
    from rich.table import Table

    table = Table(
        title=f"{safe(report['name'])} ({safe(report['unit'] or '')}) · {report['source']}"
        + "".join(
            f" · {safe(m)} fetched {f['fetched_at']}{' (STALE)' if f['stale'] else ''}"
            for m, f in sorted(report.get("fetched", {}).items())
        )
    )
    table.add_column("period")
    if by:
        table.add_column(safe(by))
    table.add_column("value", justify="right")
    for row in report["rows"]:
        table.add_row(row["period"], *([safe(row[by])] if by else []), _num(row["value"]))
    out().print(table)


@click.command("eval")
@click.argument("ref")
@PERIOD
@click.option("--by", metavar="DIM", default=None, help="rank the members of this dimension")
@values_dir_option
@json_option
@store_options
def eval_cmd(
    ref: str,
    period: str,
    by: str | None,
    values_dir: Path | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Evaluate a metric: value, MoM, YoY, target attainment, rank, benchmark status."""
    from values.service import eval_report

    engine, mid = _setup(store, settings, values_dir, ref)
    report = eval_report(engine, mid, period, by)
    if as_json:
        emit_json(report)
        return
    from rich.table import Table

    table = Table(title=f"{safe(report['name'])} · {period}")
    for col in ("", "value", "MoM", "YoY", "target", "达成率", "rank", "benchmark"):
        table.add_column(col, justify="left" if col in ("", "benchmark") else "right")
    rows = [{"member": "合计 total", **report}, *report.get("members", [])]
    for r in rows:
        status = r.get("status") or {}
        table.add_row(
            safe(r["member"] or "合计 total"),
            _num(r["value"]),
            _pct(r["mom_pct"]),
            _pct(r["yoy_pct"]),
            _num(r["target"]),
            "—" if r["attainment"] is None else f"{r['attainment']:.1%}",
            str(r.get("rank") or "—") if r is not rows[0] else "",
            safe(", ".join(status.get("within", [])) or status.get("position", "")),
        )
    out().print(table)


@click.command("explain")
@click.argument("ref")
@PERIOD
@click.option("--base", default="mom", show_default=True, metavar="mom|yoy|target|YYYY-MM")
@click.option("--by", metavar="DIM1,DIM2", default=None, help="dimensions (default: the metric's)")
@click.option("--depth", type=click.IntRange(1, 6), default=3, show_default=True)
@click.option(
    "--localize",
    is_flag=True,
    help="also the root-cause set: the fewest member combinations across the dimensions "
    "that explain the change",
)
@values_dir_option
@json_option
@store_options
def explain_cmd(
    ref: str,
    period: str,
    base: str,
    by: str | None,
    depth: int,
    localize: bool,
    values_dir: Path | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Why did a metric move? Tree (sum / LMDI-I / Shapley), dimensions (rate/mix), causes."""
    from values.service import explain_report

    engine, mid = _setup(store, settings, values_dir, ref)
    dims = [d for d in by.split(",") if d] if by else None
    report = explain_report(store, engine, mid, period, base, dims, depth, localize)
    from analysis.definition_marks import metric_marks, with_definition_changes

    report = with_definition_changes(report, metric_marks(store, mid, settings.base_url))
    if as_json:
        emit_json(report)
    else:
        if report["definition_warning"]:
            out().print(f"[bold yellow]⚠ {safe(report['definition_warning'])}[/]")
        render_explanation(out(), report)


def render_explanation(console: Console, r: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.tree import Tree

    console.print(
        f"[bold]{safe(r['name'])}[/] {r['period']} vs {r['base_period'] or 'target'}: "
        f"{_num(r['base_value'])} → {_num(r['value'])} {safe(r['unit'] or '')}, "
        f"change {_signed(r['change'])} ({_pct(r['change_pct'])})"
    )
    tree = Tree(
        f"{safe(r['name'])} {_signed(r['change'])}" + (f"  [{r['method']}]" if r["method"] else "")
    )

    def add(parent: Tree, node: dict[str, Any]) -> None:
        share = "" if node["share"] is None else f" ({node['share']:+.1%})"
        method = f"  [{node['method']}]" if node["method"] else ""
        change = f"  Δ {_signed(node['change'])}" if node["ref"] else ""
        branch = parent.add(
            f"{safe(node['name'])}: {_signed(node['contribution'])}{share}{change}{method}"
        )
        for child in node["children"]:
            add(branch, child)

    for node in r["tree"]:
        add(tree, node)
    console.print(tree)
    for d in r["dimensions"]:
        ratio = d["method"] == "rate_mix"
        power = "" if d["top_share"] is None else f" = {d['top_share']:.0%}"
        table = Table(
            title=f"by {safe(d['dimension'])}: {d['explained_by']} of "
            f"{d['member_count']} members explain{power}"
        )
        for col in (
            "member",
            "base",
            "value",
            "contribution",
            "share",
            *(("rate", "mix") if ratio else ()),
        ):
            table.add_column(col, justify="left" if col == "member" else "right")
        for m in d["members"]:
            extra = (_signed(m["rate"]), _signed(m["mix"])) if ratio else ()
            share = "—" if m["share"] is None else f"{m['share']:.1%}"
            table.add_row(
                safe(m["member"]),
                _num(m["base_value"]),
                _num(m["value"]),
                _signed(m["contribution"]),
                share,
                *extra,
            )
        console.print(table)
    for d in r["drill"]:
        table = Table(title="drill " + " × ".join(safe(x) for x in d["dimensions"]))
        for col in ("members", "base", "value", "contribution", "share"):
            table.add_column(col, justify="left" if col == "members" else "right")
        for m in d["members"]:
            share = "—" if m["share"] is None else f"{m['share']:.1%}"
            table.add_row(
                safe(m["member"]),
                _num(m["base_value"]),
                _num(m["value"]),
                _signed(m["contribution"]),
                share,
            )
        console.print(table)
    if r.get("root_causes") is not None:
        table = Table(title="root causes (localize)")
        for col in ("members", "base", "value", "contribution", "confidence"):
            table.add_column(col, justify="left" if col == "members" else "right")
        for c in r["root_causes"]:
            table.add_row(
                safe(" ∧ ".join(f"{k}={v}" for k, v in c["members"].items())),
                _num(c["base_value"]),
                _num(c["value"]),
                _signed(c["contribution"]),
                f"{c['confidence']:.2f}",
            )
        console.print(table)
    if r["causes"]:
        console.print("[bold]causes[/] (evidence, not proof):")
        for c in r["causes"]:
            corr = "—" if c["correlation"] is None else f"{c['correlation']:+.2f} (n={c['n']})"
            console.print(
                f"  {safe(c['name'])} → {safe(c['effect_name'])} ({c['polarity']}, lag "
                f"{c['lag_months']} months): change {_signed(c['change'])}, r {corr}"
            )
    for note in r["notes"]:
        console.print(f"[dim]note:[/] {safe(note)}")
    for mid, f in sorted(r.get("fetched", {}).items()):  # values from the values cache
        stale = " [bold red]STALE[/]" if f["stale"] else ""
        console.print(f"[dim]cached:[/] {safe(mid)} fetched {f['fetched_at']}{stale}")


@click.command("check-values")
@click.option("--metric", "ref", default=None, help="only this metric (id)")
@click.option(
    "--catalog",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="check a catalog directory as it is on disk (definitions and values), without the store",
)
@values_dir_option
@json_option
@store_options
def check_values_cmd(
    ref: str | None,
    catalog: Path | None,
    values_dir: Path | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Data quality: identity mismatches, missing months, benchmark range, anomalies.
    Invalid value files are reported with file and line (exit 1)."""
    from values.service import engine_for, quality_report

    if catalog is not None:
        from loaders.catalog import load_catalog
        from values.definitions import GraphDefinitions
        from values.engine import ValuesEngine

        engine = ValuesEngine(catalog, GraphDefinitions(load_catalog(catalog)))
        ids = [ref] if ref else None
    else:
        from analysis.resolve import resolve_metric

        engine = engine_for(store, values_dir or settings.values_dir)
        ids = [resolve_metric(store, ref).id] if ref else None
    report = quality_report(engine, ids)
    if as_json:
        emit_json(report)
    else:
        from rich.table import Table

        table = Table(title=f"{len(report['findings'])} finding(s)")
        for col in ("check", "metric", "period", "member", "detail"):
            table.add_column(col)
        for f in report["findings"]:
            table.add_row(
                f["check"],
                safe(f["name"]),
                f["period"] or "",
                safe(f["member"] or ""),
                safe(f["detail"]),
            )
        out().print(table)
        for note in report["notes"]:
            err().print(f"note: {safe(note)}")
    if report["findings"]:
        raise SystemExit(1)  # findings: a non-zero exit for CI gates
