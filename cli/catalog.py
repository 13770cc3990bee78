"""Catalog files: ``init``, ``validate`` and ``load``."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.common import (
    TEMPLATES_DIR,
    announce_replacement,
    emit_json,
    err,
    json_option,
    out,
    speaks_directory_language,
    store_options,
    sweep_orphans,
    where,
)
from cli.help_text import Command
from core.i18n import _
from graph_schema.errors import KpigraphError, VersionError
from loaders.catalog import load_catalog
from viz.labels import count_label

if TYPE_CHECKING:
    from core.publish import PublishResult
    from core.reload import Delta
    from core.settings import Settings
    from graph_schema.graph import CatalogGraph
    from graph_schema.revisions import RevisionDraft
    from graph_schema.rules.base import LintIssue
    from loaders.catalog import CatalogSource
    from loaders.catalog_cache import CatalogFiles, FileCache
    from store.base import GraphStore


@click.command(cls=Command)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--template",
    default=None,
    metavar="["
    + "|".join(sorted(p.name for p in TEMPLATES_DIR.iterdir() if (p / "kpigraph.yaml").is_file()))
    + "]"
    if TEMPLATES_DIR.is_dir()
    else "NAME",
    help="start from this demo catalog",
)
@click.option("--force", is_flag=True, help="write into a non-empty directory")
@speaks_directory_language
def init(directory: Path, template: str | None, force: bool) -> None:
    """Scaffold a catalog in DIRECTORY."""
    if directory.exists() and any(directory.iterdir()) and not force:
        raise KpigraphError(
            _("{path} is not empty; choose a new directory or pass --force", path=directory)
        )
    if template:
        source = TEMPLATES_DIR / template
        if not (source / "kpigraph.yaml").is_file():
            known = sorted(
                p.name for p in TEMPLATES_DIR.iterdir() if (p / "kpigraph.yaml").is_file()
            )
            raise KpigraphError(
                _(
                    "unknown template {template}; choose one of {known}",
                    template=repr(template),
                    known=", ".join(known),
                )
            )
        shutil.copytree(source, directory, dirs_exist_ok=True)
    else:
        from loaders.scaffold import write_scaffold

        write_scaffold(directory)
    graph = load_catalog(directory)
    click.echo(
        _(
            "created catalog {name} in {directory} ({metrics}); next: kpigraph validate "
            "{directory}",
            name=repr(graph.name),
            directory=directory,
            metrics=count_label("Metric", graph.counts()["Metric"]),
        )
    )


@click.command(cls=Command)
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--no-lint", is_flag=True, help="skip the lint rules (see 'kpigraph lint')")
@json_option
@speaks_directory_language
def validate(directory: Path, no_lint: bool, as_json: bool) -> None:
    """Check a catalog without loading it; lists every problem with file and line. Lint
    errors fail validation too; lint warnings are shown."""
    from cli.lint import lint_source, print_text
    from loaders.catalog import read_catalog

    started = time.perf_counter()
    source = read_catalog(directory)
    graph = source.graph
    report = None if no_lint else lint_source(source)
    elapsed = time.perf_counter() - started
    counts = graph.counts()
    valid = report is None or not report.has_errors
    if as_json:
        lint_json = report.to_json() if report is not None else None
        emit_json({"valid": valid, "catalog": graph.name, "counts": counts, "lint": lint_json})
    else:
        if report is not None and report.issues:
            print_text(report, directory, quiet_info=True)
        summary = _(", ").join(count_label(k, v) for k, v in counts.items() if v)
        name, seconds = repr(graph.name), f"{elapsed:.2f}"
        click.echo(
            _(
                "catalog {name} is valid: {counts} ({seconds} s)",
                name=name,
                counts=summary,
                seconds=seconds,
            )
            if valid
            else _(
                "catalog {name} loads, but lint found errors: {counts} ({seconds} s)",
                name=name,
                counts=summary,
                seconds=seconds,
            )
        )
    if not valid:
        raise SystemExit(1)


@click.command(cls=Command)
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--author", default=None, help="recorded in the revision [default: git user.name]")
@click.option("-m", "--message", default=None, help="why: recorded in the revision")
@click.option(
    "--no-version-check",
    is_flag=True,
    help="load even when versions are not bumped as the change classes require (migrations; "
    "recorded in the revision)",
)
@click.option("--no-lint", is_flag=True, help="load even when lint finds errors")
@click.option(
    "--full",
    is_flag=True,
    help="compare the whole catalog with the store, even when only a few files changed "
    "since the last load (else those files' nodes alone are: a delta)",
)
@click.option(
    "--force-files",
    is_flag=True,
    help="load even when the files lack changes applied through change requests since their "
    "last load (they are overwritten; recorded in the revision). Else: kpigraph pull DIR",
)
@store_options
@json_option
@speaks_directory_language
def load(
    directory: Path,
    author: str | None,
    message: str | None,
    no_version_check: bool,
    no_lint: bool,
    full: bool,
    force_files: bool,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Validate a catalog and replace the stored graph with it (all or nothing), recording a
    revision with every field-level change; an unchanged catalog records nothing."""
    started = time.perf_counter()
    result = publish_directory(
        directory,
        store,
        author=author,
        message=message,
        check_versions=not no_version_check,
        no_lint=no_lint,
        quiet=as_json,
        force_files=force_files,
        delta=not full,
    )
    info = result.info
    elapsed = time.perf_counter() - started
    if as_json:
        emit_json(
            {
                "catalog": info.catalog,
                "backend": info.backend,
                "counts": info.counts,
                "revision": result.revision,
                "head": result.head,
                "auto_versions": result.auto_versions,
                "files_unchanged": result.files_unchanged,
                "delta": result.delta,
                "how": result.how,
                "seconds": round(elapsed, 3),
            }
        )
        return
    from cli import render

    render.store_info(out(), info, where(settings))
    if result.how:
        click.echo(result.how)
    if result.files_unchanged:
        click.echo(
            _(
                "no changes: nothing recorded (revision {head} is current; its catalog files "
                "are unchanged, so they were not read again)",
                head=result.head,
            )
        )
    elif result.revision is None:
        click.echo(_("no changes: nothing recorded (revision {head} is current)", head=result.head))
    else:
        click.echo(_("recorded revision {number}", number=result.revision))
        if result.auto_versions:
            click.echo(
                _(
                    "versioned automatically: {metrics}",
                    metrics=count_label("Metric", len(result.auto_versions)),
                )
            )
    click.echo(_("done in {seconds} s", seconds=f"{elapsed:.2f}"))


