"""``kpigraph history``, ``diff`` and ``compare``: revisions, catalog diffs, two metrics side by
side. Heavy imports live inside the command bodies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.common import emit_json, err, json_option, out, resolve, safe, store_options
from cli.help_text import Command
from core.i18n import _, ngettext

if TYPE_CHECKING:
    from rich.console import Console

    from analysis.compare import Comparison
    from analysis.diff import DiffReport
    from core.settings import Settings
    from graph_schema.graph import CatalogGraph
    from graph_schema.ids import NodeRef
    from graph_schema.revisions import Revision, RevisionSummary
    from store.base import GraphStore


@click.command(cls=Command)
@click.argument("ref", required=False)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="at most this many revisions, newest first",
)
@click.option("--changes/--no-changes", default=True, help="list each revision's changes")
@store_options
@json_option
def history(
    ref: str | None,
    limit: int,
    changes: bool,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Revisions, newest first: all, or those that changed REF, with their changes."""
    node = history_ref(store, ref) if ref else None
    summaries = store.revisions(node, limit=limit)
    full = [store.revision(s.number) for s in summaries] if changes or as_json else []
    if as_json:
        emit_json([r.model_dump(mode="json", exclude=_HEAVY) for r in full])
        return
    console = out()
    if not summaries:
        console.print(
            _("no revision recorded yet for {node}", node=safe(node))
            if node
            else _("no revision recorded yet")
        )
        return
    by_number = {r.number: r for r in full}
    for summary in summaries:
        _revision_line(console, summary)
        rev = by_number.get(summary.number)
        if rev is not None:
            _revision_changes(console, rev, only=str(node) if node else None)


def history_ref(store: GraphStore, text: str) -> NodeRef:
    """A REF for history: a node loaded now, or one that only history remembers (removed)."""
    from graph_schema.errors import InvalidRefError, NodeNotFoundError
    from graph_schema.ids import NodeRef

    try:
        return resolve(store, text)
    except NodeNotFoundError:
        try:
            ref = NodeRef.parse(text)
        except InvalidRefError:
            raise
        if store.revisions(ref, limit=1):
            return ref
        raise


_HEAVY = {"node_changes": {"__all__": {"old", "new"}}, "edge_changes": {"__all__": {"old", "new"}}}


def _revision_line(console: Console, s: RevisionSummary) -> None:
    who = safe(s.author or _("unknown"))
    what = safe(s.message) if s.message else "[dim]" + _("(no message)") + "[/]"
    src = s.source.get("git_commit", "")[:10]
    dirty = "+dirty" if s.source.get("dirty") else ""
    flags = " [yellow]--no-version-check[/]" if not s.version_check else ""
    nodes, edges = _("nodes"), _("edges")
    console.print(
        f"[bold]r{s.number}[/]  {safe(s.created_at)}  {who}  {what}"
        f"  [dim]{nodes} +{s.nodes.added} −{s.nodes.removed} ~{s.nodes.modified}"
        f"  {edges} +{s.edges.added} −{s.edges.removed} ~{s.edges.modified}"
        f"{'  git ' + safe(src) + dirty if src else ''}[/]{flags}"
    )


def _revision_changes(console: Console, rev: Revision, only: str | None, cap: int = 30) -> None:
    from viz.labels import change_class_word, translate

    changes = [c for c in rev.node_changes if only is None or c.ref == only]
    for change in changes[:cap]:
        version = ""
        if change.old_version or change.new_version:
            version = f" {safe(change.old_version or '—')} → {safe(change.new_version or '—')}"
        cls = (
            f" [magenta]{change_class_word(change.change_class)}[/]" if change.change_class else ""
        )
        console.print(f"   {translate(change.op.value):<8} {safe(change.ref)}{cls}{version}")
        for f in change.fields[:8]:
            console.print(f"      {safe(f.field)}: {safe(change_text(f.old, f.new))}")
    if len(changes) > cap:
        more = _("… and {n} more node changes (kpigraph history --json)", n=len(changes) - cap)
        console.print(f"   {more}")
    if only is None and rev.edge_changes:
        count = len(rev.edge_changes)
        edges = ngettext("%(num)s edge change", "%(num)s edge changes", count) % {"num": count}
        console.print(f"   [dim]{edges}[/]")
    auto = sorted(a for a in rev.auto_versions if only is None or only == f"Metric:{a}")
    for n in auto[:10]:
        line = _("automatic version {metric}: {version}", metric=n, version=rev.auto_versions[n])
        console.print(f"   [dim]{safe(line)}[/]")
    if len(auto) > 10:
        more = _("… {n} more metrics versioned automatically", n=len(auto) - 10)
        console.print(f"   [dim]{more}[/]")


