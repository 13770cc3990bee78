"""The reading list and the quiz (issue 28): 20–30 metrics L0 first; questions from the
definitions with distractors from siblings, never from another language; seeded."""

from __future__ import annotations

import pytest

from analysis.onboarding import UnknownDepartmentError, reading_list
from analysis.quiz import language, make_quiz, score_quiz
from graph_schema.graph import CatalogGraph
from graph_schema.models import Department, Metric
from loaders.catalog import load_catalog
from tests.helpers import DEMO


@pytest.fixture(scope="module")
def demo() -> CatalogGraph:
    return load_catalog(DEMO)


def test_reading_list_of_ops(demo: CatalogGraph) -> None:
    items = reading_list(demo, "运营部").items
    assert 20 <= len(items) <= 30
    order = [i.level or "L9" for i in items]
    assert order == sorted(order)
    owned = {n.id for n in demo.nodes if isinstance(n, Metric) and n.owner == "ops"}
    assert owned <= {i.id for i in items}
    assert reading_list(demo, "ops") == reading_list(demo, "运营部")
    with pytest.raises(UnknownDepartmentError, match="ops"):
        reading_list(demo, "nobody")


def test_reads_of_the_department_bring_a_metric_in(demo: CatalogGraph) -> None:
    plain = {i.id for i in reading_list(demo, "finance").items}
    outside = next(n.id for n in demo.nodes if isinstance(n, Metric) and n.id not in plain)
    read = {i.id: i.why for i in reading_list(demo, "finance", {outside: 50}).items}
    assert outside in read and "本部门常查" in read[outside]


def test_quiz_is_seeded_and_answers_are_right(demo: CatalogGraph) -> None:
    ids = [i.id for i in reading_list(demo, "ops").items]
    a, b = make_quiz(demo, ids, 5, "ops"), make_quiz(demo, ids, 5, "ops")
    assert a == b and len(a.questions) == 10
    assert make_quiz(demo, ids, 6, "ops") != a
    metrics = {n.id: n for n in demo.nodes if isinstance(n, Metric)}
    depts = {n.id: n.name for n in demo.nodes if isinstance(n, Department)}
    for q in a.questions:
        assert len(set(q.options)) == 4
        right = q.options[q.answer]
        assert {language(o) for o in q.options} == {language(right)}
        m = metrics[q.metric]
        if q.kind == "owner":
            assert right == depts[m.owner or ""]
        if q.kind == "level":
            assert right.startswith(m.level.value if m.level else "?")
    perfect = {q.id: q.answer for q in a.questions}
    assert score_quiz(a, perfect).passed and score_quiz(a, perfect).score == 10
    assert not score_quiz(a, {}).passed


def test_distractors_never_come_from_another_language() -> None:
    nodes = (
        Metric(id="revenue", name="营收", level="L0"),
        Metric(id="visits", name="进厂台次", level="L1"),
        Metric(id="atp", name="客单价", level="L1", formula="revenue / visits"),
        Metric(id="gmv", name="GMV", level="L1", formula="uv * cr"),
        Metric(id="uv", name="UV", level="L2"),
        Metric(id="cr", name="CR", level="L2"),
        Metric(id="a1", name="工时单价", level="L1", formula="revenue / uv"),
        Metric(id="a2", name="配件单价", level="L1", formula="visits / cr"),
        Metric(id="a3", name="产值", level="L1", formula="revenue * visits"),
    )
    graph = CatalogGraph(name="x", nodes=nodes, edges=())
    for seed in range(20):
        for q in make_quiz(graph, ["atp", "gmv"], seed).questions:
            right = q.options[q.answer]
            assert {language(o) for o in q.options} == {language(right)}, q
