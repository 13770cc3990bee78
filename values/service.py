"""What the CLI, the API and the pages share: which values engine serves a store, and the
reports (values, evaluation, explanation, quality) built the same way for all three.

Where the value data lives when serving from a store: the catalog directory the store was
loaded from (``source`` in the store's catalog metadata, recorded by ``kpigraph load``), or
``KPIGRAPH_VALUES_DIR`` when set (e.g. a Neo4j shared by API processes on other machines,
each with a checkout of the catalog). Definitions (formula, aggregation, sql) are read from
the store, so a change applied through governance is what values are computed with.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from analysis.evaluate import evaluate, trend
from analysis.explain import explain, expression_of
from analysis.quality import check_values
from core import i18n
from core.i18n import Said, _
from graph_schema.errors import InvalidQueryError, KpigraphError, NoTotalError, NoValuesError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.relations import Relation
from store.base import GraphStore, Walk
from values.definitions import StoreDefinitions
from values.engine import ValuesEngine


class NoValuesDirError(KpigraphError):
    """The store does not say where its catalog (and so its values) is."""

    code = "no_values_dir"


_CACHE: dict[tuple[str, str, tuple[Any, ...]], ValuesEngine] = {}
_LOCK = threading.RLock()
#: engine → requests using it now (leases); a replaced engine in use waits in _RETIRED and is
#: closed when its last lease ends, never under a request
_USERS: dict[int, int] = {}
_RETIRED: dict[int, ValuesEngine] = {}


def values_root(store: GraphStore, values_dir: Path | None = None) -> Path:
    if values_dir is not None:
        return Path(values_dir)
    source = store.info().meta.get("source")
    if not source:
        raise NoValuesDirError(
            _(
                "the store does not record the catalog directory its values are in; set "
                "KPIGRAPH_VALUES_DIR to the catalog directory"
            )
        )
    return Path(source)


def _signature(root: Path) -> tuple[Any, ...]:
    out = []
    for folder in ("values", "targets", "data", ".kpigraph-cache"):  # + the values cache
        base = root / folder
        if base.is_dir():
            for p in sorted(base.rglob("*")):
                if p.is_file():
                    st = p.stat()
                    out.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(out)


def engine_for(store: GraphStore, values_dir: Path | None = None) -> ValuesEngine:
    """The values engine for ``store``: built once, rebuilt when the data files or the loaded
    graph change."""
    root = values_root(store, values_dir)
    # the generation, not the load time: two writes within one second (a load, then an applied
    # change) are two graphs, and the second must not be answered with the first's definitions
    key = (str(root.resolve()), store.generation, _signature(root))
    with _LOCK:
        engine = _CACHE.get(key)
        if engine is None:
            for old in [k for k in _CACHE if k[0] == key[0]]:
                _retire(_CACHE.pop(old))
            engine = ValuesEngine(root, StoreDefinitions(store))
            _CACHE[key] = engine
        elif isinstance(engine.defs, StoreDefinitions):
            engine.defs.use(store)  # the handle of this request (same load: same definitions)
        return engine


def _retire(engine: ValuesEngine) -> None:
    """Close a replaced engine now if nobody uses it, else when its last lease ends."""
    if _USERS.get(id(engine), 0):
        _RETIRED[id(engine)] = engine
    else:
        engine.close()


@contextlib.contextmanager
def engine_lease(store: GraphStore, values_dir: Path | None = None) -> Iterator[ValuesEngine]:
    """:func:`engine_for`, held for the ``with`` block: while a request uses an engine, a
    reload or an applied change that replaces it does not close it (the API's way; the CLI,
    one question per process, may call :func:`engine_for`)."""
    with _LOCK:
        engine = engine_for(store, values_dir)
        _USERS[id(engine)] = _USERS.get(id(engine), 0) + 1
    try:
        yield engine
    finally:
        with _LOCK:
            left = _USERS[id(engine)] - 1
            if left:
                _USERS[id(engine)] = left
            else:
                del _USERS[id(engine)]
                retired = _RETIRED.pop(id(engine), None)
                if retired is not None:
                    retired.close()


def values_report(
    engine: ValuesEngine,
    metric_id: str,
    by: str | None = None,
    start: str | None = None,
    end: str | None = None,
    period_grain: str | None = None,
) -> dict[str, Any]:
    """Values of a metric by period (as stored, or rolled up to ``period_grain``: quarter,
    week, fiscal_year … by the metric's aggregation), by one dimension's members if asked."""
    metric = engine.metric(metric_id)
    grain = (by,) if by else ()
    if period_grain is not None:
        start, end = _grain_range(engine, metric_id, period_grain, start, end)
    frame = engine.frame(metric_id, grain, start=start, end=end)
    rows = [
        {"period": p, **({by: key[0]} if by else {}), "value": v}
        for key in sorted(frame)
        for p, v in sorted(frame[key].items())
    ]
    rows.sort(key=lambda r: (r["period"], str(r.get(by or "", ""))))
    partial = {
        p: list(c)
        for p, c in engine.coverage(metric_id, {str(r["period"]) for r in rows}).items()
        if c[0] < c[1]
    }
    return {
        "metric": metric_id,
        "name": metric.name,
        "unit": metric.unit,
        "source": engine.source(metric_id),
        "by": by,
        "rows": rows,
        # periods of a coarser grain that their stored months/days do not fill: [have, of]
        **({"partial": partial} if partial else {}),
        **fetched(engine, [metric_id, *engine.inputs(metric)]),
    }


def fetched(engine: ValuesEngine, metric_ids: Sequence[str]) -> dict[str, Any]:
    """When values of these metrics that came from the values cache were fetched, and whether
    they are stale (older than their ``update_frequency``): ``{"fetched": {...}}`` or ``{}``."""
    import datetime as dt

    found = {
        m: {
            "fetched_at": dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds"),
            "stale": stale,
        }
        for m in metric_ids
        if (hit := engine.fetched.get(m)) is not None
        for at, stale in [hit]
    }
    return {"fetched": found} if found else {}


def eval_report(
    engine: ValuesEngine, metric_id: str, period: str, by: str | None = None
) -> dict[str, Any]:
    check_period(engine, metric_id, period)  # a month without values names those with them
    report = evaluate(engine, metric_id, period, by=by)
    metric = engine.metric(metric_id)  # values read from the cache say when they were fetched
    return report | fetched(engine, [metric_id, *engine.inputs(metric)])


def _cause_edges(store: GraphStore, engine: ValuesEngine, metric_id: str) -> list[dict[str, Any]]:
    effects = [metric_id]
    found = expression_of(engine.metric(metric_id))
    if found is not None:
        effects += [n for n, _ in found[1].inputs()]
    refs = [NodeRef(NodeKind.METRIC, m) for m in effects]
    edges = store.edges_of(refs, Walk.BACKWARD, [Relation.CAUSES])
    return [
        {"cause": e.source.id, "effect": e.target.id, "polarity": e.props.get("polarity", "+"),
         "lag": e.props.get("lag")}
        for e in edges
        if e.source.kind is NodeKind.METRIC
    ]  # fmt: skip


def explain_report(
    store: GraphStore,
    engine: ValuesEngine,
    metric_id: str,
    period: str,
    base: str | None = None,
    by: Sequence[str] | None = None,
    depth: int = 3,
    localize: bool = False,
) -> dict[str, Any]:
    """The explanation as JSON (what the CLI prints with ``--json``, the API returns and the
    page draws); ``localize`` adds ``root_causes`` (:mod:`analysis.localize`). ``base``
    ``None``: the period before, of the period's grain (:meth:`Calendar.step_base` — the one
    default of page, API, CLI and MCP)."""
    if not 1 <= depth <= 6:
        raise InvalidQueryError(_("depth must be between 1 and 6"))
    if base is None:
        base = engine.calendar.step_base(period)
    by = check_dimensions(store, by or ())
    check_period(engine, metric_id, period)

    def series(mid: str) -> dict[str, float]:
        try:
            return engine.frame(mid).get((), {})
        except InvalidQueryError:
            return {}

    result = explain(
        engine, metric_id, period, base, by=by, depth=depth,
        causes=_cause_edges(store, engine, metric_id), series=series, localize=localize,
    )  # fmt: skip
    return result.to_json() | fetched(engine, sorted(engine.fetched))


def _grain_range(
    engine: ValuesEngine, metric_id: str, period_grain: str, start: str | None, end: str | None
) -> tuple[str, str]:
    """``start`` … ``end`` as periods of ``period_grain`` (a missing end: the first or last
    period of that grain holding the metric's values)."""
    import difflib

    from graph_schema.calendar import GRAINS
    from values.errors import UnknownNameError

    cal = engine.calendar
    if period_grain not in GRAINS:
        close = difflib.get_close_matches(period_grain, GRAINS, n=3, cutoff=0.5)
        hint = _("; did you mean {names}?", names=_(", ").join(close)) if close else ""
        raise UnknownNameError(
            _(
                "grain {grain} is not one of {grains}",
                grain=repr(period_grain),
                grains=_(", ").join(GRAINS),
            )
            + hint,
            {"grain": period_grain, "suggestions": close, "grains": list(GRAINS)},
        )
    ends = [start, end]
    if start is None or end is None:
        stored = engine.periods(metric_id)
        if not stored:
            raise NoValuesError(
                _("metric {metric} has no values", metric=repr(metric_id)), {"metric": metric_id}
            )
        days = cal.parse(stored[0]).start, cal.parse(stored[-1]).end
        ends = [e or cal.period_of(d, period_grain).text for e, d in zip(ends, days, strict=True)]
    first, last = (cal.parse(e or "") for e in ends)
    if first.grain != period_grain or last.grain != period_grain:
        raise InvalidQueryError(
            _(
                "from/to ({text}, {text2}) must be {period_grain} periods",
                text=first.text,
                text2=last.text,
                period_grain=period_grain,
            ),
            {"grain": period_grain},
        )
    return first.text, last.text


def check_period(engine: ValuesEngine, metric_id: str, period: str) -> None:
    """``period`` has values of the metric; else :class:`NoValuesError` naming the months
    that have them (never a silent empty answer)."""
    import re

    try:
        periods = sorted(engine.periods(metric_id))
    except NoTotalError:
        return  # a rate by members only: eval --by asks them; the total says what to do
    except NoValuesError:
        raise  # none at all, and why (its connection variable is not set …)
    except InvalidQueryError:
        return  # explain says what is wrong itself
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", period):
        return  # not a month: explain says how to write one
    if periods and period not in periods:
        raise NoValuesError(
            _(
                "no values of {metric} for {period}; it has values for {first} … {last} "
                "({n} months)",
                metric=metric_id,
                period=period,
                first=periods[0],
                last=periods[-1],
                n=len(periods),
            ),
            {"metric": metric_id, "period": period, "periods": [periods[0], periods[-1]]},
        )


def check_dimensions(store: GraphStore, names: Sequence[str]) -> list[str]:
    """The dimension ids ``names`` mean (an id, or a dimension's name or English name);
    :class:`UnknownNameError` naming the close ones for any other name (``shop`` → ``store``)."""
    import difflib

    from analysis.cjk_match import similarity
    from graph_schema.ids import NodeKind
    from store.base import SearchQuery
    from values.errors import UnknownNameError

    if not names:
        return []
    dims = store.search(SearchQuery(kinds=frozenset({NodeKind.DIMENSION}), limit=1000)).items
    known = {d.id for d in dims}
    by_name = {
        w.strip().lower(): d.id
        for d in dims
        for w in (d.id, d.name, getattr(d, "name_en", None) or "")
        if w
    }
    ids: list[str] = []
    for name in names:
        if name.strip().lower() in by_name:
            ids.append(by_name[name.strip().lower()])
            continue

        def score(d: Any, name: str = name) -> float:
            words = [d.id, d.name, getattr(d, "name_en", None) or ""]
            return max(similarity(name, w) for w in words if w)

        ranked = sorted(dims, key=lambda d: -score(d))
        close = [d.id for d in ranked if score(d) >= 0.4][:3] or difflib.get_close_matches(
            name, sorted(known), n=3, cutoff=0.0
        )
        hint = _("; did you mean {names}?", names=_(", ").join(close)) if close else ""
        raise UnknownNameError(
            _("no dimension {name} in the catalog", name=repr(name))
            + hint
            + _(" (dimensions: {dimensions})", dimensions=_(", ").join(sorted(known))),
            {"dimension": name, "suggestions": close, "dimensions": sorted(known)},
        )
    return ids


#: how much a finding matters: a value that disagrees with its own formula or a month that is
#: missing is a data slip to fix (warning); an unusual move is worth a look (info). Errors are
#: what makes the values unusable (invalid files raise before any finding).
SEVERITY = {
    "identity": "warning",
    "missing_period": "warning",
    "benchmark": "info",
    "anomaly": "info",
}
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
_CHECK_RANK = {"identity": 0, "missing_period": 1, "benchmark": 2, "anomaly": 3}
_MISSING_TABLE = re.compile(
    r"Table with name (\w+) does not exist|table '(\w+)' is not a table of the catalog"
)


def _note(metric_id: str, why: str | Said) -> str:
    """An engine's note in one clear sentence (never a raw engine error), in the language in
    use (the note is kept worded in none: :attr:`values.engine.ValuesEngine.notes`)."""
    with i18n.use("en"):  # which table is missing, read off the English wording
        english = str(why)
    missing = _MISSING_TABLE.search(english)
    if missing:
        return _(
            "{metric}: its SQL reads table {table!r}, which data/ does not have (add the file, or "
            "give the metric observed values)",
            metric=metric_id,
            table=missing.group(1) or missing.group(2),
        )
    return _("{metric}: {problem}", metric=metric_id, problem=str(why))


def quality_report(engine: ValuesEngine, metric_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Findings ranked: data slips (identity mismatches, missing months) first, then benchmark
    and anomaly findings; each with a ``severity``. Notes are sentences, not engine errors."""
    ids = list(metric_ids) if metric_ids is not None else engine.defs.all_metric_ids()
    findings = [
        {**f, "severity": SEVERITY.get(f["check"], "info")} for f in check_values(engine, ids)
    ]
    findings.sort(
        key=lambda f: (SEVERITY_RANK[f["severity"]], _CHECK_RANK.get(f["check"], 9))
    )  # stable: within a check, the checks' own order
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["check"]] = counts.get(f["check"], 0) + 1
    notes = [_note(mid, why) for mid, why in sorted(engine.notes.items()) if mid in ids]
    return {"findings": findings, "counts": counts, "notes": notes}


def _closure(engine: ValuesEngine, metric_id: str) -> set[str]:
    """``metric_id`` and every metric its formula reaches."""
    seen: set[str] = set()
    todo = [metric_id]
    while todo and len(seen) < 1000:
        mid = todo.pop()
        if mid in seen:
            continue
        seen.add(mid)
        try:
            todo.extend(engine.inputs(engine.metric(mid)))
        except KpigraphError:
            continue
    return seen


def metric_panel(engine: ValuesEngine, metric_id: str) -> dict[str, Any] | None:
    """What the metric page shows: the latest value, a 13-month trend, the evaluation of the
    latest month and the quality findings; ``None`` when the metric has no values."""
    try:
        if engine.source(metric_id) is None:
            return None
        points = trend(engine, metric_id)
    except InvalidQueryError:
        return None
    if not points:
        return None
    latest = points[-1][0]
    return {
        "period": latest,
        "trend": points,
        "eval": evaluate(engine, metric_id, latest),
        "findings": check_values(engine, [metric_id]),
        "source": engine.source(metric_id),
        # the metric and its inputs (inputs of inputs too) read from the values cache
        "fetched": fetched(engine, sorted(_closure(engine, metric_id))).get("fetched", {}),
    }
