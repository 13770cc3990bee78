"""Schema-driven fuzzing of the app's own OpenAPI: no input may produce a server error.

schemathesis generates requests from ``/openapi.json`` for every operation; hypothesis runs
them (schemathesis' pytest plugin is not used: it does not support this pytest version).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from core.settings import Settings
from store.embedded import EmbeddedStore

EXAMPLES_PER_OPERATION = 80


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    from loaders.catalog import load_catalog
    from tests.helpers import DEMO

    store = EmbeddedStore(tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite")
    store.load(load_catalog(DEMO))
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings(), store=store))


def operations(schema: schemathesis.BaseSchema) -> list[object]:
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    paths = {op.path for op in operations(api_schema)}  # type: ignore[attr-defined]
    assert {"/api/metrics", "/api/nodes/{ref}/lineage", "/api/paths", "/api/ask"} <= paths


def test_no_server_errors(api_schema: schemathesis.BaseSchema) -> None:
    for operation in operations(api_schema):

        @given(case=operation.as_strategy())  # type: ignore[attr-defined]
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.path, case.query, response.text[:500])
            if response.status_code >= 400 and response.headers.get("content-type", [""])[
                0
            ].startswith("application/json"):
                assert set(response.json()) == {"error"}, response.text[:300]

        run()
