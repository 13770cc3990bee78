"""A commit-mode write-back killed after writing the files but before committing (review of
issue 22): the files held the change, no commit did; the next write-back found the files
already holding it and wrote nothing, and every later one touching the file was refused for
"uncommitted changes" until someone committed by hand. Now the next write-back (a server's
apply, or ``kpigraph pull --commit``) plans from what is committed, recognises the files the
killed one left (exactly a step of its plan) and commits them: one commit per request, each
by its requester.

The kill is real: a child process runs the write-back and SIGKILLs itself at the named step
(``stage``: files written, index not yet; ``move_ref``: files written and staged, branch not
moved)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.writeback import write_back
from loaders.yaml_lines import load_yaml
from store.embedded import EmbeddedStore
from tests.contract.test_writeback import ATP_FILE, apply_change, git, load_dir, make_catalog
from tests.governance_helpers import fresh_ledger
from tests.helpers import ROOT
from tests.unit.test_cli import run

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import loaders.git_commit as g
    from core.writeback import write_back
    from store.embedded import EmbeddedStore
    from store.ledger import ledger_for

    directory, db, change_id, step = sys.argv[1:5]
    setattr(g, step, lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))
    store = EmbeddedStore(db)
    change = ledger_for(store).change(int(change_id))
    write_back(directory, change, store, "commit")
    print("not killed")
    """
)


def _killed_write_back(directory: Path, db: Path, change_id: int, step: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(directory), str(db), str(change_id), step],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr


def _atp(directory: Path) -> dict[str, object]:
    return dict(load_yaml((directory / ATP_FILE).read_text(encoding="utf-8")))


@pytest.fixture
def killed(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, Path, EmbeddedStore]:
    """Request #1 applied; its commit-mode write-back killed at ``request.param``."""
    directory = make_catalog(tmp_path, repo=True)
    db = tmp_path / "kpigraph.sqlite"
    store = EmbeddedStore(db)
    fresh_ledger(store)
    load_dir(store, directory)
    first = apply_change(store, lambda d: d.update(caveats=[*d.get("caveats", []), "甲"]), "甲因")
    _killed_write_back(directory, db, first.id, request.param)
    # the state the review found: the file holds the change, no commit does
    assert "甲" in _atp(directory)["caveats"]  # type: ignore[operator]
    assert len(git(directory, "log", "--format=%H").split()) == 1
    assert git(directory, "status", "--porcelain", "--", ".").strip()
    return directory, db, store


STEPS = ["stage", "move_ref"]


@pytest.mark.parametrize("killed", STEPS, indirect=True)
def test_the_next_apply_commits_what_the_killed_one_wrote(
    killed: tuple[Path, Path, EmbeddedStore],
) -> None:
    directory, _db, store = killed
    second = apply_change(store, lambda d: d.update(definition=d["definition"] + "（乙）"), "乙因")
    result = write_back(directory, second, store, "commit")  # what the server's apply runs
    assert result.requests == [1, 2] and len(result.commits) == 2
    log = git(directory, "log", "--format=%an|%s").splitlines()
    assert log == ["zhang|乙因", "zhang|甲因", "Maintainer|catalog"], log
    bodies = git(directory, "log", "-2", "--format=%B")
    assert "change request #1" in bodies and "change request #2" in bodies
    assert not git(directory, "status", "--porcelain", "--", ".").strip()
    atp = _atp(directory)
    assert "甲" in atp["caveats"] and str(atp["definition"]).endswith("（乙）")  # type: ignore[operator]
    # request #1's commit holds exactly its own edit; #2's adds the other
    first_commit = git(directory, "show", f"HEAD~1:catalog/{ATP_FILE}")
    assert "甲" in first_commit and "（乙）" not in first_commit
    assert write_back(directory, second, store, "commit").files == []  # nothing left
    store.close()


@pytest.mark.parametrize("killed", ["move_ref"], indirect=True)
def test_pull_commit_completes_the_killed_write_back(
    killed: tuple[Path, Path, EmbeddedStore],
) -> None:
    directory, db, store = killed
    store.close()
    done = run("pull", str(directory), "--commit", db=db)
    assert "提交 1 次" in done.stdout, done.stdout  # the catalog's language (zh)
    log = git(directory, "log", "--format=%an|%s").splitlines()
    assert log == ["zhang|甲因", "Maintainer|catalog"], log
    assert not git(directory, "status", "--porcelain", "--", ".").strip()
    again = run("pull", str(directory), "--commit", db=db)
    assert "无需拉取" in again.stdout, again.stdout


@pytest.mark.parametrize("killed", ["move_ref"], indirect=True)
def test_someone_elses_edit_on_top_is_still_refused(
    killed: tuple[Path, Path, EmbeddedStore],
    english: None,
) -> None:
    """Only the exact text a step leaves is taken as the killed write-back's own."""
    directory, _db, store = killed
    atp = directory / ATP_FILE
    atp.write_text(atp.read_text(encoding="utf-8") + "# 本地修改\n", encoding="utf-8")
    before = atp.read_text(encoding="utf-8")
    second = apply_change(store, lambda d: d.update(definition=d["definition"] + "（乙）"))
    from loaders.git_commit import GitCommitError

    with pytest.raises(GitCommitError, match="uncommitted changes"):
        write_back(directory, second, store, "commit")
    assert atp.read_text(encoding="utf-8") == before
    assert len(git(directory, "log", "--format=%H").split()) == 1
    store.close()
