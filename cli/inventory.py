"""``kpigraph inventory``: the 指标梳理清单 of seed 001 第一步, computed (analysis.inventory);
in and out of the seed's Excel layout (loaders.excel.inventory)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.common import emit_json, out, safe, store_options

if TYPE_CHECKING:
    from analysis.inventory import Inventory
    from core.settings import Settings
    from store.base import GraphStore

TEXT = {
    "title": "指标梳理清单",
    "unified": "指标定义统一度 {all} (核心 P0+P1: {core}) · {n} 个指标",
    "history": "统一度 by revision",
    "written": "wrote {path}",
    "imported": "{n} draft metric(s) added in {path}; {m} name(s) already defined",
    "nothing": "nothing to add: every name is already in the catalog ({m})",
    "need_catalog": "--import-xlsx needs --catalog DIR (the catalog the drafts are added to)",
}


def percent(share: float | None) -> str:
    """``0.8`` → ``80.0%``; no rows → ``—``."""
    return "—" if share is None else f"{share * 100:.1f}%"


@click.command()
@click.option(
    "--catalog",
    "catalog_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="compute from a catalog directory (default: the stored graph)",
)
@click.option("--history", is_flag=True, help="统一度 after each revision of the store")
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
    """The inventory (指标梳理清单): 指标级别 | 指标名称 | 所属领域 | 优先级 | 当前是否有定义,
    the status computed from the card and lint, P0 first; the 统一度 figure."""
    from analysis.inventory import inventory as compute
    from analysis.inventory import unified_history

    if xlsx_in is not None:
        if catalog_dir is None:
            raise click.UsageError(TEXT["need_catalog"])
        from loaders.excel.inventory import import_inventory

        done = import_inventory(xlsx_in, catalog_dir, force=force)
        if done.file is None:
            out().print(safe(TEXT["nothing"].format(m=len(done.existing))))
        else:
            text = TEXT["imported"].format(
                n=len(done.created), path=done.file, m=len(done.existing)
            )
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
            out().print(TEXT["history"])
            for p in points:
                out().print(f"  #{p.revision}  {percent(p.unified)}  {safe(p.message or '')}")
    if xlsx_out is not None and not as_json:
        out().print(safe(TEXT["written"].format(path=xlsx_out)))


def _table(inv: Inventory) -> None:
    from rich.table import Table

    from analysis.inventory import COLUMNS

    table = Table(title=TEXT["title"])
    for col in COLUMNS:
        table.add_column(col)
    for row in inv.rows:
        table.add_row(*(safe(c) for c in row.cells()))
    console = out()
    console.print(table)
    line = TEXT["unified"].format(
        all=percent(inv.unified), core=percent(inv.core_unified), n=len(inv.rows)
    )
    console.print(line)
