"""A changed metric file read item by item: only the metrics whose text changed are parsed.

A metric file of a large catalog holds many metrics (``metrics:`` then one ``- id: …`` item per
metric, each item starting at column 0). The per-file cache keeps the text a file had when it
was read (:class:`loaders.catalog_cache.FileEntry`); a delta (:mod:`loaders.partial`) splits the
old and the new text into their items, takes each item whose text is unchanged from the cached
nodes (its lines shifted where it moved), and parses and validates only the others — each as
the YAML of the whole file would give it, at the same lines. A file of another shape (one
metric, a flow list, anchors and aliases, tabs, several documents) is read whole as before.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from loaders.yaml_lines import LDict, LList, load_yaml

#: an anchor or an alias (an item could use another's): such a file is read whole
_ANCHOR = re.compile(r"(?:^|[\s\[{,:-])[&*][^\s,\]}]", re.M)
#: :data:`_ANCHOR` in two steps (its first alternative tried at every character cost a
#: 1,000-metric file ~0.01 s): the mark, then what precedes it
_ANCHOR_MARK = re.compile(r"[&*][^\s,\]}]")
_ANCHOR_AFTER = re.compile(r"[\s\[{,:-]")


def _has_anchor(text: str) -> bool:
    """Whether :data:`_ANCHOR` finds something in ``text``."""
    for m in _ANCHOR_MARK.finditer(text):
        at = m.start()
        if at == 0 or _ANCHOR_AFTER.match(text, at - 1):
            return True
    return False


def split_items(text: str) -> list[tuple[int, str]] | None:
    """``(first line, text)`` of each item of a ``metrics:`` file whose items start at
    column 0; ``None`` for a file of another shape.

    >>> split_items("metrics:\\n- id: a\\n  name: A\\n# note\\n- id: b\\n")
    [(2, '- id: a\\n  name: A\\n# note\\n'), (5, '- id: b\\n')]
    >>> split_items("id: a\\n") is None, split_items("metrics:\\n- &x {id: a}\\n- *x\\n") is None
    (True, True)
    """
    if "\t" in text or text.startswith("\ufeff") or _has_anchor(text):
        return None
    if any(c in text for c in _OTHER_BREAKS):
        return _split_lines(text)
    starts: list[int] = []  # offsets of the items' first lines
    for m in _COLUMN_0.finditer(text):
        found = m.group()
        if found.startswith("- ") or found == "-":
            starts.append(m.start())
        elif starts or found.startswith(("---", "...")):
            return None  # something else at column 0 after the items; a document marker
    if not starts:
        return None
    if _header(text[: starts[0]].splitlines(keepends=True)) != ["metrics:"]:
        return None
    out: list[tuple[int, str]] = []
    line, last = 1, 0
    for j, start in enumerate(starts):
        line += text.count("\n", last, start)
        last = start
        out.append((line, text[start : starts[j + 1] if j + 1 < len(starts) else len(text)]))
    return out


#: line breaks other than ``\n`` (``str.splitlines`` breaks there too): split line by line
_OTHER_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
#: a line with something other than a space or a comment at column 0
_COLUMN_0 = re.compile(r"^[^ #\n].*", re.M)


def _header(lines: list[str]) -> list[str]:
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _split_lines(text: str) -> list[tuple[int, str]] | None:
    """:func:`split_items` line by line (a text with other line breaks than ``\n``)."""
    lines = text.splitlines(keepends=True)
    starts: list[int] = []
    for i, line in enumerate(lines):
        if line.startswith("- ") or line.rstrip("\r\n") == "-":
            starts.append(i)
        elif line[:1] not in ("", " ", "#", "\n", "\r") and starts:
            return None  # something else at column 0 after the items
        elif line.startswith(("---", "...")):
            return None
    if not starts:
        return None
    if _header(lines[: starts[0]]) != ["metrics:"]:
        return None
    bounds = [*starts, len(lines)]
    return [(s + 1, "".join(lines[s : bounds[j + 1]])) for j, s in enumerate(starts)]


def parse_item(first_line: int, text: str) -> Any:
    """The item ``text`` (starting at line ``first_line`` of its file) as the whole file's
    YAML gives it: an :class:`LDict` with the file's lines (``None``: it does not parse alone;
    the caller reads the whole file)."""
    try:
        data = load_yaml("\n" * (first_line - 1) + text)
    except (yaml.YAMLError, RecursionError):
        return None
    if not isinstance(data, LList) or len(data) != 1:
        return None
    return data[0]


def shifted(value: Any, by: int) -> Any:
    """A copy of a YAML value read with lines (:class:`LDict` / :class:`LList`) whose lines
    are ``by`` further down."""
    if isinstance(value, LDict):
        out = LDict((k, shifted(v, by)) for k, v in value.items())
        out.line = value.line + by if value.line else value.line
        out.key_lines = {k: n + by for k, n in value.key_lines.items()}
        return out
    if isinstance(value, LList):
        items = LList(shifted(v, by) for v in value)
        items.line = value.line + by if value.line else value.line
        items.item_lines = [n + by for n in value.item_lines]
        return items
    return value
