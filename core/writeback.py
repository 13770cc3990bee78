"""Write-back: the changes the store got from change requests, written into the catalog files.

:func:`plan_pull` computes every file edit first — one step per applied request, minimal
in-place edits of the metric's YAML (:mod:`loaders.yaml_patch`), a new file for a created
metric beside the metrics of its domain — re-parses each edit, and validates the whole edited
directory (a private copy, read as ``kpigraph validate`` reads it). :func:`apply_plan` then
replaces each file atomically (a temporary file beside it, then a rename): a killed pull
leaves every file either as it was or as it should be, and a second pull completes it.
With ``commit``, each request becomes one git commit (author = the requester).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.confined import ADVICE, escapes
from core.i18n import N_, _
from core.sync import AppliedRequest, StoreAhead, SyncConflictError, store_ahead
from graph_schema.errors import CatalogError, KpigraphError
from graph_schema.governance import ChangeRequest
from graph_schema.ids import SLUG_RE, NodeKind, NodeRef
from graph_schema.merge import Path as FieldPath
from graph_schema.merge import flatten, normalized, set_path
from graph_schema.models import Metric
from loaders.catalog import CatalogSource, read_catalog
from loaders.catalog_writer import dump_yaml
from loaders.yaml_edit import YamlEditError
from loaders.yaml_lines import LDict, LList, load_yaml
from loaders.yaml_patch import patch
from store.base import GraphStore

WHOLE: FieldPath = ("*",)
ORDER = ("id", "name", *[k for k in Metric.model_fields if k not in ("id", "name")])


class WriteBackError(KpigraphError):
    """The store's changes cannot be written into the files; nothing was written."""

    code = "writeback"


class WriteBackFailed(KpigraphError):
    """A server's write-back failed. ``message`` is for anyone who reads the change request (a
    plain reason, an English msgid shown translated: no server paths, no git output); the
    detail goes to the server log (:func:`public_reason`)."""

    code = "writeback_failed"


#: the plain reasons a failed write-back shows (msgids: the page shows them translated)
REASONS = {
    "dirty": N_(
        "The catalog files to edit have uncommitted changes; commit them, then run "
        "kpigraph pull --commit."
    ),
    "git": N_(
        "git could not commit the edits to the catalog; an admin finds why in the server log."
    ),
    "conflict": N_(
        "The catalog files changed the same fields as this request; resolve them in the files, "
        "then run kpigraph pull."
    ),
    "invalid": N_("The catalog files do not validate; fix them, then run kpigraph pull."),
    "edit": N_(
        "The change could not be written into the catalog files; edit them by hand (the server "
        "log says where)."
    ),
    "other": N_(
        "The write-back into the catalog files failed; an admin finds why in the server log."
    ),
}


def public_reason(exc: BaseException) -> str:
    """The plain reason of a failed write-back (a :data:`REASONS` msgid)."""
    from loaders.git_commit import GitCommitError

    if isinstance(exc, GitCommitError):
        return REASONS["dirty" if exc.details.get("files") else "git"]
    if isinstance(exc, SyncConflictError):
        return REASONS["conflict"]
    if isinstance(exc, CatalogError):
        return REASONS["invalid"]
    if isinstance(exc, WriteBackError):
        return REASONS["edit"]
    return REASONS["other"]


@dataclass(frozen=True)
class Step:
    """The file edits of one applied request: path → (text before, text after; ``None`` =
    the file does not exist)."""

    request: AppliedRequest
    files: dict[str, tuple[str | None, str | None]]


@dataclass(frozen=True)
class PullPlan:
    root: Path
    ahead: StoreAhead
    steps: list[Step] = field(default_factory=list)
    #: files a killed commit-mode write-back wrote but did not commit, each exactly as a step
    #: of this plan leaves it (:func:`core.writeback_commit.plan_commit`): committed as this
    #: plan's own, not refused as uncommitted changes
    recovered: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.steps

    def final(self) -> dict[str, tuple[str | None, str | None]]:
        """Each edited file: its text now and after every step."""
        out: dict[str, tuple[str | None, str | None]] = {}
        for step in self.steps:
            for rel, (before, after) in step.files.items():
                out[rel] = (out[rel][0] if rel in out else before, after)
        return out

    def diff(self) -> str:
        """The unified diff of every edit (what ``--dry-run`` prints)."""
        chunks: list[str] = []
        for rel, (before, after) in sorted(self.final().items()):
            chunks += difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                (after or "").splitlines(keepends=True),
                f"a/{rel}" if before is not None else "/dev/null",
                f"b/{rel}" if after is not None else "/dev/null",
            )
        return "".join(c if c.endswith("\n") else c + "\n" for c in chunks)


