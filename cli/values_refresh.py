"""``kpigraph values refresh``: fill the values cache from the systems' warehouses
(:mod:`values.cache`). Reached as ``kpigraph values refresh …`` (see :mod:`cli.values`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.common import emit_json, err, json_option, out, safe, store_options
from cli.help_text import Command

if TYPE_CHECKING:
    from core.settings import Settings
    from store.base import GraphStore


@click.command("refresh", cls=Command)
@click.option("--metric", "refs", multiple=True, metavar="REF", help="only these metrics")
@click.option(
    "--from",
    "start",
    metavar="PERIOD",
    default=None,
    help="first period to fetch, included: YYYY-MM (YYYY-MM-DD for metrics kept by day; "
    "YYYY: from January) [default: the earliest the warehouse has]",
)
@click.option(
    "--to",
    "end",
    metavar="PERIOD",
    default=None,
    help="last period to fetch, included: YYYY-MM fetches that whole month, YYYY the whole "
    "year [default: the latest the warehouse has]",
)
@click.option("--system", default=None, metavar="ID", help="only metrics of this system")
@click.option("--full", is_flag=True, help="query every period again, cached or not")
@click.option(
    "--values-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="catalog directory [env KPIGRAPH_VALUES_DIR; default: where the catalog was loaded from]",
)
@json_option
@store_options
def refresh_cmd(
    refs: tuple[str, ...],
    start: str | None,
    end: str | None,
    system: str | None,
    full: bool,
    values_dir: Path | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Fetch metric values from the warehouse into the values cache (only what is missing)."""
    from rich.progress import Progress

    from analysis.resolve import resolve_metric
    from core.i18n import _
    from values.cache import refresh_engine
    from values.service import engine_for

    engine = engine_for(store, values_dir or settings.values_dir)
    ids = [resolve_metric(store, r).id for r in refs] or engine.defs.all_metric_ids()
    with Progress(console=err(), transient=True, disable=as_json) as bar:
        task = bar.add_task("refresh", total=len(ids))

        def step(mid: str) -> None:
            bar.update(task, advance=1, description=f"refresh {mid}")

        report = refresh_engine(
            engine, ids, start=start, end=end, system=system, full=full, progress=step
        )
    if as_json:
        emit_json(report.to_json())
    else:
        for mid, n in sorted(report.refreshed.items()):
            out().print(_("refreshed {metric}: {rows} rows", metric=safe(mid), rows=n))
        if report.unchanged:
            out().print(
                _("up to date: {metrics}", metrics=safe(", ".join(sorted(report.unchanged))))
            )
        for mid, why in sorted(report.skipped.items()):
            err().print(_("skipped {metric}: {why}", metric=safe(mid), why=safe(why)))
        for mid, why in sorted(report.failed.items()):
            err().print(_("failed {metric}: {why}", metric=safe(mid), why=safe(why)))
        if not (report.refreshed or report.unchanged or report.failed or report.skipped):
            # not silence: say why nothing was fetched (stdout stays empty for scripts)
            err().print(
                _(
                    "nothing to refresh: no metric asked reads a system with a warehouse "
                    "connection (give the system a 'connection:' in sources.yaml; see "
                    "README, 'Connect your warehouse')"
                )
            )
    if report.failed:
        raise SystemExit(1)
