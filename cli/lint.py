"""``kpigraph lint`` and ``kpigraph infer-fields``: the platform enforces the catalog's rules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.common import emit_json, err, out, printable, safe, speaks_directory_language
from cli.help_text import Command
from core.i18n import _, ngettext

if TYPE_CHECKING:
    from rich.console import Console

    from analysis.lint import LintReport
    from graph_schema.graph import CatalogGraph
    from loaders.catalog import CatalogSource
    from loaders.catalog_cache import FileCache

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_GITHUB = {"error": "error", "warning": "warning", "info": "notice"}


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def github_lines(report: LintReport, root: Path) -> list[str]:
    """GitHub Actions workflow commands (``::warning file=..,line=..::message``).

    >>> from graph_schema.rules.base import LintIssue, Severity
    >>> from analysis.lint import LintReport
    >>> issue = LintIssue("sql.dialect", Severity.ERROR, "bad: x, y", "kpigraph.yaml", 3)
    >>> github_lines(LintReport((issue,)), Path("cat"))
    ['::error file=cat/kpigraph.yaml,line=3,title=sql.dialect::bad: x, y']
    """
    lines = []
    for issue in report.issues:
        props = []
        if issue.file:
            props.append(f"file={_gh_prop(str(root / issue.file))}")
            if issue.line:
                props.append(f"line={issue.line}")
        props.append(f"title={_gh_prop(issue.rule)}")
        fix = " — " + _("{label} {text}", label=_("fix:"), text=issue.fix) if issue.fix else ""
        message = issue.message + fix
        command = _GITHUB[issue.severity.value]
        lines.append(f"::{command} {','.join(props)}::{_gh_data(printable(message))}")
    return lines


def lint_source(source: CatalogSource, min_severity: str = "info") -> LintReport:
    """Lint a catalog already read with :func:`loaders.catalog.read_catalog`."""
    from analysis.lint import KeyLines, lint_graph
    from core.bulk import paused_gc
    from graph_schema.rules.base import Severity

    key_lines = KeyLines(source.raw)
    with paused_gc():  # indexes over the whole graph: see core/bulk.py
        return lint_graph(
            source.graph,
            origins=source.origins,
            key_lines=key_lines,
            min_severity=Severity(min_severity),
        )


def load_linted(directory: Path, no_lint: bool = False) -> CatalogGraph:
    """Read a catalog for loading: lint errors stop it (listed on stderr, nothing is loaded)
    unless ``no_lint``; warnings are counted on stderr."""
    from loaders.catalog_cache import FileCache

    return read_linted(directory, FileCache.for_catalog(directory), no_lint).graph


def read_linted(directory: Path, cache: FileCache | None, no_lint: bool = False) -> CatalogSource:
    """:func:`load_linted` with where each node came from, through the per-file ``cache``."""
    from loaders.catalog import read_catalog

    # unchanged files come from the per-file cache (loaders/catalog_cache.py), not parsed again
    if cache is not None:
        cache.background = True  # written by a forked child while this process goes on
    source = read_catalog(directory, cache=cache)
    if no_lint:
        return source
    gate(lint_source(source, "warning"), directory)  # a gate: info-only rules need not run
    return source


def gate(report: LintReport, directory: Path) -> None:
    """The lint gate of a load: errors stop it (listed on stderr), warnings are counted."""
    counts = report.counts()
    if report.has_errors:
        from analysis.lint import LintReport
        from graph_schema.rules.base import Severity

        errors = tuple(i for i in report.issues if i.severity is Severity.ERROR)
        print_text(LintReport(errors), directory, console=err())
        raise click.ClickException(
            ngettext(
                "%(num)s lint error in %(directory)s; nothing was loaded (fix it, or pass "
                "--no-lint)",
                "%(num)s lint errors in %(directory)s; nothing was loaded (fix them, or pass "
                "--no-lint)",
                counts["error"],
            )
            % {"num": counts["error"], "directory": printable(directory)}
        )
    if counts["warning"]:
        # plain text, as the console would print it (no markup in it): a load that passes
        # its gate imports no console (~0.02 s of a one-file delta load)
        click.echo(
            ngettext(
                "lint: %(num)s warning; 'kpigraph lint %(directory)s' shows it",
                "lint: %(num)s warnings; 'kpigraph lint %(directory)s' lists them",
                counts["warning"],
            )
            % {"num": counts["warning"], "directory": printable(directory)},
            err=True,
        )


def print_text(
    report: LintReport, root: Path, *, quiet_info: bool = False, console: Console | None = None
) -> None:
    console = console or out()
    shown = 0
    for issue in report.issues:
        if quiet_info and issue.severity.value == "info":
            continue
        shown += 1
        where = issue.where() if issue.file is None else str(root / issue.where())
        style = _STYLE[issue.severity.value]
        severity = _(issue.severity.value)  # error / warning / info, in words
        console.print(
            f"{safe(where)}: [{style}]{severity}[/] "
            f"[dim]{safe(issue.rule)}[/] {safe(issue.message)}",
            soft_wrap=True,
        )
        if issue.fix:
            fix = _("{label} {text}", label=_("fix:"), text=safe(issue.fix))
            console.print("    " + fix, soft_wrap=True, style="dim")
    counts = report.counts()
    hidden = counts["info"] if quiet_info else 0
    tail = (
        _(" ({count} info not shown; 'kpigraph lint' lists them)", count=hidden) if hidden else ""
    )
    console.print(
        _(
            "lint: {errors} errors, {warnings} warnings, {info} info",
            errors=counts["error"],
            warnings=counts["warning"],
            info=counts["info"],
        )
        + tail
    )


@click.command("lint", cls=Command)
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="github: workflow annotations (::error file=..,line=..::) for catalog CI",
)
@click.option(
    "--min-severity",
    type=click.Choice(["info", "warning", "error"]),
    default="info",
    show_default=True,
    help="hide issues below this severity",
)
@click.option("--strict", is_flag=True, help="exit 1 on warnings too, not only on errors")
@speaks_directory_language
def lint(directory: Path, fmt: str, min_severity: str, strict: bool) -> None:
    """Check a catalog against the lint rules (conflicts, naming, levels, lifecycle, orphans,
    card completeness, SQL vs fields); exits 1 when there are errors.

    Rules are configured in kpigraph.yaml under 'lint:' (disable, severity, naming, card).
    """
    from analysis.lint import LintReport
    from graph_schema.rules.base import Severity
    from loaders.catalog import read_catalog

    report = lint_source(read_catalog(directory))
    floor = Severity(min_severity).rank
    shown = LintReport(tuple(i for i in report.issues if i.severity.rank <= floor))
    if fmt == "json":
        emit_json(shown.to_json())
    elif fmt == "github":
        for line in github_lines(shown, directory):
            click.echo(line)
    else:
        print_text(shown, directory)
    if report.has_errors or (strict and report.counts()["warning"]):
        sys.exit(1)


@click.command("infer-fields", cls=Command)
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--metric", "metric_ids", multiple=True, help="only these metric ids (repeatable)")
@click.option("--dry-run", is_flag=True, help="show the changes, write nothing")
@speaks_directory_language
def infer_fields_cmd(directory: Path, metric_ids: tuple[str, ...], dry_run: bool) -> None:
    """Write each metric's 'fields:' from what its SQL reads (sqlglot), editing the YAML files
    in place and leaving everything else as written. SQL that does not parse, or reads what
    sources.yaml does not declare, is an error and then nothing is written."""
    from analysis.infer_fields import infer_fields
    from graph_schema.models import Metric
    from loaders.catalog import read_catalog
    from loaders.yaml_edit import YamlEditError, rewrite_lists

    source = read_catalog(directory)
    metrics = [(n, *source.origins[n.ref]) for n in source.graph.nodes if isinstance(n, Metric)]
    known = {m.id for m, _, _ in metrics}
    unknown = [m for m in metric_ids if m not in known]
    if unknown:
        names = ", ".join(map(printable, unknown))
        raise click.UsageError(
            _("no metric {names} in {directory}", names=names, directory=directory)
        )
    plan = infer_fields(
        metrics,
        list(source.graph.nodes),
        source.graph.meta.get("dialect"),
        set(metric_ids) or None,
    )
    console = out()
    if plan.errors:
        for line in plan.errors:
            console.print(f"{safe(directory / line)}", soft_wrap=True)
        raise click.ClickException(
            ngettext(
                "%(num)s metric has SQL that cannot be used; nothing was written",
                "%(num)s metrics have SQL that cannot be used; nothing was written",
                len(plan.errors),
            )
            % {"num": len(plan.errors)}
        )
    for change in plan.changes:
        added = [f for f in change.new if f not in change.old]
        dropped = [f for f in change.old if f not in change.new]
        console.print(
            f"{safe(directory / change.file)}:{change.line}: {safe(change.metric)}: "
            f"+{len(added)} -{len(dropped)}  "
            + " ".join([*(f"+{safe(a)}" for a in added), *(f"-{safe(d)}" for d in dropped)]),
            soft_wrap=True,
        )
    if dry_run or not plan.changes:
        n, unchanged = len(plan.changes), plan.unchanged
        if dry_run:
            said = ngettext(
                "would change %(num)s metric; %(unchanged)s already right",
                "would change %(num)s metrics; %(unchanged)s already right",
                n,
            )
        else:
            said = ngettext(
                "changed %(num)s metric; %(unchanged)s already right",
                "changed %(num)s metrics; %(unchanged)s already right",
                n,
            )
        said %= {"num": n, "unchanged": unchanged}
        console.print(said)
        return
    edits = [(c.file, c.line or 1, "fields", list(c.new)) for c in plan.changes]
    try:
        written = rewrite_lists(source.root, edits)
    except YamlEditError as exc:
        raise click.ClickException(f"{exc}\n" + _("nothing was written")) from exc
    files = ngettext("%(num)s file", "%(num)s files", len(written)) % {"num": len(written)}
    console.print(
        ngettext(
            "changed %(num)s metric in %(files)s; %(unchanged)s already right",
            "changed %(num)s metrics in %(files)s; %(unchanged)s already right",
            len(plan.changes),
        )
        % {"num": len(plan.changes), "files": files, "unchanged": plan.unchanged}
    )