def publish_directory(
    directory: Path,
    store: GraphStore,
    *,
    author: str | None = None,
    message: str | None = None,
    check_versions: bool = True,
    no_lint: bool = False,
    quiet: bool = False,
    force_files: bool = False,
    delta: bool = True,
) -> PublishResult:
    """The one way a catalog directory reaches a store — ``kpigraph load``, ``serve --catalog``
    and ``serve --demo`` alike: the lint gate, automatic versions, the version rules and a
    revision whose source names the directory (and its git commit); files unchanged since the
    stored graph was read from them are not read again."""
    from core.bulk import paused_gc

    # one short command over a whole catalog in memory (or, for a delta, the index of one and
    # the modules it imports): the cyclic collector would walk it again and again between the
    # steps (reference counting still frees what is dropped)
    with paused_gc():
        from core.publish import already_loaded
        from loaders.catalog_cache import catalog_files
        from store.pinned import PinnedStore

        files = catalog_files(directory)
        # the store's own meta and head, not through a command's pinned snapshot (which would
        # read the whole graph to answer)
        live = store.store if isinstance(store, PinnedStore) else store
        # the same files as the stored graph's: not read (unless --full asks for a full load)
        result = already_loaded(live, files.digest) if delta else None
        if result is not None:
            sweep_orphans(store)  # what killed loads left behind, reported (Neo4j)
            return result
        return _read_and_publish(
            directory,
            store,
            files,
            author,
            message,
            not check_versions,
            no_lint,
            quiet,
            force_files,
            delta,
        )


