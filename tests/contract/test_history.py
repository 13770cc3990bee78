"""Revisions on both backends (issue #13 §1–2): recorded in the load's transaction, field-level,
linear under races, and nothing recorded by a no-op, a refused or a failed load."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from core.publish import publish
from graph_schema.diff import snapshot
from graph_schema.errors import ConflictError, RevisionNotFoundError, VersionError
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeRef
from graph_schema.models import Metric
from graph_schema.revisions import ChangeClass, ChangeOp, RevisionDraft
from loaders.catalog import load_catalog
from store.base import GraphStore
from tests.helpers import write_catalog

R = NodeRef.parse
ATP = (
    "id: atp\nname: 客单价\nabbr: ATP\nlevel: L1\nowner: ops\nreviewer: finance\n"
    "formula: revenue / visits\nversion: {version}\ndefinition: {definition}\n"
)


def _catalog(root: Path, version: str = "1.1.0", definition: str = "单次进厂平均消费") -> Path:
    return write_catalog(
        root, {"metrics/atp.yaml": ATP.format(version=version, definition=definition)}
    )


def _graph(tmp_path: Path, name: str, **kw: str) -> CatalogGraph:
    return load_catalog(_catalog(tmp_path / name, **kw))


def test_first_load_is_revision_1_with_the_whole_graph(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    store = make_store()
    assert store.head() == 0 and store.revisions() == []
    graph = _graph(tmp_path, "a")
    draft = RevisionDraft(author="张经理", message="初始导入", source={"path": "/x"})
    result = publish(store, graph, draft)
    assert (result.revision, store.head()) == (1, 1)
    rev = store.revision(1)
    assert (rev.author, rev.message, rev.source, rev.catalog) == (
        "张经理",
        "初始导入",
        {"path": "/x"},
        "test catalog",
    )
    assert rev.nodes.added == len(graph.nodes) and rev.edges.added == len(graph.edges)
    assert {c.op for c in rev.node_changes} == {ChangeOp.ADDED}
    assert rev.auto_versions == {"revenue": "1.0.0", "visits": "1.0.0"}  # atp declares 1.1.0
    assert store.catalog(at=1).counts() == graph.counts()


def test_an_unchanged_reload_records_nothing(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    store = make_store()
    graph = _graph(tmp_path, "a")
    publish(store, graph)
    again = publish(store, _graph(tmp_path, "b"))  # same content, another directory
    assert again.revision is None and again.head == 1
    direct = store.load(store.catalog())  # the store's own check, without the digest
    assert direct.meta.get("revision") is None
    assert store.head() == 1 and len(store.revisions()) == 1


def test_a_change_is_recorded_field_by_field(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    store = make_store()
    publish(store, _graph(tmp_path, "a"))
    result = publish(
        store,
        _graph(tmp_path, "b", version="1.1.1", definition="单个客户单次进厂消费的平均金额"),
        RevisionDraft(author="李工", message="措辞"),
    )
    assert result.revision == 2
    rev = store.revision(2)
    [change] = rev.node_changes
    assert (change.ref, change.op, change.change_class) == (
        "Metric:atp",
        ChangeOp.MODIFIED,
        ChangeClass.PATCH,
    )
    assert [(f.field, f.old, f.new) for f in change.fields] == [
        ("definition", "单次进厂平均消费", "单个客户单次进厂消费的平均金额"),
        ("version", "1.1.0", "1.1.1"),
    ]
    assert rev.edge_changes == [] and (rev.nodes.modified, rev.nodes.added) == (1, 0)
    assert [r.number for r in store.revisions()] == [2, 1]
    assert [r.number for r in store.revisions(R("atp"))] == [2, 1]
    assert [r.number for r in store.revisions(R("revenue"))] == [1]
    assert [r.number for r in store.revisions(limit=1)] == [2]
    assert [r.number for r in store.revisions(before=2)] == [1]
    history = store.node_history(R("atp"))
    assert [(h.revision.number, h.change.op) for h in history] == [
        (1, ChangeOp.ADDED),
        (2, ChangeOp.MODIFIED),
    ]
    then = store.node_at(R("atp"), 1)
    assert isinstance(then, Metric) and then.definition == "单次进厂平均消费"
    first = snapshot(store.catalog(at=1))
    assert first.nodes["Metric:atp"]["definition"] == "单次进厂平均消费"
    assert first.edges == snapshot(store.catalog()).edges
    assert snapshot(store.catalog(at=2)) == snapshot(store.catalog())


@pytest.mark.usefixtures("english")  # the English words (no catalog language: zh)
def test_a_formula_change_without_a_bump_is_refused(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    store = make_store()
    publish(store, _graph(tmp_path, "a"))
    changed = write_catalog(
        tmp_path / "b",
        {
            "metrics/atp.yaml": ATP.format(version="1.1.0", definition="单次进厂平均消费").replace(
                "revenue / visits", "revenue / visits / 2"
            )
        },
    )
    before = snapshot(store.catalog())
    with pytest.raises(VersionError) as info:
        publish(store, load_catalog(changed))
    assert info.value.problems == ["atp: formula changed (major) — set version: 2.0.0 (now 1.1.0)"]
    assert store.head() == 1 and snapshot(store.catalog()) == before
    migrated = publish(store, load_catalog(changed), check_versions=False)
    assert migrated.revision == 2 and store.revision(2).version_check is False


@pytest.mark.usefixtures("english")  # the English words (no catalog language: zh)
def test_a_version_going_backwards_is_refused(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    store = make_store()
    publish(store, _graph(tmp_path, "a"))
    with pytest.raises(VersionError, match=r"goes backwards \(1\.1\.0 → 1\.0\.0\)"):
        publish(store, _graph(tmp_path, "b", version="1.0.0"))
    assert store.head() == 1


def test_unversioned_metrics_are_versioned_and_bumped(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    store = make_store()
    publish(store, _graph(tmp_path, "a"))
    visits = store.get_nodes([R("visits")])[R("visits")]
    assert isinstance(visits, Metric) and visits.version == "1.0.0"
    moved = write_catalog(
        tmp_path / "b",
        {
            "metrics/atp.yaml": ATP.format(version="1.1.0", definition="单次进厂平均消费"),
            "metrics/visits.yaml": "id: visits\nname: 进厂台次\nlevel: L1\nowner: ops\n"
            "fields: [dms.orders.order_id]\ndimensions: [time]\n",
        },
    )
    result = publish(store, load_catalog(moved))
    assert result.auto_versions == {"visits": "1.1.0"}  # dimensions: minor
    assert store.revision(2).auto_versions == {"visits": "1.1.0"}


def test_expect_head_refuses_a_stale_change(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    store = make_store()
    publish(store, _graph(tmp_path, "a"))
    with pytest.raises(ConflictError):
        store.load(_graph(tmp_path, "b", version="1.1.1", definition="y"), expect_head=0)
    with pytest.raises(ConflictError):
        publish(store, _graph(tmp_path, "c", version="1.1.1", definition="y"), expect_head=0)
    assert store.head() == 1
    ok = store.load(_graph(tmp_path, "d", version="1.1.1", definition="y"), expect_head=1)
    assert ok.meta["revision"] == 2


def test_racing_loads_one_wins_history_stays_linear(
    make_store: Callable[[], GraphStore],
    reopen_store: Callable[[GraphStore], GraphStore],
    tmp_path: Path,
) -> None:
    store = make_store()
    publish(store, _graph(tmp_path, "a"))
    handles = [reopen_store(store) for _ in range(2)]
    graphs = [_graph(tmp_path, f"g{i}", version="1.1.1", definition=f"d{i}") for i in range(2)]
    outcomes: list[object] = [None, None]
    barrier = threading.Barrier(2)

    def go(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = handles[i].load(graphs[i], expect_head=1).meta["revision"]
        except ConflictError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert sorted(map(type, outcomes), key=str) == sorted([int, ConflictError], key=str)
        assert store.head() == 2
        winner = outcomes.index(2)
        assert snapshot(store.catalog()) == snapshot(graphs[winner])
        assert [r.number for r in store.revisions()] == [2, 1]
    finally:
        for h in handles:
            h.close()


def test_a_failed_load_records_nothing(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    store = make_store()
    publish(store, _graph(tmp_path, "a"))

    def boom(done: int, total: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        publish(store, _graph(tmp_path, "b", version="1.1.1", definition="z"), progress=boom)
    assert store.head() == 1 and len(store.revisions()) == 1
    assert store.revision(1).nodes.added > 0
    again = publish(store, _graph(tmp_path, "c", version="1.1.1", definition="z"))
    assert again.revision == 2
    assert len(store.revision(2).node_changes) == 1  # nothing left over from the failed load


def test_removed_nodes_keep_their_history(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    store = make_store()
    publish(store, _graph(tmp_path, "a"))
    extra = write_catalog(
        tmp_path / "b",
        {
            "metrics/atp.yaml": ATP.format(version="1.1.0", definition="单次进厂平均消费"),
            "metrics/gm.yaml": "id: gm\nname: 毛利\nformula: revenue - 1\n",
        },
    )
    publish(store, load_catalog(extra))
    publish(store, _graph(tmp_path, "c"))
    history = store.node_history(R("gm"))
    assert [(h.revision.number, h.change.op) for h in history] == [
        (2, ChangeOp.ADDED),
        (3, ChangeOp.REMOVED),
    ]
    assert store.node_at(R("gm"), 3) is None
    assert isinstance(store.node_at(R("gm"), 2), Metric)
    assert "Metric:gm" not in snapshot(store.catalog()).nodes
    rev = store.revision(3)
    assert {(e.source, e.type, e.target) for e in rev.edge_changes} == {
        ("Metric:revenue", "INPUT_TO", "Metric:gm")
    }


def test_unknown_revisions_say_what_exists(
    make_store: Callable[[], GraphStore], tmp_path: Path
) -> None:
    store = make_store()
    never = r"no revision is recorded yet|还没有记录任何修订"  # the language in use
    with pytest.raises(RevisionNotFoundError, match=never):
        store.revision(1)
    publish(store, _graph(tmp_path, "a"))
    for call in (
        lambda: store.revision(7),
        lambda: store.catalog(at=7),
        lambda: store.node_at(R("atp"), 7),
    ):
        seven = r"no revision 7; revisions are 1 to 1|没有修订 7；修订号为 1 到 1"
        with pytest.raises(RevisionNotFoundError, match=seven):
            call()
    assert store.node_history(R("nosuch")) == []
