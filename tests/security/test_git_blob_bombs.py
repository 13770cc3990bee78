"""``kpigraph diff git:REV:PATH`` reads every catalog file of a commit: git stores a gigabyte of
zeros in about a megabyte, and one blob may be named by any number of tree entries. On the
landed code ``git cat-file --batch`` handed every byte to Python at once (and then to the
temporary directory) before the loader's 8 MiB per-file limit looked at anything: a hostile
commit in a pull request ran the CI job that diffs it out of memory. Now the sizes ``git
ls-tree -l`` reports are checked first: a file past the per-file limit, or all of them past
:data:`~loaders.git_source.MAX_GIT_CATALOG_BYTES` together, refuses the read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import loaders.git_source as git_source
from graph_schema.errors import SourceSpecError
from loaders.catalog_file import MAX_FILE_BYTES
from loaders.git_source import load_git_catalog
from tests.security.test_git_tree_escape import blob, catalog_tree, commit, repo, tree

# the refusals read here are the English ones
pytestmark = pytest.mark.usefixtures("english")

__all__ = ["repo"]  # fixture

ROOT = Path(__file__).resolve().parents[2]


def reads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The git commands run from now on."""
    seen: list[list[str]] = []
    real = git_source.run_git

    def spy(args: list[str], cwd: Path, **kw: object) -> bytes:
        seen.append(args)
        return real(args, cwd, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(git_source, "run_git", spy)
    return seen


def test_a_file_past_the_limit_is_refused_before_it_is_read(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = blob(repo, b"a: " + b"x" * (MAX_FILE_BYTES + 10) + b"\n")
    metrics = tree(repo, [("100644", "blob", big, "big.yaml")])
    catalog = catalog_tree(repo, [("040000", "tree", metrics, "metrics")])
    commit(repo, tree(repo, [("040000", "tree", catalog, "catalog")]))
    seen = reads(monkeypatch)
    with pytest.raises(SourceSpecError) as caught:
        load_git_catalog("git:hostile:catalog", cwd=repo)
    assert "refused tree entry 'catalog/metrics/big.yaml'" in caught.value.message
    assert "limited to 8 MiB" in caught.value.message
    assert not [a for a in seen if a[0] == "cat-file"]


def test_one_blob_named_many_times_is_refused_before_it_is_read(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zeros = blob(repo, b"#" * (MAX_FILE_BYTES - 1024))  # under the per-file limit
    names = [("100644", "blob", zeros, f"part-{i:04d}.yaml") for i in range(80)]  # 640 MiB
    metrics = tree(repo, names)
    catalog = catalog_tree(repo, [("040000", "tree", metrics, "metrics")])
    commit(repo, tree(repo, [("040000", "tree", catalog, "catalog")]))
    seen = reads(monkeypatch)
    with pytest.raises(SourceSpecError, match="MiB together"):
        load_git_catalog("git:hostile:catalog", cwd=repo)
    assert not [a for a in seen if a[0] == "cat-file"]


def test_a_blob_bomb_does_not_run_the_reader_out_of_memory(repo: Path) -> None:
    """The whole command under a 1.5 GiB address-space limit: 3.2 GB of catalog files in one
    8 MiB blob. On the landed code this died with MemoryError."""
    zeros = blob(repo, b"#" * (MAX_FILE_BYTES - 1024))
    metrics = tree(repo, [("100644", "blob", zeros, f"p{i}.yaml") for i in range(400)])
    catalog = catalog_tree(repo, [("040000", "tree", metrics, "metrics")])
    commit(repo, tree(repo, [("040000", "tree", catalog, "catalog")]))
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))\n"
        "from graph_schema.errors import SourceSpecError\n"
        "from loaders.git_source import load_git_catalog\n"
        "try:\n"
        f"    load_git_catalog('git:hostile:catalog', cwd={str(repo)!r})\n"
        "except SourceSpecError as exc:\n"
        "    print('refused:', exc.message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused:" in done.stdout and "512 MiB" in done.stdout  # the child speaks zh