def _read_and_publish(
    directory: Path,
    store: GraphStore,
    files: CatalogFiles,
    author: str | None,
    message: str | None,
    no_version_check: bool,
    no_lint: bool,
    as_json: bool,
    force_files: bool = False,
    delta_allowed: bool = True,
) -> PublishResult:
    """Read, lint and publish ``directory`` (``kpigraph load`` when its files changed): as a
    delta when a few files changed since the stored graph's load (:mod:`core.reload`), else
    whole (the output says which, and why)."""
    from core import reload
    from core.sync import check_load
    from graph_schema.revisions import RevisionDraft
    from loaders.catalog_cache import FileCache
    from loaders.git_source import default_author, source_info
    from store.pinned import PinnedStore

    cache = FileCache.for_catalog(directory)
    live = store.store if isinstance(store, PinnedStore) else store  # see publish_directory
    decision = (
        reload.decide(live, files, cache)
        if delta_allowed
        else reload.FullLoad(_("--full was given"))
    )
    whole_read = None
    if not isinstance(decision, reload.FullLoad) and cache is not None:
        from cli.load_delta import publish_partial

        done = publish_partial(
            directory,
            store,
            live,
            files,
            cache,
            decision,
            author,
            message,
            not no_version_check,
            no_lint,
            force_files,
        )
        if not isinstance(done, str):
            return done
        whole_read = done
    from analysis.lint import LintReport
    from cli.lint import gate, lint_source
    from loaders.catalog import read_catalog

    if cache is not None:
        cache.background = True  # written by a forked child while this process goes on
    source = read_catalog(directory, cache=cache)
    report: LintReport | None = None
    if not no_lint:
        report = lint_source(source, "warning")
        gate(report, directory)
    lint = report.issues if report is not None else None
    graph = source.graph
    check_load(store, graph, force_files=force_files)  # nothing reverts an approved change
    draft = RevisionDraft(
        author=author or default_author(directory),
        message=message,
        source=source_info(directory) | ({"force_files": True} if force_files else {}),
    )
    sweep_orphans(store)  # what killed loads left behind, reported (Neo4j)
    check = not no_version_check
    if not isinstance(decision, reload.FullLoad):
        old, changed, head, info = decision
        delta = reload.plan_delta(
            live, source, files, old, changed, head, info, draft, check_versions=check
        )
        if delta is not None:
            result = apply_delta(store, delta)
            if result is not None:
                _save_record(cache, files, source, lint, result)
                how = reload.describe(delta)
                if whole_read:
                    how = _(
                        "{how} (the whole catalog was read: {reason})", how=how, reason=whole_read
                    )
                return replace(result, delta=True, how=how)
        decision = reload.FullLoad(_("the delta could not be applied"))
    if not as_json:
        announce_replacement(store, graph)
    try:
        result = _publish_whole(store, graph, draft, check, files.digest, as_json)
    except VersionError as exc:
        raise _another_catalog(store, graph, exc) from None
    _save_record(cache, files, source, lint, result)
    how = _("full load: {reason}", reason=decision.reason)
    if getattr(store, "last_load_path", None) == "import":
        how = _(
            "{how} (written offline with neo4j-admin import; the local Neo4j was restarted)",
            how=how,
        )
    return replace(result, how=how)


def _save_record(
    cache: FileCache | None,
    files: CatalogFiles,
    source: CatalogSource,
    lint: tuple[LintIssue, ...] | None,
    result: PublishResult,
) -> None:
    """Keep the record of the load of ``source`` that gave ``result`` for the next load (the
    delta path and the whole path alike; see :func:`core.reload.save_record`)."""
    from core import reload

    reload.save_record(
        cache,
        files,
        reload.record_of(source, files, cache, lint),
        changed=result.changed,
        info=result.info,
    )


def apply_delta(store: GraphStore, delta: Delta) -> PublishResult | None:
    """Write ``delta``; ``None`` when the store moved meanwhile (then it is loaded whole)."""
    from core.bulk import paused_gc
    from core.publish import PublishResult
    from graph_schema.errors import ConflictError

    if delta.planned is None:  # the files read as the stored graph: nothing recorded
        return PublishResult(delta.info, None, delta.head)
    try:
        with paused_gc():
            info = store.apply(
                delta.planned,
                expect_head=delta.head,
                counts=delta.counts,
                digest=delta.digest,
                meta=delta.meta,
            )
    except ConflictError:
        return None
    number = info.meta.get("revision")
    return PublishResult(info, number, number or delta.head, delta.auto_versions)


def _another_catalog(store: GraphStore, graph: CatalogGraph, exc: VersionError) -> VersionError:
    """``exc``, with what to do when the store holds another catalog: its metrics' versions
    are what the new catalog's are compared with, which a user replacing it does not expect."""
    from graph_schema.errors import EmptyStoreError

    try:
        before = store.info()
    except EmptyStoreError:
        return exc
    if before.catalog == graph.name:
        return exc
    exc.details["another_catalog"] = _(
        "the store holds another catalog, {name} (loaded {at}): the versions are compared "
        "with its metrics of the same id. To replace it, load with --no-version-check; to "
        "keep both, load into another store (--db FILE).",
        name=repr(before.catalog),
        at=before.loaded_at,
    )
    return exc


def _publish_whole(
    store: GraphStore,
    graph: CatalogGraph,
    draft: RevisionDraft,
    check: bool,
    files: str,
    as_json: bool,
) -> PublishResult:
    from core.publish import publish

    if not (err().is_terminal and not as_json):
        return publish(store, graph, draft, check_versions=check, files=files)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn(_("loading")),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err(),
        transient=True,
    ) as bar:
        task = bar.add_task("load", total=len(graph.nodes) + len(graph.edges))
        return publish(
            store,
            graph,
            draft,
            check_versions=check,
            files=files,
            progress=lambda done, _t: bar.update(task, completed=done),
        )