@dataclass(frozen=True)
class WriteBackResult:
    """What a write-back wrote: catalog-relative files, and the last commit (``None``
    without ``commit`` mode, or when there was nothing to write)."""

    files: list[str]
    commit: str | None = None
    commits: list[str] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)


def _metric_line(text: str, metric_id: str) -> int | None:
    data = load_yaml(text)
    items = data.get("metrics") if isinstance(data, LDict) and "id" not in data else data
    if isinstance(items, LDict):
        items = [items]
    if not isinstance(items, list | LList):
        return None
    for item in items:
        if isinstance(item, LDict) and item.get("id") == metric_id:
            return item.line
    return None


def _value_at(props: dict[str, Any] | None, path: FieldPath) -> Any:
    return flatten(props).get(path) if path != WHOLE else props


def _sibling_path(source: CatalogSource, metric: dict[str, Any], taken: set[str]) -> str:
    """Where a created metric's file goes: the folder holding most metrics of its domain,
    else ``metrics/``."""
    from collections import Counter

    domain = metric.get("domain")
    folders: Counter[str] = Counter()
    for node in source.graph.nodes:
        if isinstance(node, Metric) and domain and node.domain == domain:
            origin = source.origins.get(node.ref)
            if origin:
                folders[str(Path(origin[0]).parent)] += 1
    folder = folders.most_common(1)[0][0] if folders else "metrics"
    if not SLUG_RE.match(str(metric.get("id", ""))):
        raise WriteBackError(
            _("{value} is not a metric id; create its file by hand", value=repr(metric.get("id")))
        )
    rel = f"{folder}/{metric['id']}.yaml"
    if rel in taken or (source.root / rel).exists():
        raise WriteBackError(_("{rel} exists already; create the metric's file by hand", rel=rel))
    return rel


def created_file(root: Path, metric: dict[str, Any]) -> str | None:
    """The catalog-relative file a created metric will live in when written back (beside the
    metrics of its domain), or ``None`` when that cannot be said (the catalog does not
    validate, the file exists already)."""
    try:
        return _sibling_path(read_catalog(root), metric, set())
    except (KpigraphError, OSError):
        return None


def plan_pull(root: Path, store: GraphStore, *, upto_revision: int | None = None) -> PullPlan:
    """Every edit that writes into the files what the store has and they lack (requests
    applied since the files' last load; with ``upto_revision``, those up to it).

    Raises
    ------
    CatalogError
        The catalog does not validate as it is (fix it first).
    SyncConflictError
        A field changed in the files and in the store to different values (each named).
    WriteBackError
        An edit cannot be made in place, or the edited catalog does not validate.
    """
    source = read_catalog(root)
    ahead = store_ahead(store, source.graph)
    if ahead.conflicts:
        lines = "".join(f"\n  {c.describe()}" for c in ahead.conflicts)
        raise SyncConflictError(
            _(
                "the files and the store changed the same fields:{lines}\nresolve them in "
                "the files (keep the store's value to take the approved change), then "
                "pull again",
                lines=lines,
            ),
            {"conflicts": [c.describe() for c in ahead.conflicts]},
        )
    missing = {m.id: m for m in ahead.missing}
    texts: dict[str, str | None] = {}
    steps: list[Step] = []
    expected: dict[str, dict[str, Any] | None] = {}
    in_files = {n.id: n.props() for n in source.graph.nodes if isinstance(n, Metric)}
    for request in ahead.requests:
        if upto_revision is not None and request.revision > upto_revision:
            break
        edits: dict[str, tuple[str | None, str | None]] = {}
        for metric_id, (old, new) in sorted(request.metrics.items()):
            merge = missing.get(metric_id)
            if merge is None or request.revision <= ahead.synced.get(metric_id, 0):
                continue  # the files hold this request's state of the metric already
            changes = {
                path: _value_at(new, path)
                for path in merge.to_files
                if _value_at(old, path) != _value_at(new, path)
            }
            if not changes:
                continue
            rel, before, after = _edit(source, texts, metric_id, changes, new)
            want = expected.get(metric_id) or normalized(in_files.get(metric_id) or {})
            for path, value in sorted(changes.items()):
                if path == WHOLE:
                    want = normalized(value or {})
                else:
                    set_path(want, path, value)
            expected[metric_id] = want
            edits[rel] = (edits[rel][0] if rel in edits else before, after)
            texts[rel] = after
        if edits:
            steps.append(Step(request, edits))
    plan = PullPlan(root, ahead, steps)
    if steps:
        _validate(source, plan, expected)
    return plan


