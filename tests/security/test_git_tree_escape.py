"""``kpigraph diff git:REV:PATH`` reads a commit's tree: a hostile tree (made with ``git mktree``,
which writes any entry name) must not write outside the private temporary directory.

Issue 21 item 2: a tree with ``..`` entries made ``loaders/git_source.py`` write
``tmp / "catalog/x/../../<anywhere>/f.yaml"`` unchecked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from graph_schema.errors import SourceSpecError
from loaders.git_source import load_git_catalog
from tests.helpers import DEMO

#: the English words of the refusals (the messages in zh: tests/unit/test_i18n_errors.py)
pytestmark = pytest.mark.usefixtures("english")

ENV = ["-c", "user.name=t", "-c", "user.email=t@example.com"]


def git(repo: Path, *args: str, data: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", *ENV, *args], cwd=repo, input=data, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def blob(repo: Path, content: bytes) -> str:
    return git(repo, "hash-object", "-w", "--stdin", data=content)


def tree(repo: Path, entries: list[tuple[str, str, str, str]]) -> str:
    """``git mktree`` from ``(mode, type, sha, name)``; names are taken as given."""
    text = "".join(f"{m} {t} {s}\t{n}\0" for m, t, s, n in entries).encode()
    return git(repo, "mktree", "-z", "--missing", data=text)


def commit(repo: Path, root: str) -> str:
    sha = git(repo, "commit-tree", root, "-m", "hostile")
    git(repo, "update-ref", "refs/heads/hostile", sha)
    return sha


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    return repo


def catalog_tree(repo: Path, extra: list[tuple[str, str, str, str]]) -> str:
    """The demo catalog's top-level files as a tree, plus ``extra`` entries."""
    entries = [
        ("100644", "blob", blob(repo, (DEMO / name).read_bytes()), name)
        for name in ("kpigraph.yaml", "departments.yaml")
    ]
    return tree(repo, entries + extra)


def scratch_files() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("kpigraph-git-*"))


def test_dotdot_entries_are_refused_and_nothing_is_written_outside(
    repo: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"  # where the escaping path points
    victim.mkdir()
    payload = blob(repo, b"owned: true\n")
    # catalog/m/x/../../../<victim relative to the temporary directory's parent>/f.yaml,
    # spelled as tree entries named '..': on the landed code this wrote victim/f.yaml
    level = tree(repo, [("100644", "blob", payload, "f.yaml")])
    rel = Path(os.path.relpath(victim, tempfile.gettempdir())).parts
    for part in reversed(("..", "..", "..", *rel)):
        level = tree(repo, [("040000", "tree", level, part)])
    inner = tree(repo, [("040000", "tree", level, "x")])
    catalog = catalog_tree(repo, [("040000", "tree", inner, "m")])
    commit(repo, tree(repo, [("040000", "tree", catalog, "catalog")]))
    before = scratch_files()
    with pytest.raises(SourceSpecError) as caught:
        load_git_catalog("git:hostile:catalog", cwd=repo)
    message = caught.value.message
    assert "refused tree entry" in message and "'..' path component" in message
    assert "nothing was written" in message
    assert not list(victim.iterdir())
    assert scratch_files() == before  # the temporary directory was never made, or removed


@pytest.mark.parametrize(
    ("entry_mode", "entry_type", "name", "reason"),
    [
        ("120000", "blob", "metrics.yaml", "symbolic link"),
        ("160000", "commit", "vendored", "submodule"),
        ("100644", "blob", ".git", "'.git' path component"),
        ("100644", "blob", ".GIT", "'.git' path component"),
        ("100644", "blob", "a\\..\\b.yaml", "backslash"),
    ],
)
def test_links_submodules_and_dot_git_are_refused(
    repo: Path, entry_mode: str, entry_type: str, name: str, reason: str
) -> None:
    if entry_type == "commit":
        sha = "1" * 40  # a submodule entry points at a commit of another repository
    else:
        sha = blob(repo, b"/etc/passwd" if entry_mode == "120000" else b"x: 1\n")
    catalog = catalog_tree(repo, [(entry_mode, entry_type, sha, name)])
    commit(repo, tree(repo, [("040000", "tree", catalog, "catalog")]))
    with pytest.raises(SourceSpecError, match=reason):
        load_git_catalog("git:hostile:catalog", cwd=repo)


def test_a_dotdot_entry_outside_the_catalog_path_also_refuses(repo: Path) -> None:
    evil = tree(repo, [("100644", "blob", blob(repo, b"x"), "f.yaml")])
    catalog = catalog_tree(repo, [])
    root = tree(repo, [("040000", "tree", catalog, "catalog"), ("040000", "tree", evil, "..")])
    commit(repo, root)
    with pytest.raises(SourceSpecError, match=r"refused tree entry '\.\./f\.yaml'"):
        load_git_catalog("git:hostile:catalog", cwd=repo)


def test_an_ordinary_commit_still_reads(repo: Path) -> None:
    shutil.copytree(DEMO, repo / "catalog")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    graph = load_git_catalog("git:HEAD:catalog", cwd=repo)
    assert graph.meta["git_commit"] and graph.nodes
