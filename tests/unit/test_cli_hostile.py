"""Hostile catalog text in the terminal (issue #12, item 3): names holding rich markup,
ANSI escapes, a hyperlink and NUL reach every command's output and error messages printed as
written — markup never interpreted, control characters shown escaped, no crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, write_catalog

METRIC = "nul\\0byte \\e[41mBG\\e[0m [red]r[/red] [/]"  # YAML escapes: NUL, ESC
FILES = {
    "kpigraph.yaml": 'name: "[bold red]X[/] 目录"\n',
    "departments.yaml": (
        '- {id: ops, name: "[link=http://evil.example]click[/link]"}\n'
        '- {id: finance, name: "财务部 \\e[2J"}\n'
    ),
    "metrics/atp.yaml": (
        f'id: atp\nname: "{METRIC}"\nabbr: ATP\nlevel: L1\nowner: ops\nreviewer: finance\n'
        "formula: revenue / visits\n"
        'definition: "def \\e]8;;http://evil.example\\e\\\\link\\e]8;;\\e\\\\ [blink]x[/blink]"\n'
    ),
}
#: What must never reach the terminal: the catalog's own escape sequences and NUL.
RAW = ("\x00", "\x1b[41m", "\x1b[2J", "\x1b]8;")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    catalog = write_catalog(root / "catalog", FILES)
    db = root / "g.sqlite"
    r = kpigraph("load", catalog, "--db", db)
    assert r.returncode == 0, r.stderr
    return catalog, db


def kpigraph(*args: str | Path, tty: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    if tty:  # rich renders as for a terminal: styles, and [link] markup as real hyperlinks
        env = {**os.environ, "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        errors="replace",
    )


def assert_text_stays_text(r: subprocess.CompletedProcess[str], *, tty: bool = False) -> None:
    both = r.stdout + r.stderr
    assert "Traceback" not in both and "MarkupError" not in both, both[-2000:]
    assert "internal error" not in both, both[-2000:]
    for raw in RAW:
        assert raw not in both, (raw, both[-2000:])
    if not tty:
        assert "\x1b" not in both, both[-2000:]


COMMANDS: list[tuple[str, ...]] = [
    ("info",),
    ("show", "atp"),
    ("show", "Department:ops"),
    ("show", "Department:finance"),
    ("search", "ATP"),
    ("search", "", "--kind", "Department"),
    ("search", "nul"),
    ("lineage", "atp", "--relations", "OWNS,REVIEWS,INPUT_TO"),
    ("impact", "atp"),
    ("impact", "Department:ops"),
    ("path", "revenue", "atp"),
    ("history", "atp"),
    ("show", "atpp"),  # an error whose suggestions carry the hostile name
    ("show", "Department:opz"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_query_commands_print_catalog_text_as_written(
    hostile: tuple[Path, Path], args: tuple[str, ...]
) -> None:
    _, db = hostile
    r = kpigraph(*args, "--db", db)
    assert_text_stays_text(r)
    assert r.returncode in (0, 1, 2), r.stderr  # 2: a name the catalog does not have
    if args[:2] == ("show", "atp"):
        assert "[red]r[/red] [/]" in r.stdout
        assert "\\x00" in r.stdout and "\\x1b[41m" in r.stdout  # shown escaped


def test_on_a_terminal_no_hyperlink_or_escape_comes_from_the_catalog(
    hostile: tuple[Path, Path],
) -> None:
    _, db = hostile
    for args in (
        ("show", "Department:ops"),
        ("show", "atp"),
        ("search", "", "--kind", "Department"),
    ):
        r = kpigraph(*args, "--db", db, tty=True)
        assert_text_stays_text(r, tty=True)
        assert "[link=http://evil.example]click[/link]" in r.stdout


def test_catalog_commands_keep_the_catalog_name_as_written(
    hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    catalog, _ = hostile
    db = tmp_path / "again.sqlite"
    for args in (("validate", catalog), ("load", catalog, "--db", db), ("info", "--db", db)):
        r = kpigraph(*args)
        assert r.returncode == 0, r.stderr
        assert_text_stays_text(r)
        if args[0] != "validate":
            assert "[bold red]X[/] 目录" in r.stdout + r.stderr, r.stdout + r.stderr
    lint = kpigraph("lint", catalog)
    assert_text_stays_text(lint)
