"""``kpigraph values``, ``eval``, ``explain`` and ``check-values``: metric values, evaluation
standards, root cause and data quality. Numbers come from :mod:`values.service`, the same
functions the API and the /explain page call."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.common import emit_json, err, json_option, out, safe, store_options
from cli.help_text import Command
from core.i18n import _
from graph_schema.calendar import GRAINS
from viz.labels import word

if TYPE_CHECKING:
    from core.settings import Settings
    from store.base import GraphStore

values_dir_option = click.option(
    "--values-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="catalog directory holding values/, targets/ and data/ [env KPIGRAPH_VALUES_DIR; "
    "default: the directory the loaded catalog came from]",
)
PERIOD = click.option(
    "--period",
    required=True,
    metavar="PERIOD",
    help="the period to look at: YYYY, YYYY-Qn, YYYY-MM, YYYY-Www (ISO week), YYYY-MM-DD, "
    "FY2026, FY2026-Qn (fiscal year, named after the year it ends in), R2026, R2026-Qn, "
    "R2026-Mmm, R2026-Www (retail 4-5-4)",
)


def _setup(
    store: GraphStore, settings: Settings, values_dir: Path | None, ref: str
) -> tuple[Any, str]:
    from analysis.resolve import resolve_metric
    from values.service import engine_for

    engine = engine_for(store, values_dir or settings.values_dir)
    return engine, resolve_metric(store, ref).id


class _ValuesCommand(Command):
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
@click.option("--from", "start", metavar="PERIOD", default=None, help="first period (any grain)")
@click.option("--to", "end", metavar="PERIOD", default=None, help="last period (any grain)")
@click.option(
    "--grain",
    "period_grain",
    type=click.Choice(GRAINS),
    default=None,
    help="roll the values up to this grain by the metric's aggregation (default: as stored)",
)
@values_dir_option
@json_option
@store_options
def values_cmd(
    ref: str,
    by: str | None,
    start: str | None,
    end: str | None,
    period_grain: str | None,
    values_dir: Path | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Values of a metric by period, rolled up to any grain (observed, by its SQL, or derived)."""
    from values.service import check_dimensions, values_report

    engine, mid = _setup(store, settings, values_dir, ref)
    by = check_dimensions(store, [by])[0] if by else None  # --by shop: exit 2, "store?"
    report = values_report(engine, mid, by, start, end, period_grain)
    if as_json:
        emit_json(report)
        return
    from rich.table import Table

    from viz.explain_words import column_scale, is_count, number_in

    fetched = fetched_lines(report)
    unit = f" ({safe(report['unit'])})" if report["unit"] else ""
    # the title is a line of its own (a table's title wraps to the table's narrow width);
    # when the inputs were fetched goes under the table
    out().print(
        "[bold]" + " · ".join([f"{safe(report['name'])}{unit}", word(report["source"])]) + "[/]"
    )
    table = Table()
    table.add_column(_("period"))
    if by:
        table.add_column(safe(by))
    table.add_column(_("metric value"), justify="right")  # 数值: a period's, not 本期
    numbers = [row["value"] for row in report["rows"]]
    scale = column_scale(numbers, count=is_count(report["unit"], numbers))  # 万 in zh
    for row in report["rows"]:
        table.add_row(
            row["period"], *([safe(row[by])] if by else []), number_in(row["value"], scale)
        )
    out().print(table)
    for line in fetched:
        out().print(f"[dim]{line}[/]")
    for period, (have, total) in sorted(report.get("partial", {}).items()):
        partial = _(
            "{period} has values for {have} of its {total} months/days; "
            "its figures cover those only",
            period=period,
            have=have,
            total=total,
        )
        out().print("[dim]" + _("note: {note}", note=partial) + "[/]")


