"""Dimension hierarchies: ``region: levels: [war_zone, province, city]``.

From the seeds: seed 002 "地域维度：省、市、区 … 时间维度：年份、季度、月度、日"; seed 000 slices
its reports by "时间、战区、区域 / 省份、经销商" — 区域: 战区 → 省份 → 城市.

A hierarchy's members are paths (``("南区", "广东", "深圳")``). The values give either a
column per level (each level is a dimension of the data), or only some level's column and a
mapping file (``mapping: dims/region.csv``, one column per level, one row per finest member)
that places each member under its parents. A member that lies under two parents, or that the
mapping lacks, is an error naming it (never a silently dropped number).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from graph_schema.confined import ADVICE, LINKED_OUT, escapes
from graph_schema.errors import InvalidQueryError

#: largest mapping file read
MAX_MAPPING_BYTES = 16 * 1024 * 1024


class HierarchyError(InvalidQueryError):
    """A hierarchy's mapping is missing, inconsistent or lacks a member of the data."""

    code = "hierarchy"


@dataclass
class Hierarchy:
    dimension: str
    #: level dimension ids, coarsest first
    levels: list[str]
    #: level → member → its path (coarsest level first, ending with the member); from the
    #: mapping file, ``{}`` when the values carry a column per level
    paths: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    #: where the mapping came from (for messages)
    source: str | None = None

    def path_of(self, level: str, member: str) -> tuple[str, ...]:
        """The path of ``member`` of ``level``.

        Raises
        ------
        HierarchyError
            The mapping does not list it.
        """
        found = self.paths.get(level, {}).get(member)
        if found is None:
            raise HierarchyError(
                f"{self.dimension}: {level} {member!r} is not in the mapping {self.source}; "
                f"add a row for it (columns {', '.join(self.levels)})",
                {"dimension": self.dimension, "level": level, "member": member},
            )
        return found


def read_mapping(dimension: str, levels: list[str], root: Path, rel: str) -> Hierarchy:
    """The hierarchy of ``dimension`` from the mapping file ``root/rel``.

    Raises
    ------
    HierarchyError
        The file is missing, outside ``root``, too large, lacks a level's column, leaves a cell
        empty or places a member under two parents (file:line).
    """
    file = root / rel
    if escapes(root, file):  # a symbolic link out (the model refuses "..", absolute paths)
        raise HierarchyError(
            f"{dimension}: mapping file {rel} {LINKED_OUT}; {ADVICE}", {"dimension": dimension}
        )
    if not file.is_file():
        raise HierarchyError(
            f"{dimension}: mapping file {rel} not found in {root}", {"dimension": dimension}
        )
    if file.stat().st_size > MAX_MAPPING_BYTES:
        raise HierarchyError(f"{rel}: larger than {MAX_MAPPING_BYTES} bytes")
    text = file.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = [lv for lv in levels if lv not in (reader.fieldnames or [])]
    if missing:
        raise HierarchyError(
            f"{rel}:1: no column {', '.join(missing)}; give one column per level "
            f"({', '.join(levels)})",
            {"dimension": dimension},
        )
    out = Hierarchy(dimension, list(levels), {lv: {} for lv in levels}, rel)
    for line, row in enumerate(reader, start=2):
        cells = tuple((row.get(lv) or "").strip() for lv in levels)
        if not all(cells):
            raise HierarchyError(f"{rel}:{line}: every level needs a member", {"line": line})
        for i, lv in enumerate(levels):
            path = cells[: i + 1]
            known = out.paths[lv].setdefault(cells[i], path)
            if known != path:
                raise HierarchyError(
                    f"{rel}:{line}: {lv} {cells[i]!r} lies under {' / '.join(path[:-1])} here "
                    f"and under {' / '.join(known[:-1])} before; a member has one parent",
                    {"line": line},
                )
    return out
