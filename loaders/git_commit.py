"""Commits of edited catalog files, made with git plumbing and explicit arguments (never a
shell string): blobs (``hash-object``), a tree built in a private index (``read-tree``,
``update-index``, ``write-tree``), ``commit-tree`` with the author given in the environment,
and ``update-ref`` with the old value (compare-and-set: a branch that moved meanwhile is not
overwritten). The user's index is touched only for the committed paths, and only when the
commits go on the checked-out branch.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.i18n import N_, _
from graph_schema.errors import KpigraphError
from loaders.git_source import run_git

_EMAIL_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class GitCommitError(KpigraphError):
    """The edits cannot be committed (not a work tree, dirty files, a bad branch name…)."""

    code = "git_commit"


def git(
    args: list[str], cwd: Path, *, data: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    """Run ``git ARGS`` in ``cwd``; its standard output (stripped). Raises GitCommitError."""
    out = run_git(args, cwd, data=data, env=env, error=GitCommitError, need=N_("use --commit"))
    return out.decode("utf-8", "surrogateescape").strip()


def author_of(name: str | None) -> tuple[str, str]:
    """A git author for a kpigraph user: ``(name, name@kpigraph.invalid)``.

    >>> author_of("zhang")
    ('zhang', 'zhang@kpigraph.invalid')
    >>> author_of("张 三")
    ('张 三', 'user@kpigraph.invalid')
    """
    clean = (name or "").strip().replace("<", "").replace(">", "").replace("\n", " ")
    local = _EMAIL_SAFE.sub("", clean).strip(".") or "user"
    return clean or "kpigraph", f"{local}@kpigraph.invalid"


@dataclass(frozen=True)
class Repo:
    """The git work tree around a catalog directory."""

    top: Path
    prefix: str  # the catalog directory inside the repository ("" at its top), with "/"
    branch_ref: str  # the ref commits go on (refs/heads/NAME, or HEAD when detached)
    current: bool  # the ref is the checked-out one (work tree and index follow it)
    head: str  # the commit the ref points at now ("" for a new branch)


def open_repo(catalog: Path, branch: str | None = None) -> Repo:
    """The repository of ``catalog`` and where commits go: the checked-out branch, or
    ``branch`` (created at HEAD when it does not exist; an existing branch must be at HEAD)."""
    root = catalog.resolve()
    try:
        top = Path(git(["rev-parse", "--show-toplevel"], root))
    except GitCommitError:
        raise GitCommitError(
            _(
                "{catalog} is not inside a git work tree; --commit needs one (or drop --commit)",
                catalog=catalog,
            )
        ) from None
    prefix = git(["rev-parse", "--show-prefix"], root)
    head = git(["rev-parse", "--verify", "HEAD^{commit}"], root)
    current_ref = git(["symbolic-ref", "-q", "HEAD"], root) if _has_symbolic_head(root) else ""
    if branch is None or f"refs/heads/{branch}" == current_ref:
        return Repo(top, prefix, current_ref or "HEAD", True, head)
    if branch.startswith("-") or not branch.strip():
        raise GitCommitError(_("{branch} is not a branch name", branch=repr(branch)))
    try:
        git(["check-ref-format", "--branch", branch], root)
    except GitCommitError:
        raise GitCommitError(
            _("{branch} is not a valid branch name", branch=repr(branch))
        ) from None
    ref = f"refs/heads/{branch}"
    try:
        tip = git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    except GitCommitError:
        tip = ""
    if tip and tip != head:
        raise GitCommitError(
            _(
                "branch {branch} exists at another commit than HEAD; check it out and pull "
                "there, or name a new branch",
                branch=repr(branch),
            )
        )
    return Repo(top, prefix, ref, False, tip)


def _has_symbolic_head(root: Path) -> bool:
    try:
        git(["symbolic-ref", "-q", "HEAD"], root)
    except GitCommitError:
        return False
    return True


def check_clean(repo: Repo, paths: list[str]) -> None:
    """Refuse when a file to commit has uncommitted changes (they would go into the commit)."""
    if not paths:
        return
    wanted = set(paths)
    dirty = [p for p in dirty_paths(repo) if p in wanted]
    if dirty:
        raise GitCommitError(
            _(
                "uncommitted changes in {files}; commit or stash them before pull --commit",
                files=", ".join(dirty),
            ),
            {"files": dirty},
        )


def commit_files(
    repo: Repo, parent: str, files: dict[str, str | None], message: str, author: str | None
) -> str:
    """A commit of ``parent`` with ``files`` (catalog-relative path → text; ``None`` deletes),
    not yet on any branch. Returns its id."""
    with tempfile.TemporaryDirectory(prefix="kpigraph-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if parent:
            git(["read-tree", parent], repo.top, env=env)
        for rel, text in sorted(files.items()):
            path = repo.prefix + rel
            if text is None:
                git(["update-index", "--force-remove", "--", path], repo.top, env=env)
                continue
            blob = git(
                ["hash-object", "-w", "--stdin"], repo.top, data=text.encode("utf-8"), env=env
            )
            git(
                ["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], repo.top, env=env
            )
        tree = git(["write-tree"], repo.top, env=env)
    name, email = author_of(author)
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
    if not _configured(repo.top):
        env |= {
            "GIT_COMMITTER_NAME": "kpigraph",
            "GIT_COMMITTER_EMAIL": "kpigraph@kpigraph.invalid",
        }
    args = ["commit-tree", tree, *(["-p", parent] if parent else []), "-F", "-"]
    return git(args, repo.top, data=message.encode("utf-8"), env=env)


def _configured(top: Path) -> bool:
    try:
        return bool(git(["config", "user.name"], top)) and bool(git(["config", "user.email"], top))
    except GitCommitError:
        return False


def stage(repo: Repo, files: dict[str, str | None]) -> None:
    """Point the user's index at the committed content of ``files`` (checked-out branch)."""
    for rel, text in sorted(files.items()):
        path = repo.prefix + rel
        if text is None:
            git(["update-index", "--force-remove", "--", path], repo.top)
            continue
        blob = git(["hash-object", "-w", "--stdin"], repo.top, data=text.encode("utf-8"))
        git(["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], repo.top)


def move_ref(repo: Repo, new: str) -> None:
    """Move the branch to ``new`` if it is still where it was (else GitCommitError)."""
    old = repo.head or "0" * 40
    try:
        git(["update-ref", "-m", "kpigraph pull", repo.branch_ref, new, old], repo.top)
    except GitCommitError as exc:
        raise GitCommitError(
            _(
                "{ref} moved meanwhile; nothing was committed ({error})",
                ref=repo.branch_ref,
                error=exc,
            )
        ) from None


def dirty_paths(repo: Repo) -> list[str]:
    """Catalog-relative paths with uncommitted changes (in the index or the work tree, or
    untracked), from ``git status``."""
    spec = repo.prefix or "."
    raw = run_git(
        [
            "status",
            "--porcelain",
            "-z",
            "--untracked-files=all",
            "--ignore-submodules=all",
            "--",
            spec,
        ],
        repo.top,
        error=GitCommitError,
        need=N_("use --commit"),
    ).decode("utf-8", "surrogateescape")
    out: list[str] = []
    entries = iter(raw.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if "R" in code or "C" in code:
            next(entries, None)  # the rename's source
        if path.startswith(repo.prefix):
            out.append(path[len(repo.prefix) :])
    return sorted(set(out))


def committed_text(repo: Repo, rel: str) -> str | None:
    """The text of catalog file ``rel`` at HEAD (``None``: not in HEAD)."""
    if not repo.head:
        return None
    path = repo.prefix + rel
    if not git(["ls-tree", "--name-only", repo.head, "--", path], repo.top):
        return None
    raw = run_git(["cat-file", "blob", f"{repo.head}:{path}"], repo.top, error=GitCommitError)
    return raw.decode("utf-8", "surrogateescape")


def index_blob(repo: Repo, rel: str) -> str | None:
    """The blob id the user's index holds for catalog file ``rel`` (``None``: not in it)."""
    line = git(["ls-files", "--stage", "--", repo.prefix + rel], repo.top)
    return line.split()[1] if line else None


def blob_id(repo: Repo, text: str | None) -> str | None:
    """The blob id ``text`` would have (nothing written)."""
    if text is None:
        return None
    return git(["hash-object", "--stdin"], repo.top, data=text.encode("utf-8"))
