"""A catalog directory is written by people who may be hostile (a commit to its git
repository checks out symbolic links as links). A link out of the directory read the file it
named (review):

- ``data/dms_stores.csv → /elsewhere/hr.csv``: the values engine registered the link's target
  as the table and allowed its locked-down connection to read it — ``kpigraph eval revenue
  --by store`` listed the outside file's names (``TOPSECRET-南山店``);
- ``values/*.csv`` and ``targets/*.csv`` links were loaded the same way;
- ``metrics/x.yaml → /elsewhere/secrets.yaml`` was parsed, its keys named in the errors;
- the DuckDB warehouse engine over ``data/`` (``duckdb://``) made a view of the target;
- write-back wrote a created metric's file into a folder linked out of the catalog.

Now each is refused by name, nothing loaded or written (:mod:`core.confined`)."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.writeback import WriteBackError, write_files
from graph_schema.errors import CatalogError
from loaders.catalog import load_catalog
from tests.helpers import DEMO
from values.engines import open_engine
from values.engines.connections import SecretUrl
from values.errors import EngineConnectionError

LINKED = "is a link to a file outside the catalog"
#: the refusals in English (in zh: tests/unit/test_i18n_errors.py)
pytestmark = pytest.mark.usefixtures("english")


def _outside(tmp_path: Path) -> Path:
    """A file outside the catalog shaped like the demo's store table, every name marked."""
    rows = list(csv.reader((DEMO / "data" / "dms_stores.csv").open(encoding="utf-8")))
    secret = tmp_path / "elsewhere" / "hr.csv"
    secret.parent.mkdir()
    with secret.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(rows[0])
        w.writerows([r[0], f"TOPSECRET-{r[1]}", *r[2:]] for r in rows[1:])
    return secret


def _catalog(tmp_path: Path, rel: str, target: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(DEMO, root)
    (root / rel).unlink(missing_ok=True)
    os.symlink(target, root / rel)
    return root


def _as_printed(exc: BaseException | None) -> str:
    """The error as the command line prints it: in the language the command spoke (an
    error an engine keeps is worded when read)."""
    from core import i18n

    if exc is None:
        return ""
    with i18n.use(i18n.language_of(exc)):
        return str(exc)


def test_a_data_file_linked_out_of_the_catalog_is_not_read(tmp_path: Path) -> None:
    from cli import cli as main

    root = _catalog(tmp_path, "data/dms_stores.csv", _outside(tmp_path))
    env = {"KPIGRAPH_DB": str(tmp_path / "s.sqlite"), "KPIGRAPH_LANG": "en"}
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(root)], env=env).exit_code == 0
    result = runner.invoke(
        main, ["eval", "revenue", "--period", "2026-03", "--by", "store"], env=env
    )
    said = result.output + _as_printed(result.exception)
    assert result.exit_code != 0 and "TOPSECRET" not in said
    assert f"data/dms_stores.csv: {LINKED}" in said


@pytest.mark.parametrize("rel", ["values/customer.csv", "targets/revenue.csv"])
def test_a_values_file_linked_out_of_the_catalog_is_not_read(tmp_path: Path, rel: str) -> None:
    from cli import cli as main

    source = DEMO / rel
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    root = _catalog(tmp_path, rel, outside)
    env = {"KPIGRAPH_DB": str(tmp_path / "s.sqlite"), "KPIGRAPH_LANG": "en"}
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(root)], env=env).exit_code == 0
    metric = "customer_satisfaction" if rel.startswith("values") else "revenue"
    result = runner.invoke(main, ["eval", metric, "--period", "2026-03"], env=env)
    assert result.exit_code != 0, result.output
    assert f"{rel}: {LINKED}" in result.output + _as_printed(result.exception)


def test_a_catalog_file_linked_out_of_the_catalog_is_not_read(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("api_secret_token: hunter2\nid: leaked\nname: x\n", encoding="utf-8")
    root = _catalog(tmp_path, "metrics/leak.yaml", secrets)
    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    text = str(caught.value) + "".join(str(i) for i in caught.value.issues)
    assert f"metrics/leak.yaml: {LINKED}" in text
    assert "api_secret_token" not in text and "hunter2" not in text


def test_the_duckdb_engine_over_data_refuses_a_linked_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(_outside(tmp_path), data / "dms_stores.csv")
    with pytest.raises(EngineConnectionError, match="link to a file outside the data folder"):
        open_engine(SecretUrl("duckdb://"), data_dir=data)


def test_write_back_does_not_write_through_a_linked_folder(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    (root / "metrics").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, root / "metrics" / "ops")
    with pytest.raises(WriteBackError, match="linked to outside the catalog"):
        write_files(
            root,
            {"metrics/a.yaml": (None, "id: a\nname: A\n"), "metrics/ops/b.yaml": (None, "id: b\n")},
        )
    assert list(elsewhere.iterdir()) == [] and not (root / "metrics" / "a.yaml").exists()


def _linked_manifest(tmp_path: Path, root: Path) -> None:
    """``root/kpigraph.yaml`` replaced by a link to a manifest outside the catalog whose
    calendar carries a marked value."""
    outside = tmp_path / "elsewhere-manifest.yaml"
    text = (root / "kpigraph.yaml").read_text(encoding="utf-8")
    outside.write_text(text + "calendar: {fiscal_year_start: TOPSECRET-4}\n", encoding="utf-8")
    (root / "kpigraph.yaml").unlink()
    os.symlink(outside, root / "kpigraph.yaml")


def test_a_manifest_linked_out_of_the_catalog_is_not_read_for_its_calendar(
    tmp_path: Path,
) -> None:
    """The values engine reads ``kpigraph.yaml``'s calendar from the catalog directory itself
    (review): a link out was read, its value shown in the error (or its fiscal year used)."""
    from cli import cli as main

    root = tmp_path / "catalog"
    shutil.copytree(DEMO, root)
    env = {"KPIGRAPH_DB": str(tmp_path / "s.sqlite"), "KPIGRAPH_LANG": "en"}
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(root)], env=env).exit_code == 0
    _linked_manifest(tmp_path, root)  # after the load: the values engine reads it on its own
    result = runner.invoke(main, ["eval", "revenue", "--period", "2026-03"], env=env)
    said = result.output + _as_printed(result.exception)
    assert result.exit_code != 0 and "TOPSECRET" not in said, said
    assert f"kpigraph.yaml: {LINKED}" in said, said


