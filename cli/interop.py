"""``kpigraph import`` and ``kpigraph export``: catalogs in and out of dbt / MetricFlow, Excel,
and other graph tools (Cypher, GraphML, JSON). Nothing is written unless all of it is valid."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from cli.common import emit_json, err, json_option, out, safe, speaks_directory_language
from cli.help_text import Group

FORMATS = ("neo4j-cypher", "graphml", "json")


def _fail(problems: list[str], what: str | None = None) -> NoReturn:
    from core.i18n import _

    label = _("error:")
    for line in problems:
        err().print(_("{label} {text}", label=f"[red]{label}[/]", text=safe(line)))
    err().print(_problems(len(problems), what or _("nothing was written")))
    raise SystemExit(1)


def _problems(n: int, what: str) -> str:
    """``3 problems; nothing was written`` in the language in use."""
    from core.i18n import _, ngettext

    count = ngettext("%(num)s problem", "%(num)s problems", n) % {"num": n}
    return _("{problems}; {what}", problems=count, what=what)


def _guard(action: Callable[[], Any]) -> Any:
    """Run an import/export; print every problem it reports, one per line."""
    from graph_schema.errors import CatalogError
    from loaders.dbt import DbtImportError
    from loaders.excel import ExcelImportError

    try:
        return action()
    except (DbtImportError, ExcelImportError) as exc:
        _fail(exc.problems)
    except CatalogError as exc:
        from cli import render
        from core.i18n import _

        render.catalog_issues(err(), exc.issues)
        summary = _problems(len(exc.issues), _("nothing was written"))
        label = _("error:")
        err().print(_("{label} {text}", label=f"[red]{label}[/]", text=summary))
        raise SystemExit(1) from None


# ---------------------------------------------------------------------------------------------
# import


@click.group("import", cls=Group)
def import_group() -> None:
    """Make a catalog from dbt / MetricFlow definitions or an Excel workbook."""


@import_group.command("dbt")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Catalog directory to write (new, or empty).",
)
@click.option("--dry-run", is_flag=True, help="Map and validate, print the report, write nothing.")
@click.option("--name", help="Catalog name (default: the dbt project's).")
@click.option("--system", help="System id for every table (default: each model's schema).")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@json_option
def import_dbt_cmd(
    path: Path,
    out_dir: Path | None,
    dry_run: bool,
    name: str | None,
    system: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Import a dbt target/manifest.json, a semantic_manifest.json, or a dbt project directory
    whose YAML declares semantic_models: and metrics: (dbt need not run).

    What the metric template cannot hold (filters, windows, offsets, conversion settings) is
    kept under each metric's extra.dbt and listed here."""
    from loaders.dbt import import_dbt

    if out_dir is None and not dry_run:
        from core.i18n import _

        raise click.UsageError(_("pass -o CATALOG_DIR (or --dry-run to write nothing)"))
    if dry_run:
        with tempfile.TemporaryDirectory(prefix="kpigraph-dry-run-") as scratch:
            report = _guard(lambda: import_dbt(path, Path(scratch) / "c", name=name, system=system))
        report.out = ""
    else:
        assert out_dir is not None
        report = _guard(lambda: import_dbt(path, out_dir, name=name, system=system, force=force))
    if as_json:
        emit_json(
            {
                "out": report.out or None,
                "counts": report.counts,
                "extra": report.extra,
                "extra_summary": report.extra_summary(),
                "notes": report.notes,
            }
        )
        return
    for line in report.lines():
        out().print(safe(line))


@import_group.command("excel")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Catalog directory to write (new, or empty).",
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option(
    "--prefer",
    type=click.Choice(["index", "cards"]),
    help="Where the index sheet and a card disagree, take this side (default: report it).",
)
def import_excel_cmd(path: Path, out_dir: Path, force: bool, prefer: str | None) -> None:
    """Import an .xlsx written by 'kpigraph export excel' (and edited since).

    Every problem names its sheet, row and column."""
    from core.i18n import _
    from loaders.excel import import_excel

    count = _guard(lambda: import_excel(path, out_dir, force=force, prefer=prefer))
    text = _("imported {n} metrics from {path} → {out}", n=count, path=path, out=out_dir)
    out().print(safe(text))


# ---------------------------------------------------------------------------------------------
# export


class _ExportGroup(Group):
    """``kpigraph export --format json CATALOG`` is ``kpigraph export graph --format json ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["graph", *args]
        return super().parse_args(ctx, args)


@click.group("export", cls=_ExportGroup)
def export_group() -> None:
    """Write a catalog as dbt / MetricFlow YAML, an Excel workbook, or a graph file
    (kpigraph export --format neo4j-cypher|graphml|json CATALOG_DIR)."""


@export_group.command("dbt")
@click.argument("catalog", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for dbt_project.yml and models/ (new, or empty).",
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@speaks_directory_language
def export_dbt_cmd(catalog: Path, out_dir: Path, force: bool) -> None:
    """Metrics and semantic model stubs as MetricFlow YAML (parsed back before writing)."""
    from loaders.dbt.export import export_dbt

    report = _guard(lambda: export_dbt(catalog, out_dir, force=force))
    for line in report.lines():
        out().print(safe(line))


@export_group.command("excel")
@click.argument("catalog", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_file",
    required=True,
    type=click.Path(path_type=Path),
    help="The .xlsx to write.",
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@speaks_directory_language
def export_excel_cmd(catalog: Path, out_file: Path, force: bool) -> None:
    """An .xlsx in seed 001's template: an index sheet (one row per metric, filterable) and
    one card per metric, plus departments, dimensions, sources and dashboards."""
    from core.i18n import _
    from loaders.excel import export_excel

    count = _guard(lambda: export_excel(catalog, out_file, force=force))
    out().print(safe(_("wrote {n} metric cards to {path}", n=count, path=out_file)))


@export_group.command("graph")
@click.argument("catalog", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="neo4j-cypher (a cypher-shell script), graphml, or json.",
)
@click.option(
    "-o",
    "--out",
    "out_file",
    default="-",
    show_default=True,
    help="File to write, '-' for standard output.",
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@speaks_directory_language
def export_graph_cmd(catalog: Path, fmt: str, out_file: str, force: bool) -> None:
    """The catalog graph for other graph tools."""
    from loaders.catalog import load_catalog
    from loaders.export_graph import export_text

    text = export_text(load_catalog(catalog), fmt)
    if out_file == "-":
        click.echo(text, nl=False)
        return
    from core.i18n import _

    path = Path(out_file)
    if path.exists() and not force:
        raise click.UsageError(_("{path} exists; choose another -o or pass --force", path=path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    err().print(safe(_("wrote {path} ({format})", path=path, format=fmt)))


def _add_export_catalog() -> None:
    from cli.sync import export_catalog_cmd

    export_group.add_command(export_catalog_cmd)


_add_export_catalog()  # kpigraph export catalog store|rev:N -o DIR (issue 22)
