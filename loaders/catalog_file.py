"""Reading one catalog file: its size, its encoding and its YAML, each problem reported at
its line with what to do. :mod:`loaders.catalog` assembles the catalog from such files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

import yaml

from loaders.yaml_lines import load_yaml

#: catalog files are small: a bigger one is a mistake (or an attack), refused before reading
MAX_FILE_BYTES = 8 * 1024 * 1024


class IssueFn(Protocol):
    """Where a problem goes: ``issue(file, line, message, hint)``."""

    def __call__(
        self, file: str, line: int | None, message: str, hint: str | None = None
    ) -> None: ...


def read_catalog_file(path: Path, rel: str, issue: IssueFn) -> Any | None:
    """The YAML of one catalog file (mappings and lists that remember their lines), or
    ``None`` with the problem reported through ``issue(file, line, message, hint)``: too
    large, binary, not UTF-8 (the offending byte's line), broken YAML (its line, and a hint
    for the usual slips: tabs, a key indented too far, an unquoted ': ')."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        issue(rel, None, f"cannot read file: {exc.strerror}")
        return None
    if size > MAX_FILE_BYTES:
        issue(
            rel,
            None,
            f"file is {size / 1_048_576:.1f} MiB; catalog files are limited to "
            f"{MAX_FILE_BYTES // 1_048_576} MiB",
            "split it: metrics into several files under metrics/, systems into sources/*.yaml",
        )
        return None
    data = path.read_bytes()
    if b"\x00" in data:
        issue(rel, None, "file is binary, not YAML text", "remove it or save it as UTF-8 YAML")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        issue(
            rel,
            line,
            f"file is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "save the file as UTF-8 (e.g. iconv -f GBK -t UTF-8)",
        )
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        at = mark.line + 1 if mark else None
        hint = _indent_hint(text, at) if "mapping values" in problem else None
        issue(rel, at, f"broken YAML: {problem}", hint or _yaml_hint(problem))
        return None
    except yaml.YAMLError as exc:
        issue(rel, None, f"broken YAML: {exc}")
        return None
    except RecursionError:
        issue(rel, None, "broken YAML: nested too deeply")
        return None


_KEY_LINE = re.compile(r"^( *)(?:- +)?([A-Za-z_][A-Za-z0-9_]*) *:(?: |$)")


def _indent_hint(text: str, line: int | None) -> str | None:
    """A hint when "mapping values are not allowed" comes from a key indented deeper than the
    key above it (a wrongly indented key), not from a value containing ': '.

    Examples
    --------
    >>> _indent_hint("id: atp\\nname: 客单价\\n  definition: 平均金额\\n", 3)
    "line 3: key 'definition' is indented 2 more spaces than 'name' above it; keys of one mapping must line up (remove the extra indentation)"
    >>> _indent_hint("id: atp\\nname: a: b\\n", 2) is None
    True
    """  # noqa: E501
    if line is None:
        return None
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    here = _KEY_LINE.match(lines[line - 1])
    if here is None:
        return None
    for prev in reversed(lines[: line - 1]):
        if not prev.strip() or prev.lstrip().startswith("#"):
            continue
        above = _KEY_LINE.match(prev)
        if above is None or prev.rstrip().endswith(":"):
            return None  # the line above opens a nested block or is not a key: no verdict
        extra = len(here.group(1)) - len(above.group(1))
        if extra <= 0:
            return None
        return (
            f"line {line}: key {here.group(2)!r} is indented {extra} more spaces than "
            f"{above.group(2)!r} above it; keys of one mapping must line up "
            "(remove the extra indentation)"
        )
    return None


def _yaml_hint(problem: str) -> str:
    if "\\t" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "appears twice" in problem:
        return "remove one of the two keys"
    if "mapping values" in problem:
        return "quote values that contain ': ' (e.g. \"a: b\")"
    return "check indentation and quoting near this line"