def test_read_calendar_refuses_a_link_out_and_follows_one_inside(tmp_path: Path) -> None:
    from graph_schema.calendar import read_calendar

    root = tmp_path / "catalog"
    root.mkdir()
    (root / "kpigraph.yaml").write_text("name: x\n", encoding="utf-8")
    _linked_manifest(tmp_path, root)
    with pytest.raises(CatalogError, match=f"kpigraph.yaml: {LINKED}"):
        read_calendar(root)
    (root / "kpigraph.yaml").unlink()
    (root / "real.yaml").write_text("calendar: {fiscal_year_start: 4}\n", encoding="utf-8")
    os.symlink(root / "real.yaml", root / "kpigraph.yaml")  # inside the catalog: read
    assert read_calendar(root).fiscal_year_start == 4


def test_a_hierarchy_mapping_linked_out_of_the_catalog_is_refused_by_the_one_check(
    tmp_path: Path,
) -> None:
    """``graph_schema`` (calendar, hierarchy mappings) and the packages above it refuse links
    out with one function, :func:`graph_schema.confined.escapes` (the hierarchy kept a copy of
    its own, since ``graph_schema`` cannot import ``core``)."""
    import core.confined
    import graph_schema.calendar
    import graph_schema.confined
    import graph_schema.hierarchy
    from graph_schema.hierarchy import HierarchyError, read_mapping

    one = graph_schema.confined.escapes
    assert core.confined.escapes is one
    assert graph_schema.hierarchy.escapes is one and graph_schema.calendar.escapes is one
    root = tmp_path / "catalog"
    (root / "dims").mkdir(parents=True)
    outside = tmp_path / "secret.csv"
    outside.write_text("war_zone,city\nTOPSECRET-南区,深圳\n", encoding="utf-8")
    os.symlink(outside, root / "dims" / "region.csv")
    with pytest.raises(HierarchyError) as caught:
        read_mapping("region", ["war_zone", "city"], root, "dims/region.csv")
    assert f"dims/region.csv {LINKED}" in caught.value.message
    assert "TOPSECRET" not in caught.value.message
    (root / "dims" / "region.csv").unlink()
    (root / "dims" / "region.csv").write_text("war_zone,city\n南区,深圳\n", encoding="utf-8")
    mapping = read_mapping("region", ["war_zone", "city"], root, "dims/region.csv")
    assert mapping.path_of("city", "深圳") == ("南区", "深圳")


def test_a_metric_file_linked_out_after_a_load_is_not_read_by_the_delta(tmp_path: Path) -> None:
    """The one-file reload (a delta, :mod:`loaders.partial`) reads a changed metric file item by
    item; a file replaced by a link out of the catalog is refused there too, nothing stored."""
    from cli import cli as main

    root = tmp_path / "catalog"
    shutil.copytree(DEMO, root)
    env = {"KPIGRAPH_DB": str(tmp_path / "s.sqlite"), "KPIGRAPH_LANG": "en"}
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(root)], env=env).exit_code == 0
    rel = "metrics/revenue/atp.yaml"
    outside = tmp_path / "atp.yaml"
    text = (root / rel).read_text(encoding="utf-8")
    outside.write_text(
        text.replace("单个客户单次进厂消费的平均金额。", "TOPSECRET"), encoding="utf-8"
    )
    (root / rel).unlink()
    os.symlink(outside, root / rel)
    loaded = runner.invoke(main, ["load", str(root)], env=env)
    said = loaded.output + str(loaded.exception or "")
    assert loaded.exit_code != 0, said
    assert f"{rel}: {LINKED}" in said
    shown = runner.invoke(main, ["show", "atp"], env=env)
    assert shown.exit_code == 0 and "TOPSECRET" not in shown.output
