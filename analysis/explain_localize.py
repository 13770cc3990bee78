"""Explain, localised: the leaves of the metric across the chosen dimensions at the period and
its base, handed to :mod:`analysis.localize` (additive metrics: one measure; ratios of additive
metrics ``ΣN / ΣD``: numerator and denominator, deviated together)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from analysis.explain_dims import metric_kind, ratio_parts, summed_frames
from analysis.explain_types import PeriodPair, ValueSource
from analysis.localize import Cube, search
from analysis.localize_budget import check_size
from analysis.localize_columns import COLUMNAR_LEAVES, read_columnar
from analysis.localize_gate import slot
from analysis.localize_report import describe, explained_share
from core.i18n import _, percent
from graph_schema.errors import InvalidQueryError
from graph_schema.models import Metric

log = logging.getLogger("kpigraph.localize")


def dimension_words(source: ValueSource, dims: Sequence[str]) -> list[str]:
    """The dimensions' names (门店, 工单类型) when the source knows them, else their ids."""
    lookup = getattr(getattr(source, "defs", None), "dimensions", None)
    if lookup is None:
        return list(dims)
    try:
        found = lookup(dims)
    except Exception:  # a store that cannot answer: the ids still say which
        return list(dims)
    return [found[d].name if d in found else d for d in dims]


def localize_metric(
    source: ValueSource,
    pair: PeriodPair,
    metric: Metric,
    dims: Sequence[str],
    notes: list[str],
) -> list[dict[str, Any]]:
    """``root_causes`` of an explanation (see :mod:`analysis.localize`)."""
    if not dims:
        notes.append(_("localize: no dimensions to search — give some with --by (by=)"))
        return []
    kind = metric_kind(source, metric)
    if kind is None:
        raise InvalidQueryError(
            f"localize needs an additive metric or a ratio of additive metrics; {metric.name} "
            "is neither — localize one of its inputs instead"
        )
    if kind == "additive":
        parts: list[dict[str, float]] = [{metric.id: 1.0}]
    else:
        found = ratio_parts(metric)
        assert found is not None
        parts = [found[0], found[1]]
    usable, members = [], []
    for dim in dims:
        try:
            seen: set[tuple[str, ...]] = set()
            for terms in parts:
                now, old = summed_frames(pair, terms, (dim,))
                seen |= set(now) | set(old)
        except InvalidQueryError as exc:
            notes.append(
                _(
                    "localize: {dimension} left out — {why}",
                    dimension=dimension_words(source, [dim])[0],
                    why=exc.message,
                )
            )
            continue
        usable.append(dim)
        members.append(len(seen))
    if not usable:
        return []
    dims = usable
    with slot(math.prod(members)):  # huge cubes: a few at a time per process
        started = time.perf_counter()
        columnar = None
        if math.prod(members) >= COLUMNAR_LEAVES:  # millions of leaves: no Python object a leaf
            check_size(0, dims)  # too many dimensions: refused before reading
            columnar = read_columnar(source, pair, parts, dims)
        if columnar is not None:
            cube, missing, zero_base = columnar.cube, columnar.missing, columnar.zero_base
            check_size(len(cube.codes), dims)
            how = "column-wise"
        else:
            cube, missing, zero_base = _dictionary_cube(pair, parts, dims)
            how = "by dictionary"
        n = len(cube.codes)
        read = time.perf_counter() - started
        causes = search(cube)
        log.info(
            "localize: %d leaves × %d dimensions read %s in %.2f s, searched in %.2f s",
            n, len(dims), how, read, time.perf_counter() - started - read,
        )  # fmt: skip
    if missing:
        notes.append(
            _(
                "localize: {missing} of {n} member combinations have no value in one of the two "
                "periods; treated as 0 there",
                missing=missing,
                n=n,
            )
        )
    if zero_base:
        notes.append(
            _(
                "localize: {n} member combinations had nothing at the base (new): their expected "
                "value is 0",
                n=zero_base,
            )
        )
    share = explained_share(cube, causes)
    if causes and share is not None:
        notes.append(
            _(
                "localize: {n} root cause(s) across {dimensions} cover {share} of the leaves' "
                "absolute deviation from the base",
                n=len(causes),
                dimensions=_(", ").join(dimension_words(source, dims)),
                share=percent(share, digits=0),
            )
        )
    elif not causes:
        notes.append(
            _(
                "localize: no combination of members moved beyond the leaves' noise — no root "
                "cause set"
            )
        )
    return describe(cube, causes, ratio=kind == "ratio")


def _dictionary_cube(
    pair: PeriodPair, parts: Sequence[Mapping[str, float]], dims: Sequence[str]
) -> tuple[Cube, int, int]:
    """``(cube, leaves missing in a period, leaves new at the base)`` from the value source's
    frames as dictionaries (below :data:`COLUMNAR_LEAVES`, or where it has no tables)."""
    grain = tuple(dims)
    frames = [summed_frames(pair, terms, grain) for terms in parts]
    keys = sorted(set().union(*(set(now) | set(old) for now, old in frames)))
    check_size(len(keys), dims)
    missing = sum(1 for k in keys if any(k not in now or k not in old for now, old in frames))
    rows = {
        k: (
            [old.get(k, 0.0) for _, old in frames],
            [now.get(k, 0.0) for now, _ in frames],
        )
        for k in keys
    }
    zero_base = sum(1 for f, a in rows.values() if all(x == 0 for x in f) and any(a))
    return Cube.from_rows(dims, rows), missing, zero_base
