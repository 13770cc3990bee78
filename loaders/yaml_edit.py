"""Minimal edits of hand-written YAML: replace (or add) one list under one key of one mapping,
leaving every other byte of the file — comments, quoting, order, blank lines — as it was.

The edit is checked by parsing the result: everything but the edited key must read back equal,
and the key must read back as the new list; otherwise :class:`YamlEditError` and nothing is
returned to write.

Examples
--------
>>> text = "# 客单价\\nid: atp\\nname: 客单价  # keep me\\nfields: [a.b.c]\\nsql: SELECT 1\\n"
>>> print(set_list(text, 2, "fields", ["a.b.c", "a.b.d"]), end="")
# 客单价
id: atp
name: 客单价  # keep me
fields: [a.b.c, a.b.d]
sql: SELECT 1
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from core.i18n import _
from loaders.yaml_lines import LDict, LList, load_yaml

_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class YamlEditError(ValueError):
    """The file cannot be edited safely in place (the message says where and why)."""


def _scalar(value: str) -> str:
    """``value`` as a YAML string: plain when it reads back as that string (``yes``, ``null``,
    ``0x1``, ``2024-01-01`` would be a boolean, null, number or date), else double-quoted."""
    if _SAFE.match(value) and yaml.safe_load(value) == value:
        return value
    return '"' + value.replace('"', '\\"') + '"'


def _find_mapping(data: Any, line: int) -> LDict | None:
    """The mapping that starts at ``line`` (1-based) anywhere inside ``data``."""
    if isinstance(data, LDict):
        if data.line == line:
            return data
        children: Any = data.values()
    elif isinstance(data, LList):
        children = data
    else:
        return None
    for child in children:
        found = _find_mapping(child, line)
        if found is not None:
            return found
    return None


def _mapping_at(text: str, line: int, where: str) -> LDict:
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise YamlEditError(
            _("{where}: the file does not parse as YAML: {error}", where=where, error=exc)
        ) from exc
    found = _find_mapping(data, line)
    if found is None:
        raise YamlEditError(_("{where}: no mapping starts at line {line}", where=where, line=line))
    return found


def set_list(text: str, line: int, key: str, values: list[str], where: str = "file") -> str:
    """``text`` with ``key`` of the mapping starting on ``line`` set to ``values``."""
    before = _mapping_at(text, line, where)
    lines = text.splitlines(keepends=True)
    if key in before:
        lines = _replace(lines, before.key_lines[key], key, values, where)
    else:
        lines = _insert(lines, before, key, values, where)
    out = "".join(lines)
    after = _mapping_at(out, line, where)
    expected = {k: v for k, v in before.items() if k != key}
    if {k: v for k, v in after.items() if k != key} != expected or after.get(key) != values:
        raise YamlEditError(
            _(
                "{where}:{line}: could not edit {key} in place; edit it by hand",
                where=where,
                line=line,
                key=repr(key),
            )
        )
    return out


def _replace(lines: list[str], key_line: int, key: str, values: list[str], where: str) -> list[str]:
    i = key_line - 1
    current = lines[i]
    match = re.search(rf"(?<![\w.-]){re.escape(key)}\s*:\s*", current)
    if match is None:
        raise YamlEditError(
            _(
                "{where}:{key_line}: cannot find '{key}:' on its line",
                where=where,
                key_line=key_line,
                key=key,
            )
        )
    rest = current[match.end() :]
    flow = "[" + ", ".join(_scalar(v) for v in values) + "]"
    if rest.startswith("["):  # flow list: [a, b] (on this line)
        close = rest.find("]")
        if close < 0:
            raise YamlEditError(
                _(
                    "{where}:{key_line}: a '{key}' list over several lines; edit it",
                    where=where,
                    key_line=key_line,
                    key=key,
                )
            )
        lines[i] = current[: match.end()] + flow + rest[close + 1 :]
        return lines
    if rest.strip() and not rest.lstrip().startswith("#"):
        raise YamlEditError(
            _(
                "{where}:{key_line}: '{key}' is not a list; edit it by hand",
                where=where,
                key_line=key_line,
                key=key,
            )
        )
    key_indent = len(current) - len(current.lstrip(" -"))
    end = i + 1
    item_prefix: str | None = None
    while end < len(lines):
        body = lines[end]
        stripped = body.strip()
        indent = len(body) - len(body.lstrip(" "))
        if stripped and not stripped.startswith("#"):
            is_item = stripped.startswith("- ") or stripped == "-"
            if indent < key_indent or (indent == key_indent and not is_item):
                break
            if item_prefix is None and is_item:
                item_prefix = body[:indent] + "- "
        end += 1
    while end > i + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1  # blank lines and comments after the list belong to what follows
    nl = "\r\n" if current.endswith("\r\n") else "\n"
    if not values:
        lines[i] = current[: match.end()].rstrip() + " []" + _eol(current)
        return lines[: i + 1] + lines[end:]
    prefix = item_prefix or " " * (key_indent + 2) + "- "
    kept_comments: list[str] = []
    by_value: dict[str, str] = {}
    for body in lines[i + 1 : end]:
        stripped = body.strip()
        if stripped.startswith("#"):
            kept_comments.append(body)  # a comment inside the list stays, at its top
        elif stripped.startswith("- "):
            value = stripped[2:].split(" #", 1)[0].strip().strip("'\"")
            by_value.setdefault(value, body)  # an item that stays keeps its line and comment
    items = [by_value.get(v) or prefix + _scalar(v) + nl for v in values]
    return lines[: i + 1] + kept_comments + items + lines[end:]


def _eol(line: str) -> str:
    return "\n" if line.endswith("\n") else ""


def _insert(lines: list[str], mapping: LDict, key: str, values: list[str], where: str) -> list[str]:
    """Add ``key: [..]`` to a block mapping, just before its ``sql`` key (else after its last)."""
    anchor = "sql" if "sql" in mapping else None
    if anchor is None:
        raise YamlEditError(
            _(
                "{where}:{line}: no 'sql' key to put '{key}' next to",
                where=where,
                line=mapping.line,
                key=key,
            )
        )
    at = mapping.key_lines[anchor] - 1
    line = lines[at]
    head = re.match(rf"^(\s*)(- )?{re.escape(anchor)}\s*:", line)
    if head is None:
        raise YamlEditError(
            _(
                "{where}:{value}: the metric is written as one flow mapping {{...}}; add "
                "'{key}:' by hand",
                where=where,
                value=at + 1,
                key=key,
            )
        )
    indent = " " * (len(head.group(1)) + (2 if head.group(2) else 0))
    flow = "[" + ", ".join(_scalar(v) for v in values) + "]"
    nl = "\r\n" if line.endswith("\r\n") else "\n"
    if head.group(2):  # '- sql:' starts the item: move the dash onto the new first key
        lines[at] = indent + line[len(head.group(0)) - len(anchor) - 1 :]
        return [*lines[:at], head.group(1) + "- " + f"{key}: {flow}{nl}", *lines[at:]]
    return [*lines[:at], f"{indent}{key}: {flow}{nl}", *lines[at:]]


def rewrite_lists(root: Path, edits: list[tuple[str, int, str, list[str]]]) -> list[str]:
    """Apply ``(file, mapping line, key, values)`` edits under ``root``, all or nothing.

    Every new file text is computed and checked before the first byte is written; each file
    is then replaced atomically. Returns the files written. Raises :class:`YamlEditError`
    listing every edit that could not be made (and then nothing is written).
    """
    by_file: dict[str, list[tuple[int, str, list[str]]]] = {}
    for file, line, key, values in edits:
        by_file.setdefault(file, []).append((line, key, values))
    texts: dict[Path, str] = {}
    problems: list[str] = []
    for file, items in sorted(by_file.items()):
        path = root / file
        text = path.read_bytes().decode("utf-8")  # no newline translation: CRLF stays CRLF
        try:
            for line, key, values in sorted(items, key=lambda x: -x[0]):  # bottom up: lines hold
                text = set_list(text, line, key, values, where=file)
        except YamlEditError as exc:
            problems.append(str(exc))
            continue
        texts[path] = text
    if problems:
        raise YamlEditError("\n".join(problems))
    for path, text in texts.items():
        tmp = path.with_name(f".{path.name}.kpigraph-tmp")
        tmp.write_bytes(text.encode("utf-8"))
        os.replace(tmp, path)
    return [str(p.relative_to(root)) for p in texts]
