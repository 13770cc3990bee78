"""Three-way comparison of metric definitions: the catalog files, the store, and their base.

``base`` is the graph as of the files' last load, ``files`` what the catalog files say now,
``store`` what the store holds now (change requests applied since the load). Per metric and
per field (nested mappings such as ``caliber`` field by field, ``caliber.numerator.excludes``):

* changed only in the store → ``to_files`` (``kpigraph pull`` writes it; a load must keep it);
* changed only in the files → ``to_load``;
* changed on both sides to the same value → nothing;
* changed on both sides to different values → a :class:`FieldConflict`.

A metric created or removed on one side is a whole-metric change (``store_op`` /
``files_op``); a deprecation is a change of ``status``. Missing, ``None``, ``[]``, ``{}`` and
``""`` are one and the same empty value.

Two fields are softer than the others, because they record history rather than meaning:

* ``version``: a file that declares none is versioned automatically on load, so its side is
  never a change; when both sides moved the version, the higher one wins (the load's version
  rules then ask for the bump the files' own changes need);
* ``history`` (版本记录): when both sides only appended entries, the result is the base's
  entries, the store's new ones, then the files' new ones.

Pure: no store, no files. Examples
--------
>>> base = {"atp": {"id": "atp", "unit": "CNY", "formula": "a / b"}}
>>> files = {"atp": {"id": "atp", "unit": "元", "formula": "a / b"}}
>>> store = {"atp": {"id": "atp", "unit": "CNY", "formula": "a / c"}}
>>> m = three_way(base, files, store).metrics["atp"]
>>> m.to_files, m.to_load, m.conflicts
({('formula',): 'a / c'}, {('unit',): '元'}, ())
>>> m.merged["formula"], m.merged["unit"]
('a / c', '元')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graph_schema.semver import compare, is_semver

Path = tuple[str, ...]
Props = Mapping[str, Any]

#: never compared: the metric's identity
IGNORED = frozenset({"id"})


def is_empty(value: Any) -> bool:
    """Missing, ``None``, ``[]``, ``{}`` and ``""`` are the same empty value."""
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


def normalized(value: Any) -> Any:
    """``value`` with empty entries dropped from every mapping (lists keep their items)."""
    if isinstance(value, Mapping):
        out = {str(k): normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not is_empty(v)}
    if isinstance(value, list | tuple):
        return [normalized(v) for v in value]
    return value


def flatten(props: Props | None) -> dict[Path, Any]:
    """Leaves of ``props`` by path: nested mappings are walked, anything else is a leaf.

    >>> flatten({"id": "a", "caliber": {"numerator": {"includes": ["x"]}, "time": ""}})
    {('id',): 'a', ('caliber', 'numerator', 'includes'): ['x']}
    """
    out: dict[Path, Any] = {}

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, Mapping) and (value or not path):
            for key, child in value.items():
                walk(child, (*path, str(key)))
        elif not is_empty(value):
            out[path] = value

    walk(normalized(props or {}), ())
    return out


def dotted(path: Path) -> str:
    return ".".join(path)


@dataclass(frozen=True)
class FieldConflict:
    """One field changed on both sides to different values."""

    metric: str
    field: str
    base: Any
    files: Any
    store: Any

    def describe(self) -> str:
        return (
            f"{self.metric}.{self.field}: the files say {_short(self.files)}, the store says "
            f"{_short(self.store)} (both changed it from {_short(self.base)})"
        )


def _short(value: Any, width: int = 60) -> str:
    text = "(empty)" if is_empty(value) else repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class MetricMerge:
    """What the three sides say about one metric.

    ``to_files`` / ``to_load``: path → new value (``None``: remove the key) for the changes
    only the store / only the files made. ``store_op`` / ``files_op``: ``created``,
    ``removed`` or ``modified`` relative to the base (``None``: unchanged). ``merged``: the
    metric with both sides' changes (``None`` when removed), meaningful without conflicts.
    """

    id: str
    to_files: dict[Path, Any] = field(default_factory=dict)
    to_load: dict[Path, Any] = field(default_factory=dict)
    conflicts: tuple[FieldConflict, ...] = ()
    store_op: str | None = None
    files_op: str | None = None
    merged: dict[str, Any] | None = None

    @property
    def store_fields(self) -> list[str]:
        """The fields the store changed and the files lack (dotted, sorted)."""
        return sorted(dotted(p) for p in self.to_files)


@dataclass(frozen=True)
class ThreeWay:
    """The comparison of every metric that differs somewhere (others are left out)."""

    metrics: dict[str, MetricMerge]

    @property
    def conflicts(self) -> list[FieldConflict]:
        return [c for m in self.metrics.values() for c in m.conflicts]

    @property
    def store_ahead(self) -> list[MetricMerge]:
        """Metrics with store changes the files lack (what a pull writes)."""
        return [m for m in self.metrics.values() if m.to_files]

    @property
    def files_ahead(self) -> list[MetricMerge]:
        return [m for m in self.metrics.values() if m.to_load]


def _op(before: Props | None, after: Props | None) -> str | None:
    if before is None and after is None:
        return None
    if before is None:
        return "created"
    if after is None:
        return "removed"
    return "modified" if flatten(before) != flatten(after) else None


def set_path(props: dict[str, Any], path: Path, value: Any) -> None:
    """Set (an empty ``value``: remove) the nested field ``path`` of ``props`` in place."""
    target = props
    for key in path[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = {}
            target[key] = child
        target = child
    if is_empty(value):
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


def _history_union(base: Any, files: Any, store: Any) -> list[Any] | None:
    """Both sides only appended to ``base``: base + store's new + files' new (else ``None``)."""
    b, f, s = (list(v) if isinstance(v, list) else [] for v in (base, files, store))
    if f[: len(b)] != b or s[: len(b)] != b:
        return None
    added = s[len(b) :]
    return b + added + [e for e in f[len(b) :] if e not in added]


def _newer(a: Any, b: Any) -> Any:
    """The higher of two versions (``b`` when they do not compare)."""
    if isinstance(a, str) and isinstance(b, str) and is_semver(a) and is_semver(b):
        return a if compare(a, b) > 0 else b
    return b


def compare_metric(
    metric_id: str, base: Props | None, files: Props | None, store: Props | None
) -> MetricMerge:
    """The three-way comparison of one metric (``None``: it does not exist on that side)."""
    store_op, files_op = _op(base, store), _op(base, files)
    if store_op is None and files_op is None:
        return MetricMerge(metric_id, merged=normalized(dict(files)) if files else None)
    if store is None or files is None:
        return _whole(metric_id, base, files, store, store_op, files_op)
    b, f, s = flatten(base), flatten(files), flatten(store)
    auto = is_empty(f.get(("version",)))  # the file lets the load choose the version
    to_files: dict[Path, Any] = {}
    to_load: dict[Path, Any] = {}
    conflicts: list[FieldConflict] = []
    for path in sorted(set(b) | set(f) | set(s)):
        if path[0] in IGNORED:
            continue
        bv, fv, sv = b.get(path), f.get(path), s.get(path)
        if path == ("version",) and auto:
            fv = bv if sv != bv else sv  # not a change of the files
        if fv == sv:
            continue
        if fv == bv:
            to_files[path] = sv
        elif sv == bv:
            to_load[path] = fv
        elif path == ("version",):
            newer = _newer(fv, sv)
            if newer == sv:
                to_files[path] = sv
        elif path == ("history",) and (union := _history_union(bv, fv, sv)) is not None:
            to_files[path] = to_load[path] = union
        else:
            conflicts.append(FieldConflict(metric_id, dotted(path), bv, fv, sv))
    if auto:
        to_files.pop(("version",), None)  # an automatic version stays automatic
    to_files = _outermost(to_files, f)
    merged = normalized(dict(files))
    for path, value in sorted(to_files.items()):
        set_path(merged, path, value)
    return MetricMerge(
        metric_id,
        to_files=to_files,
        to_load=to_load,
        conflicts=tuple(conflicts),
        store_op=store_op,
        files_op=files_op,
        merged=merged,
    )


def _outermost(changes: dict[Path, Any], files: dict[Path, Any]) -> dict[Path, Any]:
    """Changes under a path that is itself set are dropped (the outer value carries them);
    a leaf that became a mapping (or the reverse) is set whole at the shallowest path."""
    out = dict(changes)
    for path in list(out):
        for i in range(1, len(path)):
            prefix = path[:i]
            if prefix in files and prefix not in out:  # a leaf in the files became a mapping
                out[prefix] = None
    for path in list(out):
        if any(path[:i] in out and out[path[:i]] is not None for i in range(1, len(path))):
            del out[path]
    return out


def _whole(
    metric_id: str,
    base: Props | None,
    files: Props | None,
    store: Props | None,
    store_op: str | None,
    files_op: str | None,
) -> MetricMerge:
    """One side removed the metric, or the metric exists on one side only."""
    whole = ("*",)
    if files is None and store is None:  # removed on both sides
        return MetricMerge(metric_id, store_op=store_op, files_op=files_op)
    if base is None and files is None:  # created in the store only
        created = normalized(dict(store or {}))
        return MetricMerge(metric_id, {whole: created}, store_op=store_op, merged=created)
    if base is None and store is None:  # created in the files only
        created = normalized(dict(files or {}))
        return MetricMerge(metric_id, to_load={whole: created}, files_op=files_op, merged=created)
    if store is None and files_op is None:  # only the store removed it
        return MetricMerge(metric_id, {whole: None}, store_op=store_op)
    if files is None and store_op is None:  # only the files removed it
        return MetricMerge(metric_id, to_load={whole: None}, files_op=files_op)
    return _conflict(metric_id, base, files, store, store_op, files_op)


def _conflict(
    metric_id: str,
    base: Props | None,
    files: Props | None,
    store: Props | None,
    store_op: str | None,
    files_op: str | None,
) -> MetricMerge:
    what = {None: "(absent)", "removed": "(removed)"}
    conflict = FieldConflict(
        metric_id,
        "(the whole metric)",
        "(absent)" if base is None else "(defined)",
        what.get(files_op, "(changed)") if files is None or files_op else "(defined)",
        what.get(store_op, "(changed)") if store is None or store_op else "(defined)",
    )
    return MetricMerge(metric_id, conflicts=(conflict,), store_op=store_op, files_op=files_op)


def three_way(
    base: Mapping[str, Props], files: Mapping[str, Props], store: Mapping[str, Props]
) -> ThreeWay:
    """Compare every metric of the three sides (metric id → properties)."""
    out: dict[str, MetricMerge] = {}
    for metric_id in sorted(set(base) | set(files) | set(store)):
        merge = compare_metric(
            metric_id, base.get(metric_id), files.get(metric_id), store.get(metric_id)
        )
        if merge.to_files or merge.to_load or merge.conflicts:
            out[metric_id] = merge
    return ThreeWay(out)
