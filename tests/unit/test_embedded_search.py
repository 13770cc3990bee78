"""The embedded store's blob scans rank exactly as the reference rule, store.ranking.match_rank."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from graph_schema.ids import NodeKind
from store.embedded import _SearchBuilder
from store.ranking import match_rank, search_fields

# a small alphabet, so that equal, prefix, infix and body matches all happen often
WORD = st.text(alphabet="ab率客单价", min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    metrics=st.lists(
        st.tuples(WORD, WORD, st.one_of(st.none(), WORD), st.one_of(st.none(), WORD)),
        min_size=1,
        max_size=8,
    ),
    text=st.one_of(st.just(""), WORD),
)
def test_blob_ranks_equal_match_rank(
    metrics: list[tuple[str, str, str | None, str | None]], text: str
) -> None:
    builder = _SearchBuilder(NodeKind.METRIC)
    expected: dict[int, int] = {}
    for i, (name, abbr, name_en, definition) in enumerate(metrics):
        props = {"id": f"m{i}", "name": name, "abbr": abbr}
        props |= {"name_en": name_en} if name_en else {}
        props |= {"definition": definition} if definition else {}
        builder.add(f"Metric:m{i}", json.dumps(props, ensure_ascii=False))
        rank = match_rank(text, *search_fields(NodeKind.METRIC, props))
        if rank is not None:
            expected[i] = rank
    got = {i: rank for rank, i in builder.build().ranked(text)}
    assert got == expected
