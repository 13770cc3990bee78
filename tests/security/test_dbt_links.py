"""``kpigraph import dbt DIR`` reads a dbt project — a repository from whoever wrote it. Its
YAML files were found with ``rglob`` and read whatever a symbolic link pointed at: a project
holding ``models/extra.yml → /srv/other-team/metrics.yml`` imported that file's metrics (their
descriptions, SQL filters, names) into the catalog it wrote, and a link to any other file was
read and parsed. The catalog loader refuses links out of its directory
(:mod:`graph_schema.confined`); the dbt reader now does the same, naming the link."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.i18n import use
from loaders.dbt.read import DbtImportError, read_dbt

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt_project"

SECRET = """version: 2
metrics:
  - name: secret_margin
    label: SECRET gross margin of the other team
    type: simple
    type_params:
      measure: store_visit_count
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    outside = tmp_path / "other-team"
    outside.mkdir()
    (outside / "metrics.yml").write_text(SECRET, encoding="utf-8")
    return root


def test_a_file_linked_from_outside_is_not_read(project: Path) -> None:
    os.symlink(project.parent / "other-team" / "metrics.yml", project / "models" / "extra.yml")
    with use("en"), pytest.raises(DbtImportError) as caught:
        read_dbt(project)
    text = "\n".join(caught.value.problems)
    assert "models/extra.yml" in text and "outside the dbt project" in text
    assert "SECRET" not in text


def test_a_directory_linked_from_outside_is_not_read(project: Path) -> None:
    """A guard (this held before too: ``rglob`` does not descend into linked directories)."""
    os.symlink(project.parent / "other-team", project / "models" / "shared")
    names = {m.name for m, _raw, _where in read_dbt(project).metrics}
    assert "secret_margin" not in names and names


def test_a_link_inside_the_project_still_reads(project: Path) -> None:
    (project / "extra").mkdir()
    shutil.copy(project.parent / "other-team" / "metrics.yml", project / "extra" / "m.yml")
    os.symlink(project / "extra" / "m.yml", project / "models" / "m.yml")
    names = {m.name for m, _raw, _where in read_dbt(project).metrics}
    assert "secret_margin" in names