@click.command("eval", cls=Command)
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
    from values.service import check_dimensions, eval_report

    engine, mid = _setup(store, settings, values_dir, ref)
    by = check_dimensions(store, [by])[0] if by else None  # --by shop: exit 2, "store?"
    report = eval_report(engine, mid, period, by)
    if as_json:
        emit_json(report)
        return
    from rich.table import Table

    from core.i18n import percent, percent_change
    from viz.explain_words import column_scale, is_count, number_in

    table = Table(title=f"{safe(report['name'])} · {period}")
    # a quarter, year, week …: the periods it is compared with, named (a year's period before
    # is the year before: one column)
    before, year_before = report["previous_period"], report.get("year_before_period")
    changes = {"mom_pct": _("Month on month"), "yoy_pct": _("Year on year")}
    if report.get("grain") != "month":
        changes = {"mom_pct": _("vs {period}", period=before)}
        if year_before and year_before != before:
            changes["yoy_pct"] = _("vs {period}", period=year_before)
    columns = ("", _("Value"), *changes.values(), _("Target"))
    for col in (*columns, _("Attainment"), _("Rank")):
        table.add_column(col, justify="left" if not col else "right")
    table.add_column(_("Benchmark"))
    rows = [{"member": _("Total"), **report}, *report.get("members", [])]
    # one scale for values and targets (万 in zh; whole numbers for counts)
    numbers = [v for r in rows for v in (r["value"], r["target"])]
    values_only = [r["value"] for r in rows]
    scale = column_scale(numbers, count=is_count(report.get("unit"), values_only))
    for r in rows:
        status = r.get("status") or {}
        table.add_row(
            safe(r["member"] or _("Total")),
            number_in(r["value"], scale),
            *(percent_change(r[key], digits=2) for key in changes),
            number_in(r["target"], scale),
            percent(r["attainment"], digits=1),
            str(r.get("rank") or "—") if r is not rows[0] else "",
            safe(", ".join(status.get("within", [])) or word(status.get("position") or "")),
        )
    out().print(table)
    for note in report.get("notes", []):
        out().print(safe(note))
    for line in fetched_lines(report):  # values read from the values cache
        out().print(f"[dim]{line}[/]")


@click.command("explain", cls=Command)
@click.argument("ref")
@PERIOD
@click.option(
    "--base",
    default=None,
    metavar="mom|qoq|wow|dod|yoy|target|PERIOD",
    help="the previous month/quarter/week/day, the same period a year before (same calendar), "
    "the targets, or a period of the same grain  [default: the period before, of the "
    "period's grain: mom, qoq, wow, dod; yoy for a year]",
)
@click.option("--by", metavar="DIM1,DIM2", default=None, help="dimensions (default: the metric's)")
@click.option(
    "--depth",
    type=click.IntRange(1, 6),
    default=3,
    show_default=True,
    help="how many levels of the metric's inputs to explain",
)
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
    base: str | None,
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
        from cli.explain_render import render_explanation
        from viz.explain_page import catalog_names

        render_explanation(out(), report, catalog_names(store, report))


@click.command("check-values", cls=Command)
@click.option("--metric", "ref", default=None, help="only this metric (id)")
@click.option(
    "--catalog",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="check a catalog directory as it is on disk (definitions and values), without the store",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info", "never"]),
    default="error",
    show_default=True,
    help="exit 1 when a finding is at least this severe (data slips are warnings, anomalies info)",
)
@values_dir_option
@json_option
@store_options
def check_values_cmd(
    ref: str | None,
    catalog: Path | None,
    fail_on: str,
    values_dir: Path | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Data quality: identity mismatches and missing months first (data slips), then benchmark
    range and anomalies. Invalid value files are reported with file and line (exit 1)."""
    from core.i18n import _, ngettext
    from loaders.catalog import load_catalog
    from values.service import engine_for, quality_report
    from viz.labels import translate

    if catalog is not None:
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

        from viz.explain_page import member_label, store_dimensions

        if catalog is not None:
            dims = [n for n in load_catalog(catalog).nodes if n.ref.kind.value == "Dimension"]
        else:
            dims = store_dimensions(store)
        member = member_label(dims)

        n = len(report["findings"])
        table = Table(title=ngettext("%(num)s finding", "%(num)s findings", n) % {"num": n})
        for col in (_("severity"), _("check"), _("metric"), _("period"), _("member"), _("detail")):
            table.add_column(col)
        for f in report["findings"]:
            table.add_row(
                translate(f["severity"]),
                translate(f["check"]),
                safe(f["name"]),
                f["period"] or "",
                safe(member(f["member"])),
                safe(f["detail"]),
            )
        out().print(table)
        for note in report["notes"]:
            err().print(_("note: {note}", note=safe(note)))
    from values.service import SEVERITY_RANK

    limit = SEVERITY_RANK.get(fail_on)
    if limit is not None and any(SEVERITY_RANK[f["severity"]] <= limit for f in report["findings"]):
        raise SystemExit(1)  # findings at or above --fail-on: a non-zero exit for CI gates


def fetched_lines(report: dict[str, Any]) -> list[str]:
    """When the values a report read from the values cache were fetched (``"fetched"`` of
    :func:`values.service.fetched`), one line per metric, STALE marked."""
    return [
        _("{metric} fetched {time}", metric=safe(m), time=f["fetched_at"])
        + (" (" + _("STALE") + ")" if f["stale"] else "")
        for m, f in sorted(report.get("fetched", {}).items())
    ]
