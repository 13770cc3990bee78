"""``kpigraph export dbt`` writes a catalog's text into dbt schema files, and dbt renders every
string of those as Jinja (descriptions too, later, in ``process_docs``). A catalog's text is
written by whoever edits the catalog or proposes a change: before the fix a definition
``{{ env_var('…') }}`` became a metric's ``description`` and its card under ``config.meta``
as written, and dbt put the variable's value — a warehouse password — into its manifest and
docs site. Text that would open a Jinja tag is now written inert, and ``import dbt`` reads it
back as it was.

dbt itself is not installed here: every string of the exported files is rendered with Jinja's
sandboxed environment and an ``env_var`` as dbt gives one (dbt's own environment is a sandboxed
Jinja environment too).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jinja2.sandbox
import pytest
import yaml

from graph_schema.models import Metric, Table
from loaders.catalog import load_catalog
from loaders.dbt import import_dbt
from loaders.dbt.export import export_dbt
from tests.helpers import DEMO

pytestmark = pytest.mark.usefixtures("english")

SECRET = "warehouse-password-do-not-leak"
HOSTILE = "{{ env_var('KPIGRAPH_TEST_WAREHOUSE_PW') }}"
TAGS = "收入 {% if true %}{{ env_var('KPIGRAPH_TEST_WAREHOUSE_PW') }}{% endif %} {# c #}"


def strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in strings(v, f"{path}[{i}]")]
    return []


def render_as_dbt(text: str) -> str:
    env = jinja2.sandbox.SandboxedEnvironment()
    env.globals["env_var"] = lambda name, default=None: {"KPIGRAPH_TEST_WAREHOUSE_PW": SECRET}.get(
        name, default
    )
    env.globals["Dimension"] = lambda name: name  # MetricFlow's filter functions
    return env.from_string(text).render()


@pytest.fixture
def hostile_catalog(tmp_path: Path) -> Path:
    catalog = tmp_path / "catalog"
    shutil.copytree(DEMO, catalog)
    atp = catalog / "metrics" / "revenue" / "atp.yaml"
    doc = yaml.safe_load(atp.read_text(encoding="utf-8"))
    doc["definition"] = HOSTILE
    doc["meaning"] = TAGS
    doc["name_en"] = "ATP " + HOSTILE
    atp.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    sources = catalog / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    sources.write_text(text.replace("售后工单，一行一张工单", f'"{HOSTILE}"', 1), encoding="utf-8")
    return catalog


def test_exported_text_renders_as_itself_in_dbt(hostile_catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "dbt"
    export_dbt(hostile_catalog, out)
    seen = 0
    for path in sorted(out.rglob("*.yml")):
        for where, text in strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            rendered = render_as_dbt(text)
            assert SECRET not in rendered, f"{path.name}{where}: {text!r}"
            if "env_var" in rendered:
                seen += 1
                assert rendered in (HOSTILE, TAGS, "ATP " + HOSTILE) or TAGS in rendered, rendered
    assert seen >= 4  # definition, meaning, name_en (label and card) and the table's text


def test_import_reads_the_text_back_as_it_was(hostile_catalog: Path, tmp_path: Path) -> None:
    export_dbt(hostile_catalog, tmp_path / "dbt")
    import_dbt(tmp_path / "dbt", tmp_path / "back")
    back = {n.id: n for n in load_catalog(tmp_path / "back").nodes}
    atp = back["atp"]
    assert isinstance(atp, Metric)
    assert (atp.definition, atp.meaning, atp.name_en) == (HOSTILE, TAGS, "ATP " + HOSTILE)
    orders = [n for n in back.values() if isinstance(n, Table) and n.description == HOSTILE]
    assert orders, "the table's description came back as written"
