"""``kpigraph pull``: write the store's approved changes back into the catalog files, and
``kpigraph export catalog``: the store (or a revision of it) as a catalog directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.common import emit_json, json_option, out, store_options
from cli.help_text import Command

if TYPE_CHECKING:
    from core.settings import Settings
    from store.base import GraphStore


@click.command(cls=Command)
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="print the unified diff; write nothing")
@click.option(
    "--commit",
    "do_commit",
    is_flag=True,
    help="commit the edits in the catalog's git work tree: one commit per change request, "
    "author = the requester",
)
@click.option(
    "--branch",
    default=None,
    help="with --commit: commit on this branch (created at HEAD) instead of the current one; "
    "the work tree is left as it is",
)
@store_options
@json_option
def pull(
    directory: Path,
    dry_run: bool,
    do_commit: bool,
    branch: str | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Write into DIRECTORY's files every change the store has that they lack (change requests
    applied since the files' last load): minimal in-place edits, the whole catalog validated
    before anything is written. A second pull does nothing; 'kpigraph load' after it records
    nothing."""
    from core.i18n import _
    from core.writeback import apply_plan, catalog_lock, plan_pull

    if branch is not None and not do_commit:
        raise click.UsageError(_("--branch goes with --commit"))
    if branch is not None and branch.startswith("-"):
        raise click.UsageError(_("{branch} is not a branch name", branch=repr(branch)))
    with catalog_lock(directory):  # a server's write-back into it waits meanwhile
        if do_commit:  # from what is committed: completes a killed write-back's commits
            from core.writeback_commit import plan_commit

            plan = plan_commit(directory, store, branch=branch)
        else:
            plan = plan_pull(directory, store)
        if not (dry_run or plan.empty):
            result = apply_plan(plan, commit=do_commit, branch=branch)
    requests = [s.request for s in plan.steps]
    if dry_run or plan.empty:
        if as_json:
            emit_json(
                {
                    "requests": [r.change_request for r in requests],
                    "files": sorted(plan.final()),
                    "diff": plan.diff(),
                    "written": False,
                }
            )
            return
        if plan.empty:
            from core.i18n import _

            click.echo(_("nothing to pull: the files hold every change the store has"))
            return
        click.echo(plan.diff(), nl=False)
        return
    if as_json:
        emit_json(
            {
                "requests": result.requests,
                "files": result.files,
                "commits": result.commits,
                "written": True,
            }
        )
        return
    from core.i18n import _, ngettext

    console = out()
    for request in requests:
        metrics = ", ".join(sorted(request.metrics))
        text = _("change request #{id}: {metrics}", id=request.change_request, metrics=metrics)
        console.print(text, markup=False)
    if result.files:
        console.print(_("wrote {files}", files=", ".join(result.files)), markup=False)
    if result.commits:
        n = len(result.commits)
        if branch:
            text = ngettext(
                "committed %(num)s commit on %(branch)s",
                "committed %(num)s commits on %(branch)s",
                n,
            ) % {"num": n, "branch": branch}
        else:
            text = ngettext(
                "committed %(num)s commit on the current branch",
                "committed %(num)s commits on the current branch",
                n,
            ) % {"num": n}
        console.print(text, markup=False)
    click.echo(
        _(
            "next: kpigraph load {directory}  (records nothing: the files equal the store)",
            directory=directory,
        )
    )


@click.command("catalog", cls=Command)
@click.argument("source", default="store")
@click.option(
    "-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="new directory"
)
@click.option("--force", is_flag=True, help="replace OUT if it exists")
@store_options
def export_catalog_cmd(
    source: str, out_dir: Path, force: bool, store: GraphStore, settings: Settings
) -> None:
    """The published graph ('store', or 'rev:N' as of revision N) as a catalog directory that
    validates and reloads to the same graph digest."""
    from loaders.store_export import export_store_catalog

    graph = export_store_catalog(store, source, out_dir, force=force)
    counts = graph.counts()
    from core.i18n import _

    n = counts.get("Metric", 0)
    click.echo(
        _("wrote {source} as a catalog to {path} ({n} metrics)", source=source, path=out_dir, n=n)
    )
