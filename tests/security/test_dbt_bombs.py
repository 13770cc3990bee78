"""A dbt project directory is read from people who may be hostile (a pull request's YAML):
ten lines of YAML aliases standing for 10⁹ items took `kpigraph import dbt --dry-run` 37 s and
3.8 GB before failing with an empty message (found after review11 noted no size limit on a
project's YAML files); an oversized file is refused before it is read."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from loaders.dbt import DbtImportError, read_dbt
from loaders.dbt.read import MAX_YAML_BYTES

BOMB = "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)
PROJECT = (
    'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + BOMB + "semantic_models:\n"
    "  - name: s\n"
    "    model: ref('t')\n"
    "    description: *i\n"
    "    defaults: {agg_time_dimension: ds}\n"
    "    dimensions: [{name: ds, type: time, type_params: {time_granularity: day}}]\n"
    "    measures: [{name: m, agg: sum}]\n"
)


@pytest.mark.usefixtures("english")
def test_an_alias_bomb_in_a_project_file_is_refused_quickly(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x.yml").write_text(PROJECT, encoding="utf-8")
    started = time.process_time()
    with pytest.raises(DbtImportError) as caught:
        read_dbt(tmp_path)
    assert time.process_time() - started < 10  # 37 s of CPU before; ~1 s now
    (problem,) = caught.value.problems
    assert problem.startswith("models/x.yml: its YAML aliases (*name) stand for over 32 MiB")


@pytest.mark.usefixtures("english")
def test_an_oversized_project_file_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    big = tmp_path / "models" / "big.yml"
    with big.open("wb") as f:  # sparse: the size is checked before a byte is read
        f.truncate(MAX_YAML_BYTES + 1)
    with pytest.raises(DbtImportError) as caught:
        read_dbt(tmp_path)
    assert "models/big.yml: file is 32 MiB, over the limit" in caught.value.problems


def test_aliases_that_stay_small_still_import(tmp_path: Path) -> None:
    """Anchors are ordinary YAML (a shared config block): a few uses are fine."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x.yml").write_text(
        "defaults: &d {agg_time_dimension: ds}\n"
        "semantic_models:\n"
        "  - name: s\n"
        "    model: ref('t')\n"
        "    defaults: *d\n"
        "    dimensions: [{name: ds, type: time, type_params: {time_granularity: day}}]\n"
        "    measures: [{name: m, agg: sum}]\n"
        "metrics:\n"
        "  - {name: m, type: simple, type_params: {measure: m}}\n",
        encoding="utf-8",
    )
    project = read_dbt(tmp_path)
    assert [sm.name for sm, _ in project.semantic_models] == ["s"]
