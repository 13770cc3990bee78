"""``kpigraph load`` of a few edited metric files without reading the rest of the catalog.

The steps of a delta (issue #23), each costing what the edit changes:

1. the changed metric files are parsed and checked against the index the last load kept
   (:func:`loaders.partial.read_partial`: duplicate ids, references, removed metrics still
   named, cycles only when formula / hierarchy links are added);
2. the lint gate lints the touched metrics and what each rule's scope says
   (:func:`analysis.lint_delta.lint_partial`), the other findings kept from the last load;
3. the delta is planned from the changed metrics and the stored rows of those alone
   (:func:`core.reload.plan_partial`) and written by ``GraphStore.apply``.

When a step cannot be done alone it says why, and the caller reads the whole catalog (which
reports errors with the same file:line as ever; the write is still a delta when it can be).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.publish import PublishResult
from loaders.catalog_cache import CatalogFiles, FileCache
from store.base import GraphStore, StoreInfo


def publish_partial(
    directory: Path,
    store: GraphStore,
    live: GraphStore,
    files: CatalogFiles,
    cache: FileCache,
    decision: tuple[object, list[str], int, StoreInfo],
    author: str | None,
    message: str | None,
    check_versions: bool,
    no_lint: bool,
    force_files: bool,
) -> PublishResult | str:
    """Load the changed files of ``decision`` (:func:`core.reload.decide`) alone; the result,
    or why the whole catalog must be read."""
    from analysis.lint_delta import FullLint, lint_partial
    from cli.common import sweep_orphans
    from cli.lint import gate
    from core import reload
    from core.i18n import _, current
    from core.sync import file_base
    from graph_schema.revisions import RevisionDraft
    from loaders.git_source import default_author, source_info
    from loaders.partial import FullRead, read_partial

    record, changed, head, info = decision
    assert isinstance(record, reload.LoadRecord)
    if not record.facts:
        return _("no index of the last load")
    if record.lint is None and not no_lint:
        return _("the last load was not linted")
    if record.language != current() and not no_lint:
        return _("the last load's lint findings are in another language")
    if not force_files and file_base(live)[1]:
        return _("change requests were applied since the files were loaded")
    cache.background = True
    try:
        # kpigraph.yaml is unchanged since the record's load (reload.decide): its meta kept
        part = read_partial(
            directory, changed, record.refs, record.facts, record.keys, cache, record.meta
        )
        report = (
            None
            if no_lint
            else lint_partial(part, record.facts, record.lint or (), record.keys, cache)
        )
    except (FullRead, FullLint) as exc:
        cache.discard()
        return exc.reason
    if report is not None:
        try:
            gate(report, directory)
        except BaseException:
            cache.discard()
            raise
    draft = RevisionDraft(
        author=author or default_author(directory),
        message=message,
        source=source_info(directory) | ({"force_files": True} if force_files else {}),
    )
    sweep_orphans(store)  # what killed loads left behind, reported (Neo4j)
    lint = report.issues if report is not None else None
    delta = reload.plan_partial(
        live,
        part,
        files,
        record,
        changed,
        head,
        info,
        draft,
        dict(cache.keys),
        lint,
        check_versions=check_versions,
    )
    if delta is None:
        cache.discard()
        return _("only the files' digest changes")
    from cli.catalog import apply_delta

    result = apply_delta(store, delta)
    if result is None:
        cache.discard()
        return _("the store changed meanwhile")
    cache.keep(k for rel, k in record.keys.items() if rel not in set(changed))
    cache.commit()
    if delta.record is not None:
        reload.save_record(cache, files, delta.record, changed=result.changed, info=result.info)
    return replace(result, delta=True, how=reload.describe(delta))
