"""``kpigraph inventory``: the 指标梳理清单 of seed 001 第一步, computed (analysis.inventory);
in and out of the seed's Excel layout (loaders.excel.inventory)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.common import emit_json, out, safe, store_options
from cli.help_text import Command
from core.i18n import N_, _

if TYPE_CHECKING:
    from analysis.inventory import Inventory
    from core.settings import Settings
    from store.base import GraphStore

#: message ids (shown through ``_`` in the language in use)
TEXT = {
    "title": N_("Metric inventory"),
    "unified": N_("Definitions unified {all} (core P0+P1: {core}) · {n} metrics"),
    "history": N_("Unified share by revision"),
    "written": N_("wrote {path}"),
    "imported": N_("{n} draft metric(s) added in {path}; {m} name(s) already defined"),
    "nothing": N_("nothing to add: every name is already in the catalog ({m})"),
    "need_catalog": N_("--import-xlsx needs --catalog DIR (the catalog the drafts are added to)"),
}


def percent(share: float | None) -> str:
    """``0.8`` → ``80.0%``; no rows → ``—``."""
    return "—" if share is None else f"{share * 100:.1f}%"


@click.command(cls=Command)
@click.option(
    "--catalog",
    "catalog_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="compute from a catalog directory (default: the stored graph)",
)
@click.option(
    "--history", is_flag=True, help="the unification rate after each revision of the store"
)
@click.option(
    "--xlsx",
    "xlsx_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write the inventory to this .xlsx (the seed's columns)",
)
@click.option(
    "--import-xlsx",
    "xlsx_in",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="add a draft metric to --catalog for each new name of this .xlsx",
)
@click.option("--force", is_flag=True, help="with --import-xlsx: replace an earlier import file")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@store_options
def inventory(
    catalog_dir: Path | None,
    history: bool,
    xlsx_out: Path | None,
    xlsx_in: Path | None,
    force: bool,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """The metric inventory (seed 001's columns: level, name, domain, priority, has a
    definition), the status computed from the card and lint, P0 first; the unification rate."""
    from analysis.inventory import inventory as compute
    from analysis.inventory import unified_history

    if xlsx_in is not None:
        if catalog_dir is None:
            raise click.UsageError(_(TEXT["need_catalog"]))
        from loaders.excel.inventory import import_inventory

        done = import_inventory(xlsx_in, catalog_dir, force=force)
        if done.file is None:
            out().print(safe(_(TEXT["nothing"], m=len(done.existing))))
        else:
            text = _(TEXT["imported"], n=len(done.created), path=done.file, m=len(done.existing))
            out().print(safe(text))
    if catalog_dir is not None:
        from loaders.catalog import load_catalog

        inv = compute(load_catalog(catalog_dir))
    else:
        inv = compute(store.catalog())
    points = unified_history(store) if history and catalog_dir is None else []
    if xlsx_out is not None:
        from loaders.excel.inventory import export_inventory

        export_inventory(inv, xlsx_out)
    if as_json:
        data = inv.to_json()
        if history:
            data["history"] = [p.to_json() for p in points]
        emit_json(data)
    else:
        _table(inv)
        if points:
            out().print(_(TEXT["history"]))
            for p in points:
                out().print(f"  #{p.revision}  {percent(p.unified)}  {safe(p.message or '')}")
    if xlsx_out is not None and not as_json:
        out().print(safe(_(TEXT["written"], path=xlsx_out)))


def _table(inv: Inventory) -> None:
    from rich.table import Table

    from analysis.inventory import COLUMN_WORDS, STATE_WORDS

    table = Table(title=_(TEXT["title"]))
    for col in COLUMN_WORDS:
        table.add_column(_(col))
    for row in inv.rows:
        cells = row.cells()
        cells[-1] = _(STATE_WORDS[cells[-1]]) if cells[-1] in STATE_WORDS else cells[-1]
        table.add_row(*(safe(c) for c in cells))
    console = out()
    console.print(table)
    line = _(
        TEXT["unified"], all=percent(inv.unified), core=percent(inv.core_unified), n=len(inv.rows)
    )
    console.print(line)
