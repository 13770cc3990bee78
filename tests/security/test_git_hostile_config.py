"""A checkout is data from whoever made it: a catalog that came as a tarball with its ``.git``
directory, or a shared directory, carries a ``.git/config`` its user never read. Nothing
kpigraph runs there may run a program that configuration names.

Before the fix, in a real repository whose configuration writes a marker file:

- ``kpigraph load DIR`` (``loaders.git_source.source_info`` runs ``git status``) ran
  ``core.fsmonitor``, the ``clean`` filter of ``filter.<driver>`` and the
  ``post-index-change`` hook of ``core.hooksPath``;
- ``kpigraph diff git:REV`` in a partial clone (``extensions.partialClone``) fetched a missing
  object from the promisor remote, whose ``ext::`` URL is a shell command;
- ``pull --commit`` (``loaders.git_commit``) ran the ``reference-transaction`` hook on
  ``update-ref`` and ``status``'s fsmonitor, filter and hook.

Every git kpigraph runs now goes through ``loaders.git_source.guarded_env``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from graph_schema.errors import SourceSpecError
from loaders import git_commit as g
from loaders.git_source import load_git_catalog, source_info
from tests.helpers import DEMO, CliLoad

pytestmark = pytest.mark.usefixtures("english")

ID = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
HOOKS = ("reference-transaction", "post-index-change", "pre-auto-gc", "post-checkout")


def git(repo: Path, *args: str, data: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", *ID, *args], cwd=repo, input=data, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def markers(tmp: Path) -> list[str]:
    return sorted(p.name for p in (tmp / "markers").iterdir())


def make_hostile(repo: Path, tmp: Path) -> None:
    """Configuration in ``repo/.git/config`` that writes ``tmp/markers/<what>`` whenever git
    runs a program it names."""
    out = tmp / "markers"
    out.mkdir(exist_ok=True)
    hooks = tmp / "hooks"
    hooks.mkdir()
    for hook in HOOKS:
        script = hooks / hook
        script.write_text(f"#!/bin/sh\ntouch '{out}/hook-{hook}'\ncat >/dev/null\nexit 0\n")
        script.chmod(0o755)
    gpg = tmp / "gpg.sh"
    gpg.write_text(f"#!/bin/sh\ntouch '{out}/gpg'\nexit 1\n")
    gpg.chmod(0o755)
    config = {
        "core.fsmonitor": f"touch '{out}/fsmonitor'; false",
        "core.hooksPath": str(hooks),
        "filter.evil.clean": f"touch '{out}/filter-clean'; cat",
        "filter.evil.smudge": f"touch '{out}/filter-smudge'; cat",
        "filter.evil.required": "true",
        "commit.gpgSign": "true",
        "gpg.program": str(gpg),
        "core.pager": f"touch '{out}/pager'; cat",
        "diff.external": f"{tmp}/ext.sh",
    }
    for key, value in config.items():
        git(repo, "config", key, value)


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A repository holding the demo catalog in ``catalog/``, committed, then a hostile
    configuration (and ``* filter=evil`` in ``.gitattributes``, committed too)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shutil.copytree(DEMO, repo / "catalog")
    (repo / ".gitattributes").write_text("* filter=evil\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    make_hostile(repo, tmp_path)
    # stat-dirty: git status must look at the contents (the clean filter's moment)
    for path in (repo / "catalog").glob("*.yaml"):
        path.touch()
    return repo


def test_the_configuration_is_hostile_to_a_plain_git(hostile: Path, tmp_path: Path) -> None:
    """The control: git run as anyone runs it executes what the configuration names."""
    subprocess.run(["git", "status", "--porcelain"], cwd=hostile, capture_output=True)
    assert {"fsmonitor", "filter-clean", "hook-post-index-change"} <= set(markers(tmp_path))


def test_kpigraph_load_runs_nothing_the_checkout_names(
    hostile: Path, tmp_path: Path, cli_load: CliLoad
) -> None:
    done = cli_load(hostile / "catalog", tmp_path / "cache", tmp_path / "kpi.db")
    assert done.returncode == 0, done.stderr
    assert markers(tmp_path) == []
    info = source_info(hostile / "catalog")
    assert info["git_commit"] == git(hostile, "rev-parse", "HEAD")
    assert info["dirty"] is False  # touched, not changed
    assert markers(tmp_path) == []


def test_git_spec_reads_run_nothing(hostile: Path, tmp_path: Path) -> None:
    graph = load_git_catalog("git:HEAD:catalog", cwd=hostile)
    assert graph.nodes
    assert markers(tmp_path) == []


def test_a_promisor_remote_is_never_fetched(hostile: Path, tmp_path: Path) -> None:
    """A partial clone fetches a missing object from its promisor remote on demand; an
    ``ext::`` URL is a shell command."""
    out = tmp_path / "markers"
    git(hostile, "config", "core.repositoryformatversion", "1")
    git(hostile, "config", "extensions.partialClone", "origin")
    git(hostile, "config", "remote.origin.promisor", "true")
    git(hostile, "config", "remote.origin.url", f"ext::sh -c touch% {out}/ext-fetch")
    git(hostile, "config", "protocol.ext.allow", "always")
    missing = "1" * 40
    probe = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=hostile, input=f"{missing}\n".encode(), check=False
    )
    assert probe.returncode == 0 and markers(tmp_path) == ["ext-fetch"]  # the control
    (out / "ext-fetch").unlink()
    with pytest.raises(SourceSpecError, match="unknown revision"):
        load_git_catalog(f"git:{missing}:catalog", cwd=hostile)
    assert markers(tmp_path) == []


def test_pull_commit_plumbing_runs_nothing(hostile: Path, tmp_path: Path) -> None:
    repo = g.open_repo(hostile / "catalog")
    g.check_clean(repo, ["kpigraph.yaml"])
    text = (hostile / "catalog" / "kpigraph.yaml").read_text() + "# edited\n"
    new = g.commit_files(repo, repo.head, {"kpigraph.yaml": text}, "edit", "zhang")
    (hostile / "catalog" / "kpigraph.yaml").write_text(text)
    g.stage(repo, {"kpigraph.yaml": text})
    g.move_ref(repo, new)
    assert git(hostile, "rev-parse", "HEAD") == new
    assert g.committed_text(g.open_repo(hostile / "catalog"), "kpigraph.yaml") == text
    assert g.dirty_paths(g.open_repo(hostile / "catalog")) == []
    assert markers(tmp_path) == []


def test_too_many_filter_drivers_are_refused(hostile: Path) -> None:
    repo = g.open_repo(hostile / "catalog")
    lines = "".join(f'[filter "f{i}"]\n\tclean = cat\n' for i in range(300))
    with (hostile / ".git" / "config").open("a") as config:
        config.write(lines)
    with pytest.raises(g.GitCommitError, match="301 filter drivers"):
        g.dirty_paths(repo)