def _edit(
    source: CatalogSource,
    texts: dict[str, str | None],
    metric_id: str,
    changes: dict[FieldPath, Any],
    new: dict[str, Any] | None,
) -> tuple[str, str | None, str | None]:
    ref = NodeRef(NodeKind.METRIC, metric_id)
    if WHOLE in changes:
        if changes[WHOLE] is None or new is None:
            origin = source.origins.get(ref)
            raise WriteBackError(
                _(
                    "Metric:{metric_id} was removed in the store; remove it from {value} by hand",
                    metric_id=metric_id,
                    value=origin[0] if origin else "its file",
                )
            )
        taken = set(texts)
        rel = _sibling_path(source, new, taken)
        body = {k: v for k, v in normalized(new).items()}
        head = {"id": body.pop("id", metric_id), "name": body.pop("name", metric_id)}
        return rel, None, dump_yaml(head | body)
    origin = source.origins.get(ref)
    if origin is None:
        raise WriteBackError(_("Metric:{metric_id} is in no catalog file", metric_id=metric_id))
    rel = origin[0]
    path = source.root / rel
    before = texts.get(rel)
    if before is None:
        before = path.read_bytes().decode("utf-8")
    line = _metric_line(before, metric_id)
    if line is None:
        raise WriteBackError(_("{rel}: Metric:{metric_id} not found", rel=rel, metric_id=metric_id))
    try:
        after = patch(before, line, changes, ORDER, where=rel)
    except YamlEditError as exc:
        raise WriteBackError(str(exc)) from exc
    original = texts.get(rel) if rel in texts else before
    return rel, original, after


