"""A proposal checked by delta (the metric, what it refers to, the metrics it reaches, the lint
rules' scopes: governance.proposal.StoreChecker) gives exactly what the whole-graph check gave
(the stored catalog read back whole, the metric put in place, the loader's checks and the lint
over all of it): the same errors (file, line, field, wording, hint), or the same request (diff,
class, version, impact, stages, lint findings in every language) — on random proposals, on
both backends (issue #23)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from analysis.lint import lint_definition
from core import i18n
from governance.proposal import Proposal, proposal_file, propose
from graph_schema.errors import CatalogError, NodeNotFoundError
from graph_schema.governance import Action
from graph_schema.graph import CatalogGraph
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.models import BaseNode, Metric
from graph_schema.relations import Relation
from graph_schema.rules.base import LintIssue
from loaders.validate import replace_metric
from loaders.yaml_lines import LDict
from store.base import GraphStore, SearchQuery, Walk

#: random proposals per backend
CASES = 70

KINDS = (
    "new",
    "formula",
    "broken",
    "cycle",
    "hierarchy-cycle",
    "duplicate-name",
    "unsafe-sql",
    "removed-field",
    "deprecate",
    "renamed",
)


class WholeGraph:
    """The check as it was before issue #23: the whole stored catalog read back, the metric
    put in its place and validated and linted over all of it."""

    def __init__(self, store: GraphStore) -> None:
        self.graph = _stored_graph(store)

    def current(self, ref: NodeRef) -> BaseNode | None:
        return next((n for n in self.graph.nodes if n.ref == ref), None)

    def validate(self, metric: LDict, drop: NodeRef) -> BaseNode:
        new = replace_metric(self.graph, metric, drop, where=proposal_file())
        return next(n for n in new.nodes if n.ref == drop)

    def lint(self, definition: dict[str, Any]) -> list[LintIssue]:
        return lint_definition(self.graph, definition)


def _stored_graph(store: GraphStore) -> CatalogGraph:
    """Everything the store holds (what ``governance.proposal.stored_graph`` read)."""
    catalog = getattr(store, "catalog", None)
    if callable(catalog):
        found = catalog()
        if isinstance(found, CatalogGraph):
            return found
    info = store.info()
    nodes = sorted(
        store.search(SearchQuery(kinds=frozenset(NodeKind), limit=10**9)).items,
        key=lambda n: str(n.ref),
    )
    edges = store.edges_of([n.ref for n in nodes], Walk.FORWARD, list(Relation))
    return CatalogGraph(info.catalog or "catalog", tuple(nodes), tuple(edges), dict(info.meta))


def outcome(
    store: GraphStore, case: tuple[Action, NodeRef, dict[str, Any] | None], whole: bool
) -> tuple[Any, ...]:
    action, ref, definition = case
    try:
        found: Proposal = propose(
            store, action, ref, definition, None, checker=WholeGraph(store) if whole else None
        )
    except CatalogError as exc:
        return ("error", [(i.file, i.line, i.message, i.hint, i.field) for i in exc.issues])
    except NodeNotFoundError as exc:
        return ("not found", str(exc))
    return (
        "proposal",
        found.action,
        found.ref,
        found.old,
        found.new,
        found.diff,
        found.change_class,
        found.new_version,
        found.impact,
        [s.model_dump() for s in found.approvals_required],
        found.lint,
    )


def random_case(
    rng: random.Random, metrics: list[Metric], store: GraphStore
) -> tuple[str, tuple[Action, NodeRef, dict[str, Any] | None]]:
    kind = rng.choice(KINDS)
    m = rng.choice(metrics)
    ids = [x.id for x in metrics]
    base = {k: v for k, v in m.props().items() if k not in ("version", "history")}
    if kind == "new":
        new_id = f"new_{rng.randrange(1000)}"
        other = rng.choice(metrics)
        definition: dict[str, Any] = {
            "id": new_id,
            "name": rng.choice(
                [f"新指标{rng.randrange(99)}", other.name, f"{other.name}（A店口径）"]
            ),
            "level": rng.choice(["L0", "L1", "L2", "L3"]),
            "owner": rng.choice(["ops", "finance", "it", "marketing"]),
        }
        if rng.random() < 0.7:
            definition["formula"] = rng.choice(
                [other.formula or f"{other.id} * 2", " / ".join(rng.sample(ids, 2)), "100 * 3"]
            )
        if rng.random() < 0.3:
            definition["rolls_up_to"] = rng.choice(ids)
        if rng.random() < 0.3:
            definition["dashboards"] = [rng.choice(["ops_weekly", "exec_monthly", "nope_board"])]
        return kind, (Action.CREATE, NodeRef(NodeKind.METRIC, new_id), definition)
    if kind == "formula":
        base["formula"] = " + ".join(rng.sample([i for i in ids if i != m.id], rng.randint(1, 3)))
    elif kind == "broken":
        field = rng.choice(["owner", "formula", "dashboards", "fields", "rolls_up_to", "causes"])
        base[field] = {
            "owner": "opps",
            "formula": f"{rng.choice(ids)} / revnue",
            "dashboards": ["ops_weekly", "exec_montly"],
            "fields": ["dms.orders.amountt"],
            "rolls_up_to": "net_proft",
            "causes": [{"metric": "visit", "polarity": "+"}],
        }[field]
    elif kind == "cycle":
        down = list(store.traverse(m.ref, Walk.FORWARD, [Relation.INPUT_TO], None))
        target = rng.choice(down).id if down else m.id
        base["formula"] = f"{target} + {rng.choice(ids)}"
    elif kind == "hierarchy-cycle":
        below = list(store.traverse(m.ref, Walk.BACKWARD, [Relation.ROLLS_UP_TO], None))
        base["rolls_up_to"] = rng.choice(below).id if below else m.id
    elif kind == "duplicate-name":
        other = rng.choice(metrics)
        base["name"] = rng.choice([other.name, f"{other.name}（B店口径）"])
        if other.abbr and rng.random() < 0.5:
            base["abbr"] = other.abbr
    elif kind == "unsafe-sql":
        base["sql"] = rng.choice(
            [
                "SELECT * FROM read_csv('/etc/passwd')",
                "DROP TABLE orders",
                "SELECT sum(amount) FROM dms.orders",
                "SELECT SUM(score) * 1.0 / COUNT(DISTINCT order_id) AS s FROM satisfaction_survey",
                "SELECT COUNT(*) FROM dms_orders WHERE no_such_column = 1",
                "SELEC broken FROM",
            ]
        )
    elif kind == "removed-field":
        present = [k for k in base if k not in ("id", "name", "level")]
        for k in rng.sample(present, min(len(present), rng.randint(1, 2))):
            base.pop(k)
    elif kind == "deprecate":
        return kind, (Action.DEPRECATE, m.ref, None)
    elif kind == "renamed":
        base["name"] = f"{m.name}2"
        base["definition"] = "changed"
    return kind, (Action.UPDATE, m.ref, base)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_delta_propose_matches_the_whole_graph(store: GraphStore, language: str) -> None:
    metrics = sorted(
        (
            n
            for n in store.search(SearchQuery(kinds=frozenset({NodeKind.METRIC}), limit=1000)).items
            if isinstance(n, Metric)
        ),
        key=lambda n: n.id,
    )
    rng = random.Random(23 if language == "zh" else 24)
    seen: dict[str, set[str]] = {}
    with i18n.use(language):
        for _ in range(CASES):
            kind, case = random_case(rng, metrics, store)
            whole = outcome(store, case, whole=True)
            delta = outcome(store, case, whole=False)
            assert delta == whole, (kind, case)
            seen.setdefault(kind, set()).add(whole[0])
    # the cases reach both outcomes: errors (references, cycles, unsafe SQL) and requests
    assert "error" in seen["broken"] and "error" in seen["cycle"]
    assert "error" in seen["hierarchy-cycle"]
    assert any("proposal" in outcomes for outcomes in seen.values())


def test_a_cycle_names_the_same_path(store: GraphStore) -> None:
    """A formula closing a long cycle reports the path the whole graph's check reported."""
    ref = NodeRef(NodeKind.METRIC, "labor_revenue")  # labor_revenue → revenue → … → net_profit
    node = store.get_nodes([ref])[ref]
    definition = {**node.props(), "formula": "net_profit_margin + cost_rate"}
    definition.pop("version", None)
    whole = outcome(store, (Action.UPDATE, ref, definition), whole=True)
    delta = outcome(store, (Action.UPDATE, ref, definition), whole=False)
    assert whole[0] == "error" and "→" in whole[1][0][2]
    assert delta == whole


def test_a_proposal_does_not_read_the_catalog_back(
    store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delta path never asks the store for its whole catalog (what cost ~10 s at M)."""

    def whole(*_args: object) -> None:
        raise AssertionError("the whole catalog was read")

    monkeypatch.setattr(store, "catalog", whole)
    monkeypatch.setattr(store, "catalog_data", whole)
    ref = NodeRef(NodeKind.METRIC, "atp")
    node = store.get_nodes([ref])[ref]
    definition = {k: v for k, v in node.props().items() if k not in ("version", "history")}
    definition["formula"] = "revenue / visits / 1"
    found = propose(store, Action.UPDATE, ref, definition, None)
    assert found.change_class == "major" and found.graph is None
