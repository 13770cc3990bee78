"""Schema-driven fuzzing of the hover-card endpoints (#27) and values' ``annotations``: no input
gives a server error; errors have the JSON shape (the card page answers HTML)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from core.settings import Settings
from store.embedded import EmbeddedStore

PATHS = {"/embed/metrics/{metric}", "/oembed", "/api/metrics/{metric_id}/values"}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    from loaders.catalog import load_catalog
    from tests.helpers import DEMO

    store = EmbeddedStore(tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite")
    store.load(load_catalog(DEMO))
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings(), store=store))


def test_no_server_errors(api_schema: schemathesis.BaseSchema) -> None:
    ops = [r.ok() for r in api_schema.get_all_operations()]
    chosen = [op for op in ops if op.path in PATHS]  # type: ignore[attr-defined]
    assert {op.path for op in chosen} == PATHS  # type: ignore[attr-defined]
    for operation in chosen:

        @given(case=operation.as_strategy())  # type: ignore[attr-defined]
        @settings(
            max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.path, case.query, response.text[:500])

        run()
