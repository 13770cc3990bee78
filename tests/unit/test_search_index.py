"""The shared search index ranks, filters and pages exactly as the reference rules in
store.ranking (match_rank, passes; ties by level, then ref)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from graph_schema.ids import NodeKind
from store.base import LEVEL_ORDER, SearchQuery
from store.ranking import filter_values, level_index, match_rank, passes, search_fields
from store.search_index import _SearchBuilder

# a small alphabet, so that equal, prefix, infix and body matches all happen often; one
# character outside the 16-bit range, so the four-bytes-a-character blobs are exercised too
WORD = st.text(alphabet="ab率客单价😀", min_size=1, max_size=4)
MAYBE = st.one_of(st.none(), st.sampled_from(["x", "y"]))
METRIC = st.fixed_dictionaries(
    {"name": WORD, "abbr": WORD},
    optional={
        "name_en": WORD,
        "definition": WORD,
        "meaning": WORD,
        "level": st.sampled_from(sorted(LEVEL_ORDER)),
        "domain": st.sampled_from(["x", "y"]),
        "status": st.sampled_from(["x", "y"]),
        "owner": st.sampled_from(["x", "y"]),
        "reviewer": st.sampled_from(["x", "y"]),
        "tags": st.lists(WORD, max_size=2),
    },
)


@settings(max_examples=400, deadline=None)
@given(
    metrics=st.lists(METRIC, min_size=1, max_size=10),
    text=st.one_of(st.just(""), WORD),
    domain=MAYBE,
    level=st.one_of(st.none(), st.sampled_from(["L1", "L3", "L9"])),
    department=MAYBE,
    offset=st.integers(0, 4),
    limit=st.integers(0, 5),
)
def test_search_equals_reference_rules(
    metrics: list[dict[str, str]],
    text: str,
    domain: str | None,
    level: str | None,
    department: str | None,
    offset: int,
    limit: int,
) -> None:
    builder = _SearchBuilder(NodeKind.METRIC)
    expected: list[tuple[int, int, str]] = []
    query = SearchQuery(
        text=text, domain=domain, level=level, department=department, offset=offset, limit=limit
    )
    for i, fields in enumerate(metrics):
        props = {"id": f"m{i}", **fields}
        ref = f"Metric:m{i}"
        builder.add(ref, props)
        rank = match_rank(text, *search_fields(NodeKind.METRIC, props))
        if rank is not None and passes(filter_values(NodeKind.METRIC, props), query):
            expected.append((rank, level_index(props), ref))
    expected.sort()
    total, best = builder.build().top(text, query, offset + limit)
    assert total == len(expected)
    assert best == expected[: offset + limit]


def test_non_metric_kinds_pass_no_metric_filter() -> None:
    builder = _SearchBuilder(NodeKind.TABLE)
    builder.add("Table:t", {"id": "t", "name": "订单表"})
    data = builder.build()
    assert data.top("订单", SearchQuery(text="订单"), 5) == (1, [(1, 9, "Table:t")])
    assert data.top("订单", SearchQuery(text="订单", domain="x"), 5) == (0, [])
