"""Lint of a stored graph (what /lint falls back to) agrees with lint of the catalog files, on
both backends."""

from __future__ import annotations

from analysis.lint import lint_catalog, lint_definition, lint_graph
from store.base import GraphStore
from tests.helpers import DEMO


def test_lint_of_the_stored_graph_matches_the_files(store: GraphStore) -> None:
    files = lint_catalog(DEMO)
    stored = lint_graph(store.catalog())
    assert stored.counts() == files.counts()
    key = sorted((i.rule, i.severity.value, i.refs) for i in files.issues)
    assert sorted((i.rule, i.severity.value, i.refs) for i in stored.issues) == key
    assert all(i.file is None for i in stored.issues)


def test_lint_definition_against_a_stored_graph(store: GraphStore) -> None:
    graph = store.catalog()
    issues = lint_definition(
        graph, {"id": "atp_copy", "name": "客单价", "formula": "revenue / visits", "level": "L0"}
    )
    rules = {i.rule for i in issues}
    assert {"conflict.name", "levels.l0-governance"} <= rules
    assert all("Metric:atp_copy" in i.refs for i in issues)
