"""Search filters priority / role / horizon (issue 28) give the same answers on both backends,
and the answers the catalog says."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from graph_schema.models import Metric
from loaders.catalog import load_catalog
from store.base import GraphStore, SearchQuery
from tests.helpers import CATALOGS


@pytest.mark.parametrize(
    "filters",
    [
        {"role": "north_star"},
        {"role": "key"},
        {"role": "process", "priority": "P1"},
        {"horizon": "leading"},
        {"horizon": "lagging", "level": "L0"},
        {"priority": "P0", "domain": "渠道"},
        {"priority": "P2", "role": "process"},
    ],
)
def test_filters_match_the_catalog(
    make_store: Callable[[], GraphStore], filters: dict[str, str]
) -> None:
    graph = load_catalog(CATALOGS / "b2b_distribution")
    store = make_store()
    store.load(graph)
    expected = {
        n.id
        for n in graph.nodes
        if isinstance(n, Metric)
        and all(
            str(getattr(n, k).value if k != "domain" else n.domain) == v
            for k, v in filters.items()
            if getattr(n, k) is not None
        )
        and all(getattr(n, k) is not None for k in filters)
    }
    assert expected  # every case finds something
    page = store.search(SearchQuery(limit=500, **filters))
    assert page.total == len(expected)
    assert {n.id for n in page.items} == expected
    # with text too: the filters and the ranking combine
    some = sorted(expected)[0]
    assert some in {n.id for n in store.search(SearchQuery(text=some, **filters)).items}


def test_a_filter_no_metric_has_finds_nothing(make_store: Callable[[], GraphStore]) -> None:
    store = make_store()
    store.load(load_catalog(CATALOGS / "five_stores_atp"))  # no roles in this catalog
    assert store.search(SearchQuery(role="north_star")).total == 0
    assert store.search(SearchQuery(text="客单价", horizon="leading")).total == 0