def change_text(old: object, new: object) -> str:
    from analysis.compare import change_text as text

    return text(old, new)


# -- diff --------------------------------------------------------------------------------------


def read_side(spec: str, store: GraphStore) -> CatalogGraph:
    """A diff side: ``store`` (what is loaded), ``rev:N`` (the store as of revision N),
    ``git:REV[:PATH]``, or a catalog directory."""
    from graph_schema.errors import SourceSpecError
    from loaders.catalog import load_catalog
    from loaders.git_source import load_git_catalog

    if spec == "store":
        return store.catalog()
    if spec.startswith("rev:"):
        number = spec[4:]
        if not number.isdigit():
            raise SourceSpecError(
                _("{spec}: write rev:N with a revision number, e.g. rev:3", spec=repr(spec))
            )
        return store.catalog(at=int(number))
    if spec.startswith("git:"):
        return load_git_catalog(spec)
    path = Path(spec)
    if not path.exists():
        raise SourceSpecError(
            _(
                "{spec} is not a catalog directory, 'store', 'rev:N' or 'git:REV[:PATH]'",
                spec=repr(spec),
            ),
            {"spec": spec},
        )
    return load_catalog(path)


@click.command(cls=Command)
@click.argument("old")
@click.argument("new")
@click.option("--markdown", "as_markdown", is_flag=True, help="Markdown for a PR comment")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="also write a self-contained HTML report to this file",
)
@click.option(
    "--fail-on",
    type=click.Choice(["major", "minor", "any"]),
    default=None,
    help="exit 1 on a change of this class or larger (broken version rules always exit 1)",
)
@store_options
@json_option
def diff(
    old: str,
    new: str,
    as_markdown: bool,
    html_file: Path | None,
    fail_on: str | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Compare two catalogs: OLD and NEW are each a catalog directory, git:REV[:PATH] (read
    from git, no checkout), 'store' (what is loaded) or rev:N (the store at revision N)."""
    from analysis.diff import diff_catalogs
    from core import i18n

    old_graph = read_side(old, store)
    new_graph = read_side(new, store)
    # the report speaks as the catalogs compared do (NEW's language, else OLD's), not as the
    # store (which may hold another catalog, or none), unless --lang chose
    said = new_graph.meta.get("language") or old_graph.meta.get("language")
    if isinstance(said, str):
        i18n.set_fallback(lambda: said)  # the store's wrapper resets it when the command ends
    report = diff_catalogs(old_graph, new_graph, old, new)
    if html_file is not None:
        from viz.pages import render_page

        html_file.write_text(
            render_page("diff.html", report=report, standalone=True), encoding="utf-8"
        )
    if as_json:
        emit_json(report)
    elif as_markdown:
        from viz.diff_markdown import diff_markdown

        click.echo(diff_markdown(report), nl=False)
    else:
        _diff_table(out(), report)
    if report.fails(fail_on):
        sys.exit(1)


def _diff_table(console: Console, report: DiffReport) -> None:
    from analysis.results import Via
    from graph_schema.revisions import ChangeOp
    from viz.labels import change_class_word, translate

    if report.empty:
        console.print(_("no changes"))
        return
    classes = _(", ").join(
        f"{n} {change_class_word(c)}" for c, n in sorted(report.classes.items())
    ) or _("none")
    nc, ec = report.node_counts, report.edge_counts
    counts = _(
        "metrics by class: {classes}; nodes {nodes}; edges {edges}",
        classes=classes,
        nodes=f"+{nc.added} −{nc.removed} ~{nc.modified}",
        edges=f"+{ec.added} −{ec.removed} ~{ec.modified}",
    )
    console.print(f"[bold]{safe(report.old)} → {safe(report.new)}[/]: {counts}")
    for problem in report.problems:
        console.print(f"[red]✗ {safe(problem)}[/]")
    for change in report.nodes:
        cls = (
            f" [magenta]{change_class_word(change.change_class)}[/]" if change.change_class else ""
        )
        ver = ""
        if change.op is ChangeOp.MODIFIED and (change.old_version or change.new_version):
            ver = f"  {safe(change.old_version or '—')} → {safe(change.new_version or '—')}"
            if change.version_ok is False:
                needs = _("(needs {version})", version=change.required_version)
                ver += f" [red]{safe(needs)}[/]"
        console.print(f"  {translate(change.op.value):<8} {safe(change.ref)}{cls}{ver}")
        for f in change.fields[:8]:
            console.print(f"      {safe(f.field)}: {safe(change_text(f.old, f.new))}")
    imp = report.impact
    for via, title in ((Via.DEFINITION, _("Recomputed")), (Via.INFLUENCE, _("Read differently"))):
        group = [n for n in [*imp.metrics, *imp.dashboards] if n.via is via]
        console.print(f"[bold]{title}[/] ({translate(via.value)}): {len(group)}")
        for n in group[:40]:
            route = " → ".join(p.split(":", 1)[1] for p in n.path)
            console.print(f"  {safe(n.ref)} {safe(n.name)} [dim]{safe(route)}[/]")
    if imp.approvals:
        console.print("[bold]" + _("Approvals") + "[/]")
        for a in imp.approvals:  # the committee by its name only (its id is no ref)
            who = (
                a.name
                if a.role == "committee"
                else _("{name} ({role})", name=a.name, role=translate(a.role))
            )
            console.print("  " + safe(who) + _(": ") + safe(a.reason))
    if report.problems:
        refused = _("a load of {new} would be refused", new=report.new)
        err().print("[red]" + _("version rules broken") + "[/]" + _(": ") + safe(refused))


# -- compare -----------------------------------------------------------------------------------


@click.command(cls=Command)
@click.argument("a")
@click.argument("b")
@click.option("--all", "show_all", is_flag=True, help="also list the fields that agree")
@store_options
@json_option
def compare(
    a: str, b: str, show_all: bool, as_json: bool, store: GraphStore, settings: Settings
) -> None:
    """Two metrics side by side, field by field, differences first."""
    from analysis.compare import compare_refs

    comparison = compare_refs(store, resolve(store, a), resolve(store, b))
    if as_json:
        emit_json(comparison)
        return
    _compare_table(out(), comparison, show_all)


def _compare_table(console: Console, c: Comparison, show_all: bool) -> None:
    from rich.table import Table

    from analysis.compare import display
    from viz.labels import change_class_word

    n = len(c.differing)
    differ = ngettext("%(num)s field differs", "%(num)s fields differ", n) % {"num": n}
    verdict = (
        _("{differ}; as a change: {cls}", differ=differ, cls=change_class_word(c.change_class))
        if c.change_class
        else (_("The two definitions are identical.") if not c.differing else differ)
    )
    table = Table(title=f"{safe(c.a_name)} vs {safe(c.b_name)} — {verdict}", show_lines=True)
    table.add_column(_("Field"))
    table.add_column(safe(c.a))
    table.add_column(safe(c.b))
    table.add_column(_("Change class"))
    for row in c.rows:
        if row.same and not show_all:
            continue
        style = "" if row.same else "bold"
        only_a = _("only here: {items}", items=_(", ").join(row.only_a))
        only_b = _("only here: {items}", items=_(", ").join(row.only_b))
        extra_a = f"\n[red]{safe(only_a)}[/]" if row.only_a else ""
        extra_b = f"\n[red]{safe(only_b)}[/]" if row.only_b else ""
        table.add_row(
            f"{safe(row.label)} ({safe(row.field)})",
            safe(display(row.a)) + extra_a,
            safe(display(row.b)) + extra_b,
            change_class_word(row.change_class) if row.change_class and not row.same else "",
            style=style,
        )
    console.print(table)
