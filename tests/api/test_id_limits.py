"""One id length limit (``MAX_ID_LENGTH``), enforced when a catalog is validated, and every
route accepts what validation accepts (issue #12, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from graph_schema.errors import CatalogError
from graph_schema.ids import MAX_ID_LENGTH, MAX_REF_LENGTH, NodeKind, NodeRef
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import write_catalog

LONG_METRIC = "m" * MAX_ID_LENGTH
LONG_FIELD = "dms.orders." + "f" * (MAX_ID_LENGTH - len("dms.orders."))


def catalog_with(tmp_path: Path, metric_id: str) -> Path:
    sources = (
        "- id: dms\n  name: DMS\n  tables:\n    - id: orders\n      name: 工单表\n"
        "      fields:\n        - {id: amount, name: 金额, type: decimal}\n"
        "        - {id: order_id, name: 工单号, type: string}\n"
        f"        - {{id: {LONG_FIELD.rsplit('.', 1)[1]}, name: 长字段, type: string}}\n"
    )
    metric = f"id: {metric_id}\nname: 长指标\nfields: [{LONG_FIELD}]\nformula: revenue * 2\n"
    return write_catalog(tmp_path, {"sources.yaml": sources, "metrics/long.yaml": metric})


def test_an_id_over_the_limit_is_a_catalog_error_naming_file_and_line(
    tmp_path: Path, english: None
) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(catalog_with(tmp_path, "m" * (MAX_ID_LENGTH + 1)))
    text = str(caught.value)
    assert "metrics/long.yaml:1" in text
    assert f"at most {MAX_ID_LENGTH} characters" in text


def test_every_route_accepts_the_longest_valid_ids(tmp_path: Path) -> None:
    graph = load_catalog(catalog_with(tmp_path / "catalog", LONG_METRIC))
    store = EmbeddedStore(tmp_path / "g.sqlite")
    store.load(graph)
    metric, field = f"Metric:{LONG_METRIC}", f"Field:{LONG_FIELD}"
    assert len(field) <= MAX_REF_LENGTH and NodeRef.parse(field).kind is NodeKind.FIELD
    client = TestClient(create_app(Settings(backend="embedded"), store=store))
    for url in (
        f"/metrics/{LONG_METRIC}",
        f"/api/metrics/{LONG_METRIC}",
        f"/api/nodes/{metric}/impact",
        f"/api/nodes/{metric}/lineage",
        f"/api/nodes/{field}/lineage",
        f"/api/nodes/{field}/impact",
        f"/nodes/{field}",
        f"/impact/{metric}",
        f"/impact/{field}",
        f"/api/paths?from={field}&to={metric}",
        f"/view/graph?focus={metric}",
        f"/api/nodes/{metric}/history",
    ):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