def _validate(
    source: CatalogSource, plan: PullPlan, expected: dict[str, dict[str, Any] | None]
) -> None:
    """Read the edited catalog from a private copy; every metric pulled must now say what
    the merge says, and nothing else may have changed."""
    with tempfile.TemporaryDirectory(prefix="kpigraph-pull-") as tmp:
        copy = Path(tmp) / "catalog"
        shutil.copytree(source.root, copy, ignore=shutil.ignore_patterns(".git"))
        for rel, (_before, after) in plan.final().items():
            target = copy / rel
            if after is None:
                target.unlink(missing_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(after, encoding="utf-8")
        try:
            edited = read_catalog(copy).graph
        except CatalogError as exc:
            issues = "; ".join(f"{i.file}:{i.line}: {i.message}" for i in exc.issues[:5])
            raise WriteBackError(
                _(
                    "the catalog would not validate after the edits ({issues}); nothing written",
                    issues=issues,
                )
            ) from exc
    old = {str(n.ref): n for n in source.graph.nodes}
    new = {str(n.ref): n for n in edited.nodes}
    problems: list[str] = []
    for key in sorted(set(old) | set(new)):
        ref = NodeRef.parse(key)
        if ref.kind is not NodeKind.METRIC or ref.id not in expected:
            if old.get(key) != new.get(key):
                problems.append(f"{key} would change")
            continue
        got = normalized(new[key].props()) if key in new else None
        want = expected[ref.id]
        if got != want:
            problems.append(f"{key} would not read back as the store holds it")
    if problems:
        raise WriteBackError("; ".join(problems) + "; nothing was written (edit by hand)")


def write_files(root: Path, files: dict[str, tuple[str | None, str | None]]) -> list[str]:
    """Replace each file atomically: every new text is written to a temporary file beside its
    target first; then each is renamed into place (``os.replace``)."""
    staged: list[tuple[Path, Path | None]] = []
    for rel in files:  # a folder linked out of the catalog (core/confined.py): nothing written
        if escapes(root, root / rel):
            raise WriteBackError(
                _(
                    "{rel} is in a folder linked to outside the catalog; {advice}",
                    rel=rel,
                    advice=_(ADVICE),
                )
            )
    try:
        for rel, (_before, after) in sorted(files.items()):
            target = root / rel
            if after is None:
                staged.append((target, None))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".kpigraph-tmp", dir=target.parent
            )
            staged.append((target, Path(tmp)))
            with os.fdopen(fd, "wb") as handle:
                handle.write(after.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            if target.exists():
                os.chmod(tmp, target.stat().st_mode & 0o777)
    except BaseException:
        for _target, tmp_path in staged:
            if tmp_path is not None:
                tmp_path.unlink(missing_ok=True)
        raise
    for target, tmp_path in staged:
        if tmp_path is None:
            target.unlink(missing_ok=True)
        else:
            os.replace(tmp_path, target)
    return sorted(files)


def commit_message(request: AppliedRequest) -> str:
    reason = request.reason.strip() or "approved change"
    return f"{reason}\n\nchange request #{request.change_request} (revision {request.revision})\n"


def apply_plan(
    plan: PullPlan, *, commit: bool = False, branch: str | None = None
) -> WriteBackResult:
    """Write the plan's files (and with ``commit``, one commit per request)."""
    from loaders import git_commit as g

    final = plan.final()
    if plan.empty:
        return WriteBackResult([])
    requests = [s.request.change_request for s in plan.steps]
    if not commit:
        return WriteBackResult(write_files(plan.root, final), requests=requests)
    repo = g.open_repo(plan.root, branch)
    g.check_clean(repo, sorted(set(final) - set(plan.recovered if repo.current else ())))
    parent = repo.head
    commits: list[str] = []
    for step in plan.steps:
        files = {rel: after for rel, (_b, after) in step.files.items()}
        parent = g.commit_files(
            repo, parent, files, commit_message(step.request), step.request.author
        )
        commits.append(parent)
    if repo.current:
        write_files(plan.root, final)
        try:
            g.stage(repo, {rel: after for rel, (_b, after) in final.items()})
            g.move_ref(repo, parent)
        except g.GitCommitError:  # git refused (a lock, the branch moved): put the files back
            write_files(plan.root, {rel: (a, b) for rel, (b, a) in final.items()})
            with contextlib.suppress(g.GitCommitError):
                g.stage(repo, {rel: before for rel, (before, _a) in final.items()})
            raise
        written = sorted(final)
    else:
        g.move_ref(repo, parent)
        written = []
    return WriteBackResult(written, parent, commits, requests)


@contextlib.contextmanager
def catalog_lock(root: Path) -> Iterator[None]:
    """One write-back (or pull) into ``root`` at a time, across processes: an exclusive
    ``flock`` on the directory itself (nothing is added to it). Plan inside it: a plan made
    from files another writer is about to replace would put back what they had."""
    try:
        import fcntl
    except ImportError:  # not POSIX (Windows): no lock
        yield
        return
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_back(
    catalog_dir: str | Path,
    change_request: ChangeRequest,
    store: GraphStore,
    mode: Literal["files", "commit"] = "files",
    *,
    branch: str | None = None,
) -> WriteBackResult:
    """Write one applied change request into the catalog files (the server's write-back).

    Contract:

    * ``change_request`` is applied: its revision (``applied_revision``) is in ``store``.
      Everything the files lack up to that revision is written — this request, and any
      earlier one the files lack too (each its own commit in ``commit`` mode).
    * ``mode="files"`` edits the files in place; ``"commit"`` also commits, one commit per
      request on the checked-out branch (or ``branch``), author = the requester, message =
      the reason and ``change request #N``; files to edit must have no uncommitted changes,
      except those a killed write-back left (exactly the edits of requests the commits lack:
      they are committed now, each request its own commit — see
      :func:`core.writeback_commit.plan_commit`).
    * Nothing is written unless every edit could be made and the edited catalog validates;
      each file is replaced atomically. Files that already hold the change: nothing is
      written (``WriteBackResult([])``) — calling it twice is harmless.

    Raises
    ------
    WriteBackError
        The edit cannot be made in place, or the edited catalog does not validate.
    SyncConflictError
        The files changed the same fields to other values.
    CatalogError
        The catalog does not validate as it is.
    loaders.git_commit.GitCommitError
        ``commit`` mode: not a git work tree, dirty files, the branch moved meanwhile.

    In every case the files (and the repository) are left as they were.
    """
    if change_request.applied_revision is None:
        raise WriteBackError(_("change request #{id} is not applied", id=change_request.id))
    root, upto = Path(catalog_dir), change_request.applied_revision
    with catalog_lock(root):
        if mode == "commit":
            from core.writeback_commit import plan_commit

            plan = plan_commit(root, store, branch=branch, upto_revision=upto)
        else:
            plan = plan_pull(root, store, upto_revision=upto)
        return apply_plan(plan, commit=mode == "commit", branch=branch)
