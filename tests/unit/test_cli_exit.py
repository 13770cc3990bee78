"""``kpigraph`` run as the program ends without freeing its objects one by one (cli._leave):
the exit code, the whole output and the exit handlers the command registered are kept (#23)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, write_catalog


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "--lang", "en", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_exit_codes_and_output_are_kept(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "cat")
    env = {"KPIGRAPH_DB": str(tmp_path / "s.sqlite"), "KPIGRAPH_CACHE_DIR": str(tmp_path / "c")}
    loaded = _cli(["load", str(catalog), "--json"], env)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["revision"] == 1  # the whole JSON, flushed
    missing = _cli(["show", "Metric:no_such_metric"], env)
    assert missing.returncode != 0
    assert "no_such_metric" in missing.stderr
    nowhere = _cli(["load", str(tmp_path / "nowhere")], env)
    assert nowhere.returncode != 0 and nowhere.stderr


def test_the_commands_exit_handlers_still_run(tmp_path: Path) -> None:
    """A load's cache entries are written by a forked child the load waits for in an exit
    handler: the next load of the same files finds every one of them."""
    catalog = write_catalog(tmp_path / "cat")
    env = {"KPIGRAPH_DB": str(tmp_path / "s.sqlite"), "KPIGRAPH_CACHE_DIR": str(tmp_path / "c")}
    assert _cli(["load", str(catalog)], env).returncode == 0
    metric = catalog / "metrics/revenue.yaml"
    metric.write_text(metric.read_text(encoding="utf-8") + "definition: 口径\n", "utf-8")
    again = _cli(["load", str(catalog), "--json"], env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["delta"] is True  # the last load's record and entries


def test_main_called_in_process_returns_through_system_exit() -> None:
    code = (
        "import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit as e:\n"
        "    print('exit', e.code)\n"
        "print('still here')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "exit 0" in done.stdout and "still here" in done.stdout
