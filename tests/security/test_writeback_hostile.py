"""Write-back with hostile input (issue 22): text from a change request cannot add keys to a
catalog file, a branch name cannot become a git option, an author cannot forge headers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from loaders.git_commit import GitCommitError, author_of, open_repo
from loaders.yaml_lines import load_yaml
from loaders.yaml_patch import patch

FILE = "# 客单价\nid: atp\nname: 客单价\ndefinition: 平均金额  # keep\nrolls_up_to: revenue\n"


@pytest.mark.parametrize(
    "text",
    [
        "x\nrolls_up_to: evil",
        "x\n  injected: 1",
        "x: y",
        "- a\n- b",
        "x # not a comment",
        "'quoted' \"twice\" \\ back",
        "!!python/object:os.system ls",
        "*alias &anchor",
        "x\n...\n---\nid: other",
    ],
)
def test_request_text_is_written_as_text_never_as_yaml(text: str) -> None:
    out = patch(FILE, 2, {("definition",): text, ("caveats",): [text, "ok"]})
    data = load_yaml(out)
    assert data["definition"] == text and data["caveats"] == [text, "ok"]
    assert data["rolls_up_to"] == "revenue" and set(data) == {
        "id",
        "name",
        "definition",
        "rolls_up_to",
        "caveats",
    }


def test_author_cannot_forge_git_identity() -> None:
    name, email = author_of("zhang <root@evil>\nCommitter: x")
    assert "<" not in name and ">" not in name and "\n" not in name
    assert email.endswith("@kpigraph.invalid") and "<" not in email


def test_branch_names_that_are_options_are_refused(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    (tmp_path / "kpigraph.yaml").write_text("name: x\n", encoding="utf-8")
    env = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", *env, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(["git", *env, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    for bad in ("--upload-pack=touch pwned", "-b", "a..b", "x y", "refs/../../HEAD"):
        with pytest.raises(GitCommitError):
            open_repo(tmp_path, bad)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("item", ["yes", "null", "0x1", "2024-01-01", "~", "on", "1_000"])
def test_list_items_yaml_would_read_as_other_types_are_written_quoted(item: str) -> None:
    """A caveat 'yes' or '2024-01-01' was written plain (a boolean, a date): the read-back
    refused the edit, and — since a pull writes every request the files lack — every later
    write-back failed too until the file was edited by hand (review)."""
    text = FILE + "caveats:\n  - 旧\n  - 也旧\n"
    for caveats in ([item, "新"], ["旧", item]):
        out = patch(text, 2, {("caveats",): caveats})
        assert load_yaml(out)["caveats"] == caveats
