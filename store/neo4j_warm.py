"""Having the server plan the statements of a change before the first change (issue #23).

Neo4j plans a statement the first time it sees its text with those parameter types, and again
when the statistics it was planned with have moved far enough; at L a pinned read takes
0.2–1 s to plan and 2–5 ms once planned. A change (an applied request, a one-file delta load)
runs ~20 pinned reads of ~8 shapes and ~15 write shapes, so the first change on a server paid
seconds of planning. :func:`plan` sends each of those shapes once, nothing read or written:

- the reads are run for real with refs that match no node (``$gen`` null — the first read of a
  reader, which takes the live generation — and a generation id string, the later reads): the
  server's every cache stage is filled, for the parameter types the reader uses (a plan
  cached for ``$gen`` null is not used for a string, nor one for a list of strings for an
  empty list);
- the writes (versions, their relationships, the swap, the revision, the sweep after it, the
  request's ledger record) are sent as ``EXPLAIN``: planned and cached, not run (at M this
  leaves 0.15–0.3 s of the first plain run per statement, against 0.6–2.3 s unplanned).

``kpigraph serve`` calls it at start-up, in a thread (:meth:`store.neo4j.Neo4jStore.warm`),
and a full load leaves a detached process planning a delta load's statements right after it
published (:meth:`store.neo4j.Neo4jStore.plan_detached`): the next process's change finds
the plans cached, made with the statistics of the graph just loaded. Each string and list
parameter is sent in the size classes a change sends (a refs list of 1 and of up to 10, a
metric's 9 relationship types and all 11, strings as long as real ids and meta records).

Best effort: a failure stops the warm-up silently (the change plans what it needs itself).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import neo4j

from graph_schema.errors import StoreError
from graph_schema.ids import NodeKind
from graph_schema.relations import Relation
from store import neo4j_cypher as cy
from store.base import Walk
from store.neo4j_ledger_cypher import GOV_CHANGE, GOV_LOCK_CHANGE, GOV_WRITE_CHANGE
from store.neo4j_session import Neo4jSession

#: A ref no node has (refs are ``kind:id``; no kind is ``warm-up``), as long as a real ref:
#: Neo4j plans a statement once for each size class (1, up to 10, up to 100, ...) of each of
#: its string and list parameters, so the warm-up sends the classes a change sends.
NO_REF = "warm-up:no-such-node"
#: List sizes of the refs a change reads and writes: its metric alone, the few nodes its
#: definition names.
REF_COUNTS = (1, 10)
#: The relationship types a change asks for: the ones a metric's definition makes (9, see
#: ``governance.delta.own_edges``: a list of up to 10) and every type (11): two size classes.
TYPE_SETS = (sorted(r.value for r in Relation)[:9], sorted(r.value for r in Relation))
Statement = tuple[str, dict[str, Any]]
#: The live meta record's strings a swap sends again (their sizes choose the plan).
LIVE_STRINGS = ("catalog", "loaded_at", "meta", "counts")


@dataclass(frozen=True)
class Planned:
    """What :func:`plan` sent: statements, and the seconds it took (``None``: it stopped at
    a failure, or there was nothing to plan)."""

    statements: int
    seconds: float | None


def _refs(n: int) -> list[str]:
    return [f"{NO_REF}-{i:02d}" for i in range(n)]


def reads(gen: str | None, requests: bool = True) -> list[Statement]:
    """The pinned reads of a change (:mod:`governance.delta`, :meth:`Neo4jStore.apply`,
    the delta load's revision plan), with ``$gen`` of ``gen``'s type, matching nothing;
    ``requests``: also the cycle checks of a request's metric."""
    out: list[Statement] = [(cy.GET_META, {"gen": gen})]
    for n in REF_COUNTS:
        refs = _refs(n)
        out += [
            (cy.GET_NODES, {"gen": gen, "refs": refs}),
            (cy.GET_LABELS, {"gen": gen, "refs": refs}),
        ]
        for types in TYPE_SETS:
            out += [
                (cy.EDGES_OUT, {"gen": gen, "refs": refs, "types": types}),
                (cy.EDGES_IN, {"gen": gen, "refs": refs, "types": types}),
            ]
    for rel in (Relation.INPUT_TO, Relation.ROLLS_UP_TO) if requests else ():
        # the cycle checks of a request's metric (loaders.metric_check)
        one = _refs(1)
        out.append(
            (
                cy.expand_query(Walk.FORWARD, [rel], cy.MAX_HOPS),
                {"gen": gen, "frontier": one, "seen": one},
            )
        )
        for n in REF_COUNTS:
            out.append(
                (
                    cy.edges_among_query([rel]),
                    {"gen": gen, "refs": _refs(n), "dense": cy.DENSE_DEGREE},
                )
            )
    return out


def writes(gen: str, live: dict[str, str], requests: bool = True) -> list[Statement]:
    """The write statements of a delta on the live generation ``gen`` (whose meta record's
    strings are ``live``: the swap sends strings of their sizes) and (``requests``) of an
    applied request's ledger record, with parameters of the types and size classes the
    writers send (sent as ``EXPLAIN``: never run)."""
    base = gen.split(".")[0]
    stage = "0" * len(base)  # a stage id is a uuid's hex, as a generation's base
    keys = {"base": base, "seq": 1, "stage": stage}
    node_rows = [{"ref": NO_REF, "kind": "Metric", "props": "{}"}]
    out: list[Statement] = [
        (cy.CREATE_VERSIONS[kind], {**keys, "rows": node_rows}) for kind in NodeKind
    ]
    for n in REF_COUNTS:
        edge_rows = [
            {"source": ref, "target": NO_REF, "props": "{}", "s_new": True, "t_new": False}
            for ref in _refs(n)
        ]
        out += [(cy.CREATE_VERSION_EDGES[rel], {**keys, "rows": edge_rows}) for rel in Relation]
    one = {**keys, "floor": 0, "refs": _refs(1)}
    swap = {**keys, "floor": 0, "gen": f"{base}.1", "prev": gen, **live}
    changes = [{"entity": "node", "key": ref, "op": "modified", "data": "{}"} for ref in _refs(10)]
    out += [
        (cy.REGISTER_STAGE, {"gen": stage}),
        (cy.TOUCH_STAGE, {"gen": stage}),
        (cy.LOCK_HEAD, {}),
        (cy.GET_HEAD, {}),
        (cy.GET_LIVE_HEAD, {}),
        (cy.GET_FLOOR, {}),
        (cy.CLOSE_VERSIONS, one),
        (cy.PUBLISH_VERSIONS, one),
        (cy.SWAP_VERSIONS, swap),
        (cy.STAGE_CHANGES, {"gen": f"{base}.1", "rows": changes}),
        (
            cy.RECORD_REVISION,
            {
                "number": 1,
                "digest": "0" * 64,
                "gen": f"{base}.1",
                "created_at": live["loaded_at"],
                "summary": live["counts"] * 4,
                "meta": live["meta"],
                "base": None,
            },
        ),
    ]
    stale = {"stale_after": 900.0}  # the sweep after a write (store.neo4j_sweep)
    out += [
        (cy.DELETE_DEAD_STAGES, stale),
        (cy.GET_LIVE_GEN, {}),
        (cy.NEXT_GENERATION, {"after": ""}),
        (cy.NEXT_GENERATION, {"after": base}),
        (cy.SWEEP_GENERATION, {"gen": base, **stale}),
        (cy.SWEEP_CLOSED_VERSIONS, {"base": base, "floor": 1}),
        (cy.SWEEP_DEAD_VERSIONS, stale),
        (cy.DELETE_ORPHAN_CHANGES, {}),
    ]
    if not requests:
        return out
    out += [
        (GOV_LOCK_CHANGE, {"id": 0}),
        (GOV_CHANGE, {"id": 0}),
        (
            GOV_WRITE_CHANGE,
            {
                "id": 0,
                "ref": NO_REF,
                "status": "approved",
                "seq": 0,
                "data": live["meta"] * 4,
                "event_key": NO_REF,
                "event": live["meta"],
                "outbox": [],
            },
        ),
    ]
    return out


def plan(
    conn: Neo4jSession, gen: str, requests: bool = True, stop: threading.Event | None = None
) -> Planned:
    """Have the server plan the statements of a change on the live generation ``gen`` (see
    the module docstring); one session, one round trip per statement. ``requests``: those
    of an applied change request too (a server's), not only a delta load's. ``stop``: set,
    no further statement is sent (the store is closing)."""
    started = time.perf_counter()
    sent = 0
    try:
        conn.ensure_schema()
        with conn.driver.session(
            database=conn.database, default_access_mode=neo4j.WRITE_ACCESS
        ) as session:
            live: dict[str, str] = {}
            for query, params in [*reads(None, requests), *reads(gen, requests)]:
                if stop is not None and stop.is_set():
                    return Planned(sent, None)
                record = session.run(query, params).single()
                if query == cy.GET_META and record is not None and record["rows"]:
                    row = record["rows"][0]
                    live = {k: str(row.get(k) or "") for k in LIVE_STRINGS}
                sent += 1
            for query, params in writes(gen, live or dict.fromkeys(LIVE_STRINGS, ""), requests):
                if stop is not None and stop.is_set():
                    return Planned(sent, None)
                session.run(f"EXPLAIN {query}", params).consume()
                sent += 1
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, StoreError, OSError):
        return Planned(sent, None)
    return Planned(sent, time.perf_counter() - started)
