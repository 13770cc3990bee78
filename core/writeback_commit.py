"""Commit-mode write-back that survives being killed.

A commit-mode write-back makes its commits first (objects on no branch), then writes the files,
stages them and moves the branch. Killed after writing the files but before moving the branch,
the files hold the change and no commit does. Planned from the work tree, the next write-back
would find the files already holding it — nothing to write — and every later one touching those
files would be refused for their uncommitted changes.

:func:`plan_commit` therefore plans a commit-mode write-back from what is *committed*: the
catalog as the work tree has it, with every file that has uncommitted changes put back as HEAD
has it. The plan then holds every request the commits lack (one step, hence one commit, each).
A file with uncommitted changes that the plan edits is the plan's own — a killed write-back's —
when its text is exactly what a step of the plan leaves it (and the index holds HEAD's or that
text): it is committed as the plan's, not refused. Any other uncommitted change to a file the
plan edits is still refused (``uncommitted changes in …``).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from core.writeback import PullPlan, plan_pull
from loaders import git_commit as g
from store.base import GraphStore


def plan_commit(
    root: Path,
    store: GraphStore,
    *,
    branch: str | None = None,
    upto_revision: int | None = None,
) -> PullPlan:
    """The plan of a commit-mode write-back into ``root`` (see the module), made from the
    committed catalog; ``plan.recovered`` names the files a killed write-back left.

    Raises what :func:`core.writeback.plan_pull` raises, and ``GitCommitError`` when ``root``
    is not in a git work tree."""
    repo = g.open_repo(root, branch)
    dirty = g.dirty_paths(repo)
    if not dirty:
        return plan_pull(root, store, upto_revision=upto_revision)
    with tempfile.TemporaryDirectory(prefix="kpigraph-head-") as tmp:
        copy = Path(tmp) / "catalog"
        shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        for rel in dirty:
            target = copy / rel
            text = g.committed_text(repo, rel)
            if text is None:
                target.unlink(missing_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8", "surrogateescape"))
        plan = plan_pull(copy, store, upto_revision=upto_revision)
    plan = replace(plan, root=root)
    if not repo.current:  # commits go elsewhere: the work tree is not written
        return plan
    return replace(plan, recovered=tuple(_left_by_killed_writeback(repo, root, plan, dirty)))


def _left_by_killed_writeback(
    repo: g.Repo, root: Path, plan: PullPlan, dirty: list[str]
) -> list[str]:
    edited = plan.final()
    own: list[str] = []
    for rel in dirty:
        if rel not in edited:
            continue
        states = [step.files[rel][1] for step in plan.steps if rel in step.files]
        path = root / rel
        now = path.read_bytes().decode("utf-8", "surrogateescape") if path.is_file() else None
        if now is None or now not in states:
            continue  # someone else's edit: refused by the clean check
        allowed = {g.blob_id(repo, g.committed_text(repo, rel)), g.blob_id(repo, now)}
        if g.index_blob(repo, rel) in allowed:
            own.append(rel)
    return own
