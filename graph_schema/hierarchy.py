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

from core.i18n import _
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
                _(
                    "{dimension}: {level} {member} is not in the mapping {file}; add a row for "
                    "it (columns {columns})",
                    dimension=self.dimension,
                    level=level,
                    member=repr(member),
                    file=self.source,
                    columns=", ".join(self.levels),
                ),
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
            _(
                "{dimension}: mapping file {file} {problem}; {advice}",
                dimension=dimension,
                file=rel,
                problem=_(LINKED_OUT),
                advice=_(ADVICE),
            ),
            {"dimension": dimension},
        )
    if not file.is_file():
        raise HierarchyError(
            _(
                "{dimension}: mapping file {file} not found in {root}",
                dimension=dimension,
                file=rel,
                root=root,
            ),
            {"dimension": dimension},
        )
    if file.stat().st_size > MAX_MAPPING_BYTES:
        raise HierarchyError(_("{file}: larger than {n} bytes", file=rel, n=MAX_MAPPING_BYTES))
    text = file.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = [lv for lv in levels if lv not in (reader.fieldnames or [])]
    if missing:
        raise HierarchyError(
            _(
                "{file}:1: no column {columns}; give one column per level ({levels})",
                file=rel,
                columns=", ".join(missing),
                levels=", ".join(levels),
            ),
            {"dimension": dimension},
        )
    out = Hierarchy(dimension, list(levels), {lv: {} for lv in levels}, rel)
    for line, row in enumerate(reader, start=2):
        cells = tuple((row.get(lv) or "").strip() for lv in levels)
        if not all(cells):
            raise HierarchyError(
                _("{file}:{line}: every level needs a member", file=rel, line=line), {"line": line}
            )
        for i, lv in enumerate(levels):
            path = cells[: i + 1]
            known = out.paths[lv].setdefault(cells[i], path)
            if known != path:
                raise HierarchyError(
                    _(
                        "{file}:{line}: {level} {member} lies under {here} here and under "
                        "{before} before; a member has one parent",
                        file=rel,
                        line=line,
                        level=lv,
                        member=repr(cells[i]),
                        here=" / ".join(path[:-1]),
                        before=" / ".join(known[:-1]),
                    ),
                    {"line": line},
                )
    return out
